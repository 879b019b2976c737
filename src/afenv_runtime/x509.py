"""Just enough X.509 to check a grid proxy before it leaves the notebook: subject, validity and
VOMS attributes of the first certificate of a PEM file.

The worker image has no ``cryptography`` (and should not need it for this), so this reads the
DER structure itself: ``Certificate → TBSCertificate → validity, subject, extensions``. It
checks nothing cryptographically; the storage's GSI handshake does that.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["CertificateError", "CertificateFacts", "read_first_certificate"]

_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----\s+(.+?)\s+-----END CERTIFICATE-----", re.DOTALL)
# VOMS attribute certificate extension (RFC 3281 AC embedded by voms-proxy-init).
_VOMS_OID = "1.3.6.1.4.1.8005.100.100.5"
# Each FQAN is one OCTET STRING inside the AC: "/cms/Role=NULL/Capability=NULL". Matched against
# whole DER values, never raw bytes: the byte after a value (a tag such as "0") would run on.
_FQAN = re.compile(
    rb"/[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*/Role=[A-Za-z0-9._-]+/Capability=[A-Za-z0-9._-]+"
)
_NAMES = {
    "2.5.4.3": "CN",
    "2.5.4.6": "C",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "0.9.2342.19200300.100.1.25": "DC",
    "1.2.840.113549.1.9.1": "emailAddress",
}


class CertificateError(ValueError):
    """The file holds no readable certificate (the message never quotes its content)."""


@dataclass(frozen=True)
class CertificateFacts:
    subject: str  # OpenSSL's one-line form: /DC=org/O=Test/CN=user
    not_before: dt.datetime  # aware, UTC
    not_after: dt.datetime
    fqans: tuple[str, ...]  # VOMS attributes, empty for a plain proxy


def read_first_certificate(pem: bytes) -> CertificateFacts:
    match = _PEM.search(pem)
    if match is None:
        raise CertificateError("no PEM certificate in it")
    try:
        der = base64.b64decode(b"".join(match.group(1).split()), validate=True)
        return _facts(der)
    except (ValueError, IndexError) as error:
        raise CertificateError("its first certificate is not valid DER") from error


def _facts(der: bytes) -> CertificateFacts:
    _, certificate, _ = _element(der, 0)
    _, tbs, _ = _element(certificate, 0)
    fields = list(_children(tbs))
    if fields and fields[0][0] == 0xA0:  # explicit version
        fields = fields[1:]
    # serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo, [extensions]
    validity = [value for _, value in _children(fields[3][1])]
    subject = _name(fields[4][1])
    fqans: tuple[str, ...] = ()
    for tag, value in fields[6:]:
        if tag == 0xA3:  # [3] extensions
            _, extensions, _ = _element(value, 0)
            for _, extension in _children(extensions):
                parts = list(_children(extension))
                if _oid(parts[0][1]) == _VOMS_OID:
                    fqans = tuple(dict.fromkeys(_fqans(parts[-1][1])))
    return CertificateFacts(
        subject=subject,
        not_before=_time(validity[0]),
        not_after=_time(validity[1]),
        fqans=fqans,
    )


def _element(data: bytes, offset: int) -> tuple[int, bytes, int]:
    """(tag, content, offset after) of the DER element at ``offset``."""
    tag = data[offset]
    length = data[offset + 1]
    start = offset + 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    end = start + length
    if end > len(data):
        raise ValueError("truncated DER")
    return tag, data[start:end], end


def _fqans(content: bytes, depth: int = 0) -> Iterator[str]:
    """The FQANs among the DER values in ``content``, walking constructed values and octet
    strings that wrap DER (the extension's value itself is one)."""
    if depth > 32:  # an AC nests about ten deep; anything deeper is not one
        return
    try:
        children = list(_children(content))
    except (ValueError, IndexError):
        return  # an octet string that is not DER
    for tag, value in children:
        if tag == 0x04 and _FQAN.fullmatch(value):
            yield value.decode()
        elif tag & 0x20 or tag == 0x04:
            yield from _fqans(value, depth + 1)


def _children(content: bytes) -> Iterator[tuple[int, bytes]]:
    offset = 0
    while offset < len(content):
        tag, value, offset = _element(content, offset)
        yield tag, value


def _oid(content: bytes) -> str:
    first, rest = divmod(content[0], 40)
    parts = [min(first, 2), rest + (first - 2) * 40 if first > 2 else rest]
    value = 0
    for byte in content[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    return ".".join(str(p) for p in parts)


def _name(content: bytes) -> str:
    pieces = []
    for _, rdn in _children(content):
        for _, attribute in _children(rdn):
            (_, oid), (_, value) = list(_children(attribute))[:2]
            key = _NAMES.get(_oid(oid), _oid(oid))
            pieces.append(f"/{key}={value.decode('utf-8', 'replace')}")
    return "".join(pieces)


def _time(value: bytes) -> dt.datetime:
    text = value.decode("ascii")
    if len(text) == 13:  # UTCTime YYMMDDHHMMSSZ
        year = int(text[:2])
        text = f"{1900 + year if year >= 50 else 2000 + year}{text[2:]}"
    return dt.datetime.strptime(text, "%Y%m%d%H%M%SZ").replace(tzinfo=dt.UTC)

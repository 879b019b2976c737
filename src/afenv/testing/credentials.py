"""Throw-away grid credentials for tests, made with the real tools: openssl for a test CA and a
user certificate, xrdgsiproxy (xrootd-client) for an RFC 3820 proxy, openssl again for an
expired proxy signed by the same user.

Nothing here is ever committed: every call writes into the directory it is given (a pytest
temporary directory), and the keys die with it.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

USER_DN = "/DC=org/DC=afenv-test/CN=afenv test user"
CA_DN = "/DC=org/DC=afenv-test/CN=afenv test CA"
HOURS = 12


class ToolMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class Credentials:
    ca_dir: Path  # hashed CA directory, as /etc/grid-security/certificates
    ca_cert: Path
    ca_key: Path
    user_cert: Path
    user_key: Path
    proxy: Path  # valid for HOURS
    expired_proxy: Path


def make(directory: Path, *, user_dn: str = USER_DN) -> Credentials:
    for tool in ("openssl", "xrdgsiproxy"):
        if shutil.which(tool) is None:
            raise ToolMissing(f"{tool} is not installed (Debian: openssl, xrootd-client)")
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = directory / "ca.key", directory / "ca.pem"
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca_cert,
        "-subj", CA_DN, "-days", "2",
        "-addext", "basicConstraints=critical,CA:true",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    ca_dir = directory / "certificates"
    ca_dir.mkdir(exist_ok=True)
    digest = _openssl("x509", "-hash", "-noout", "-in", ca_cert).strip()
    shutil.copyfile(ca_cert, ca_dir / f"{digest}.0")
    # GSI checks a CA's namespace policy; this one lets the test CA sign its own subtree.
    (ca_dir / f"{digest}.signing_policy").write_text(
        f"access_id_CA X509 '{CA_DN}'\npos_rights globus CA:sign\n"
        "cond_subjects globus '\"/DC=org/DC=afenv-test/*\"'\n"
    )
    user_cert, user_key = _issue(
        directory, "usercert.pem", "userkey.pem", user_dn, (ca_cert, ca_key), serial=2
    )
    user_key.chmod(0o400)  # the grid tools refuse a readable key
    proxy = directory / "x509up_test"
    subprocess.run(
        ["xrdgsiproxy", "init", "-certdir", str(ca_dir), "-cert", str(user_cert),
         "-key", str(user_key), "-out", str(proxy), "-valid", f"{HOURS}:00"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return Credentials(
        ca_dir=ca_dir,
        ca_cert=ca_cert,
        ca_key=ca_key,
        user_cert=user_cert,
        user_key=user_key,
        proxy=proxy,
        expired_proxy=_expired_proxy(directory, user_cert, user_key, user_dn),
    )


def host_certificate(
    directory: Path, credentials: Credentials, names: list[str]
) -> tuple[Path, Path]:
    """A server certificate for ``names`` (CN the first, every name a DNS SAN), signed by the
    test CA: (certificate, key)."""
    extensions = (
        "subjectAltName=" + ",".join(f"DNS:{name}" for name in names) + "\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth,clientAuth\n"
    )
    issuer = (credentials.ca_cert, credentials.ca_key)
    subject = f"/DC=org/DC=afenv-test/CN={names[0]}"
    return _issue(
        directory, "hostcert.pem", "hostkey.pem", subject, issuer, serial=3, extensions=extensions
    )


def fake_cvmfs(directory: Path, credentials: Credentials, vo_files: Path | None = None) -> Path:
    """A /cvmfs tree whose grid.cern.ch holds the hashed test CA (and the VO files of an
    experiment's grid/ folder), readable by every user; returns the directory to mount at
    /cvmfs."""
    grid = directory / "grid.cern.ch" / "etc" / "grid-security"
    shutil.copytree(credentials.ca_dir, grid / "certificates")
    if vo_files is not None:
        shutil.copytree(vo_files / "grid-security" / "vomsdir", grid / "vomsdir")
        shutil.copytree(vo_files / "vomses", grid / "vomses")
    return readable(directory)


def readable(directory: Path) -> Path:
    """Make a tree readable by every user (a container's uid is not ours); returns it."""
    for path in [directory, *directory.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return directory


def _expired_proxy(directory: Path, user_cert: Path, user_key: Path, user_dn: str) -> Path:
    """A proxy certificate (proxyCertInfo, signed by the user) whose validity ended yesterday."""
    extensions = (
        "proxyCertInfo=critical,language:id-ppl-inheritAll\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
    )
    cert, key = _issue(
        directory, "ex.pem", "expired.key", f"{user_dn}/CN=4242", (user_cert, user_key),
        serial=4242, days=-1, extensions=extensions,
    )  # fmt: skip
    proxy = directory / "x509up_expired"
    proxy.write_bytes(cert.read_bytes() + key.read_bytes() + user_cert.read_bytes())
    proxy.chmod(0o600)
    return proxy


def _issue(
    directory: Path,
    cert_name: str,
    key_name: str,
    subject: str,
    issuer: tuple[Path, Path],
    *,
    serial: int,
    days: int = 1,
    extensions: str | None = None,
) -> tuple[Path, Path]:
    """A new key and a certificate for ``subject`` signed by ``issuer`` (certificate, key)."""
    cert, key = directory / cert_name, directory / key_name
    request = cert.with_suffix(".csr")
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", request, "-subj", subject
    )  # fmt: skip
    signing: list[str | Path] = [
        "-CA",
        issuer[0],
        "-CAkey",
        issuer[1],
        "-set_serial",
        str(serial),
        "-days",
        str(days),
    ]
    if extensions is not None:
        extension_file = cert.with_suffix(".cnf")
        extension_file.write_text(extensions)
        signing += ["-extfile", extension_file]
    _openssl("x509", "-req", "-in", request, *signing, "-out", cert)
    return cert, key


def _openssl(*arguments: str | Path) -> str:
    done = subprocess.run(
        ["openssl", *map(str, arguments)], check=True, capture_output=True, text=True
    )
    return done.stdout

"""The user's X509 proxy, found as the VOMS tools find it and checked before it goes anywhere.

No third-party import: the host's ``afenv validate --proxy`` checks a proxy with this too. The
proxy's content is never logged, printed or put in an exception.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from afenv_runtime.x509 import CertificateError, read_first_certificate

__all__ = [
    "RENEW",
    "ProxyError",
    "ProxyInfo",
    "check_proxy",
    "default_proxy",
    "find_proxy",
    "read_proxy",
]

RENEW = "renew it with voms-proxy-init --voms <your VO>"


def default_proxy() -> Path:
    """Where voms-proxy-init writes, and where XRootD's GSI looks without X509_USER_PROXY."""
    return Path("/tmp") / f"x509up_u{os.getuid()}"


class ProxyError(RuntimeError):
    """One line naming the proxy file and what to do; never its content."""


@dataclass(frozen=True)
class ProxyInfo:
    path: Path
    subject: str
    not_after: dt.datetime
    time_left: dt.timedelta
    fqans: tuple[str, ...]

    def summary(self) -> str:
        minutes = int(self.time_left.total_seconds() // 60)
        voms = ", ".join(self.fqans) if self.fqans else "no VOMS attributes"
        return (
            f"X509 proxy {self.path}: {self.subject}, {minutes // 60} h {minutes % 60:02d} min"
            f" left, {voms}"
        )


def find_proxy(path: str | os.PathLike[str] | None = None) -> Path:
    """The proxy file the VOMS tools would use: ``path``, ``$X509_USER_PROXY``, or
    ``/tmp/x509up_u<uid>``."""
    if path is not None:
        return Path(path)
    explicit = os.environ.get("X509_USER_PROXY")
    if explicit:
        return Path(explicit)
    return default_proxy()


def check_proxy(
    path: str | os.PathLike[str] | None = None, *, now: dt.datetime | None = None
) -> ProxyInfo:
    """Read and check the proxy; raises ProxyError with one line if it cannot be used."""
    proxy = find_proxy(path)
    content = read_proxy(proxy)
    try:
        facts = read_first_certificate(content)
    except CertificateError as error:
        raise ProxyError(f"X509 proxy {proxy} is not usable: {error} — {RENEW}") from None
    moment = now or dt.datetime.now(dt.UTC)
    if facts.not_before > moment:
        raise ProxyError(
            f"X509 proxy {proxy} is not valid before {facts.not_before:%Y-%m-%d %H:%M} UTC"
            f" — check this machine's clock, or {RENEW}"
        )
    if facts.not_after <= moment:
        raise ProxyError(
            f"X509 proxy {proxy} expired at {facts.not_after:%Y-%m-%d %H:%M} UTC — {RENEW}"
        )
    return ProxyInfo(
        path=proxy,
        subject=facts.subject,
        not_after=facts.not_after,
        time_left=facts.not_after - moment,
        fqans=facts.fqans,
    )


def read_proxy(proxy: Path) -> bytes:
    try:
        return proxy.read_bytes()
    except FileNotFoundError:
        raise ProxyError(
            f"no X509 proxy at {proxy} — create one with voms-proxy-init --voms <your VO>"
        ) from None
    except OSError as error:
        raise ProxyError(
            f"cannot read X509 proxy {proxy}: {error.strerror} — check its owner and mode (0600)"
        ) from None

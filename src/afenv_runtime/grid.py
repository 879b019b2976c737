"""Grid credentials on every Dask worker, in one call from the notebook::

    from afenv_runtime.grid import ship_proxy
    ship_proxy(client)          # replaces UploadFile("/tmp/x509up_u0") + client.run(set_proxy)

``ship_proxy`` finds the proxy as the VOMS tools do (``$X509_USER_PROXY``, else
``/tmp/x509up_u<uid>``), checks it on the client (readable, valid now, time left, VOMS
attributes), and registers a worker plugin. The scheduler keeps the plugin and hands it to
workers that join later; each worker writes the proxy into its own local directory with mode
0600 and points ``X509_USER_PROXY``, ``X509_CERT_DIR`` and ``X509_VOMS_DIR`` at it and at the
grid directories of its own image (``/cvmfs/grid.cern.ch`` when mounted). Calling it again
replaces the proxy everywhere (renewal); ``remove_proxy(client)`` takes it away.

The proxy's content is never logged, printed or put in an exception; the plugin's ``repr``
names the file only.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from afenv_runtime.x509 import CertificateError, read_first_certificate

__all__ = [
    "PLUGIN_NAME",
    "ProxyError",
    "ProxyInfo",
    "ProxyPlugin",
    "check_proxy",
    "find_proxy",
    "grid_environment",
    "prepare",
    "raise_for_failures",
    "remove_proxy",
    "ship_proxy",
]

PLUGIN_NAME = "afenv-x509-proxy"
PROXY_FILE = "x509up"  # in the worker's local directory
CVMFS_GRID = Path("/cvmfs/grid.cern.ch/etc/grid-security")
# The image's own grid directories (from Debian's packages and the experiment's grid/ files).
IMAGE_GRID = {
    "X509_CERT_DIR": "/etc/grid-security/certificates",
    "X509_VOMS_DIR": "/etc/grid-security/vomsdir",
    "X509_VOMSES": "/etc/vomses",
}
_CVMFS_GRID = {
    "X509_CERT_DIR": "certificates",
    "X509_VOMS_DIR": "vomsdir",
    "X509_VOMSES": "vomses",
}
RENEW = "renew it with voms-proxy-init --voms <your VO>"


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
    return Path("/tmp") / f"x509up_u{os.getuid()}"  # where voms-proxy-init writes it


def check_proxy(
    path: str | os.PathLike[str] | None = None, *, now: dt.datetime | None = None
) -> ProxyInfo:
    """Read and check the proxy; raises ProxyError with one line if it cannot be used."""
    proxy = find_proxy(path)
    content = _read(proxy)
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


def ship_proxy(client: Any, path: str | os.PathLike[str] | None = None) -> ProxyInfo:
    """Check the proxy here, then install it on every current and future worker of ``client``."""
    info, plugin = prepare(path)
    responses = client.register_plugin(plugin, name=PLUGIN_NAME)
    raise_for_failures(responses, "install")
    return info


def prepare(path: str | os.PathLike[str] | None = None) -> tuple[ProxyInfo, ProxyPlugin]:
    """The checked proxy and the plugin that installs it (for callers inside the event loop)."""
    info = check_proxy(path)
    return info, ProxyPlugin(_read(info.path), source=str(info.path))


def remove_proxy(client: Any) -> None:
    """Take the shipped proxy away from every worker (file removed, environment restored)."""
    try:
        responses = client.unregister_worker_plugin(PLUGIN_NAME)
    except ValueError:  # distributed: "The worker plugin … does not exist"
        return
    raise_for_failures(responses, "remove")


def grid_environment(
    environ: Mapping[str, str] | None = None, *, cvmfs: Path = CVMFS_GRID
) -> dict[str, str]:
    """X509_CERT_DIR, X509_VOMS_DIR and X509_VOMSES for this machine.

    CVMFS's grid tree wins over the image's own directories when it is mounted; a value the
    user set (anything but the image's default) wins over both.
    """
    current = os.environ if environ is None else environ
    mounted = cvmfs.is_dir()
    result = {}
    for name, image_default in IMAGE_GRID.items():
        value = current.get(name)
        if value and value != image_default:
            result[name] = value
        elif mounted and (cvmfs / _CVMFS_GRID[name]).exists():
            result[name] = str(cvmfs / _CVMFS_GRID[name])
        else:
            result[name] = image_default
    return result


class ProxyPlugin(WorkerPlugin):
    """A distributed worker plugin that installs one proxy on the worker it runs on."""

    name = PLUGIN_NAME

    def __init__(self, content: bytes, *, source: str) -> None:
        self._content = content
        self.source = source
        self._saved: dict[str, str | None] = {}
        self.path: Path | None = None

    def __repr__(self) -> str:  # the content stays out of logs and tracebacks
        return f"<ProxyPlugin from {self.source}>"

    def setup(self, worker: Any) -> None:
        self.install(Path(worker.local_directory), os.environ)

    def teardown(self, worker: Any) -> None:  # noqa: ARG002 (distributed's signature)
        self.uninstall(os.environ)

    def install(self, directory: Path, environ: MutableMapping[str, str]) -> Path:
        target = directory / PROXY_FILE
        partial = directory / f".{PROXY_FILE}.{os.getpid()}"
        # Created 0600 from the first byte (umask cannot widen it), then renamed into place, so
        # no process ever sees a readable or half-written proxy.
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, self._content)
        finally:
            os.close(fd)
        partial.replace(target)
        settings = {"X509_USER_PROXY": str(target), **grid_environment(environ)}
        settings.pop("X509_VOMSES")  # for voms-proxy-init on the client, not for readers
        for name, value in settings.items():
            self._saved.setdefault(name, environ.get(name))
            environ[name] = value
        self.path = target
        return target

    def uninstall(self, environ: MutableMapping[str, str]) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)
        for name, value in self._saved.items():
            if value is None:
                environ.pop(name, None)
            else:
                environ[name] = value
        self._saved.clear()


def _read(proxy: Path) -> bytes:
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


def raise_for_failures(responses: Any, action: str) -> None:
    if not isinstance(responses, Mapping):
        return
    for worker, response in responses.items():
        if isinstance(response, Mapping) and response.get("status") not in (None, "OK"):
            reason = response.get("exception") or response.get("text") or "unknown error"
            raise ProxyError(f"could not {action} the X509 proxy on worker {worker}: {reason}")

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

XRootD's GSI plugin takes the proxy *path* once per process, when it first authenticates
(``X509_USER_PROXY`` then, else ``/tmp/x509up_u<uid>``), and re-reads the file at that path on
every later authentication. A worker that already tried ``root://`` before the proxy arrived
would never see one in its local directory, so the plugin also writes the proxy where that
worker's GSI looks. Renewal works because the path never changes.

The proxy's content is never logged, printed or put in an exception; the plugin's ``repr``
names the file only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from afenv_runtime.gridenv import CVMFS_GRID, IMAGE_GRID, grid_environment
from afenv_runtime.proxy import (
    ProxyError,
    ProxyInfo,
    check_proxy,
    default_proxy,
    find_proxy,
    read_proxy,
)

__all__ = [
    "CVMFS_GRID",
    "IMAGE_GRID",
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
GSI_LIBRARY = "libXrdSecgsi"


def ship_proxy(client: Any, path: str | os.PathLike[str] | None = None) -> ProxyInfo:
    """Check the proxy here, then install it on every current and future worker of ``client``."""
    info, plugin = prepare(path)
    responses = client.register_plugin(plugin, name=PLUGIN_NAME)
    raise_for_failures(responses, "install")
    return info


def prepare(path: str | os.PathLike[str] | None = None) -> tuple[ProxyInfo, ProxyPlugin]:
    """The checked proxy and the plugin that installs it (for callers inside the event loop)."""
    info = check_proxy(path)
    return info, ProxyPlugin(read_proxy(info.path), source=str(info.path))


def remove_proxy(client: Any) -> None:
    """Take the shipped proxy away from every worker (file removed, environment restored)."""
    try:
        responses = client.unregister_worker_plugin(PLUGIN_NAME)
    except ValueError:  # distributed: "The worker plugin … does not exist"
        return
    raise_for_failures(responses, "remove")


def gsi_loaded(maps: Path = Path("/proc/self/maps")) -> bool:
    """Whether XRootD's GSI client plugin is loaded in this process (it has authenticated)."""
    try:
        return GSI_LIBRARY in maps.read_text()
    except OSError:
        return False


# The path this process's GSI plugin took, once known; one per process, like the plugin itself.
_gsi_path: Path | None = None


def _gsi_reads(target: Path, before: str | None, *, loaded: bool) -> Path:
    """Where this process's GSI reads the proxy, given the plugin's own ``target``.

    Not loaded yet: it will read ``X509_USER_PROXY``, which from now on names ``target``.
    Loaded before any install here: the value it found then (``before``), else the VOMS default.
    """
    global _gsi_path
    if _gsi_path is None and loaded:
        _gsi_path = Path(before) if before else default_proxy()
    return _gsi_path or target


def _note_binding(target: Path, *, loaded: bool) -> None:
    """Before the environment is restored: GSI that loaded meanwhile took ``target``."""
    global _gsi_path
    if _gsi_path is None and loaded:
        _gsi_path = target


class ProxyPlugin(WorkerPlugin):
    """A distributed worker plugin that installs one proxy on the worker it runs on."""

    name = PLUGIN_NAME

    def __init__(self, content: bytes, *, source: str) -> None:
        self._content = content
        self.source = source
        self._saved: dict[str, str | None] = {}
        self.paths: list[Path] = []

    def __repr__(self) -> str:  # the content stays out of logs and tracebacks
        return f"<ProxyPlugin from {self.source}>"

    def setup(self, worker: Any) -> None:
        self.install(Path(worker.local_directory), os.environ)

    def teardown(self, worker: Any) -> None:  # noqa: ARG002 (distributed's signature)
        self.uninstall(os.environ)

    @property
    def path(self) -> Path | None:
        return self.paths[0] if self.paths else None

    def install(
        self, directory: Path, environ: MutableMapping[str, str], *, loaded: bool | None = None
    ) -> Path:
        target = directory / PROXY_FILE
        before = environ.get("X509_USER_PROXY")
        reads = _gsi_reads(target, before, loaded=gsi_loaded() if loaded is None else loaded)
        for path in dict.fromkeys((target, reads)):
            _write_private(path, self._content)
            self.paths.append(path)
        settings = {"X509_USER_PROXY": str(target), **grid_environment(environ)}
        settings.pop("X509_VOMSES")  # for voms-proxy-init on the client, not for readers
        for name, value in settings.items():
            self._saved.setdefault(name, environ.get(name))
            environ[name] = value
        return target

    def uninstall(self, environ: MutableMapping[str, str], *, loaded: bool | None = None) -> None:
        if self.paths:
            _note_binding(self.paths[0], loaded=gsi_loaded() if loaded is None else loaded)
        for path in self.paths:
            path.unlink(missing_ok=True)
        self.paths.clear()
        for name, value in self._saved.items():
            if value is None:
                environ.pop(name, None)
            else:
                environ[name] = value
        self._saved.clear()


def _write_private(target: Path, content: bytes) -> None:
    """Write ``target`` with mode 0600 from the first byte (umask cannot widen it), then rename
    it into place, so no process ever sees a readable or half-written proxy."""
    partial = target.with_name(f".{target.name}.{os.getpid()}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, content)
    finally:
        os.close(fd)
    partial.replace(target)


def raise_for_failures(responses: Any, action: str) -> None:
    if not isinstance(responses, Mapping):
        return
    for worker, response in responses.items():
        if isinstance(response, Mapping) and response.get("status") not in (None, "OK"):
            reason = response.get("exception") or response.get("text") or "unknown error"
            raise ProxyError(f"could not {action} the X509 proxy on worker {worker}: {reason}")

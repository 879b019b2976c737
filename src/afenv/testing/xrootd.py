"""A real XRootD server (Debian's ``xrootd``) on loopback, for tests and benchmarks.

``serve(files)`` copies the files into a directory the server exports read-only and yields the
port and the served paths; the server is stopped on exit. ``hosts()`` gives the two names a
``root://`` URL can use to reach it: one ROOT takes for this host, one it takes for another.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from afenv.hostnet import free_port

# Prints the protocol ROOT really opens argv[1] with: "root" through XRootD, "file" when its
# locality shortcut reads the file directly. Run it in a fresh python: settings made in a process
# (TFile.ForceRemote) change the answer.
_OPENED_AS = (
    "import sys, ROOT; f = ROOT.TFile.Open(sys.argv[1]);"
    " print(f.GetEndpointUrl().GetProtocol() if f else 'unopened')"
)


def opened_as_command(python: str, url: str) -> list[str]:
    # ROOT's "alpha stage" UserWarning is not part of the answer.
    return [python, "-W", "ignore::UserWarning:ROOT", "-c", _OPENED_AS, url]


# xrootd refuses to run as root; with -R it drops to this user, which the Debian package creates.
SERVER_USER = "xrootd"
STARTUP_S = 30.0


class ServerError(RuntimeError):
    pass


def hosts() -> tuple[str, str]:
    """(a name ROOT sees as this host, a loopback address it sees as another host).

    ROOT treats a root:// URL as local, and opens the file directly instead of through the
    server, when its host resolves to the name or address of this host's own name (TSystem::
    IsPathLocal). The server listens on every address, so both reach it.
    """
    own_name = socket.gethostname()
    own_address = socket.gethostbyname(own_name)
    other = next(a for a in ("127.0.0.2", "127.0.0.3") if a != own_address)
    return own_name, other


def _wait_for_port(port: int, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise ServerError(f"xrootd exited with {server.returncode}:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise ServerError(
        f"xrootd did not listen on 127.0.0.1:{port} in {STARTUP_S:.0f} s:\n{log.read_text()}"
    )


@contextmanager
def serve(files: Iterable[Path]) -> Iterator[tuple[int, list[Path]]]:
    """Serve copies of ``files``; yields (port, the served paths)."""
    executable = shutil.which("xrootd")
    if executable is None:
        raise ServerError("xrootd is not installed — run scripts/setup.sh (Debian: xrootd-server)")
    as_root = os.geteuid() == 0
    # A caller's temporary directory may be private to it, so the server user could not read
    # the files in place when it is not us: serve copies from a directory everyone may traverse.
    with tempfile.TemporaryDirectory(prefix="afenv-xrootd-") as top:
        base = Path(top)
        base.chmod(0o755)
        exported, admin = base / "data", base / "admin"
        exported.mkdir(mode=0o755)
        admin.mkdir()
        if as_root:
            shutil.chown(admin, user=SERVER_USER)
        served = []
        for path in files:
            shutil.copyfile(path, exported / path.name)
            (exported / path.name).chmod(0o644)
            served.append(exported / path.name)
        port = free_port()
        config = base / "xrootd.cfg"
        config.write_text(
            f"xrd.port {port}\n"
            f"all.export {exported} r/o\n"
            f"all.adminpath {admin}\n"
            f"all.pidpath {admin}\n"
        )
        log = base / "xrootd.log"
        command = [executable, "-c", str(config), "-n", "afenv-test"]
        if as_root:
            command[1:1] = ["-R", SERVER_USER]
        with log.open("wb") as log_file:
            # The server makes its home directory under its working directory: admin is writable.
            server = subprocess.Popen(command, cwd=admin, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            _wait_for_port(port, server, log)
            yield port, served
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()

"""A real container registry for tests: Debian's docker-registry (distribution 2.8) on this host.

Plain HTTP on loopback, or TLS with a test CA and htpasswd (bcrypt) authentication. Docker
treats every registry in 127.0.0.0/8 as insecure and then skips certificate checks, so a TLS
registry listens on the engine's bridge gateway instead: an address of this host that only the
host and its containers reach, where the engine verifies the certificate against
``/etc/docker/certs.d/<host:port>/ca.crt`` as it would for a facility's registry.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from afenv.hostnet import free_port

__all__ = ["CERTS_D", "Registry", "free_port", "htpasswd", "serve", "trust_in_engine"]

CERTS_D = Path("/etc/docker/certs.d")
READY_WITHIN_S = 30


@dataclass(frozen=True)
class Registry:
    address: str  # host:port as images name it
    storage: Path
    log: Path


def htpasswd(path: Path, user: str, password: str) -> Path:
    """An htpasswd file with one bcrypt entry, the only hash distribution accepts."""
    import bcrypt

    digest = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10)).decode()
    path.write_text(f"{user}:{digest}\n")
    return path


@contextlib.contextmanager
def serve(
    directory: Path,
    *,
    host: str,
    storage: Path,
    tls: tuple[Path, Path] | None = None,
    users: Path | None = None,
) -> Iterator[Registry]:
    """Run a registry on ``host`` (a free port) until the block ends; ``storage`` may be shared
    by registries started one after the other, so the layers one received are in the next."""
    if shutil.which("docker-registry") is None:
        raise RuntimeError("docker-registry is not installed (Debian: docker-registry)")
    port = free_port(host)
    lines = [
        "version: 0.1",
        "log: {level: info}",
        f"storage: {{filesystem: {{rootdirectory: {storage}}}, delete: {{enabled: true}}}}",
        "http:",
        f"  addr: {host}:{port}",
    ]
    if tls is not None:
        lines += ["  tls:", f"    certificate: {tls[0]}", f"    key: {tls[1]}"]
    if users is not None:
        lines += ["auth:", "  htpasswd:", "    realm: afenv-test", f"    path: {users}"]
    config = directory / f"registry-{port}.yml"
    config.write_text("\n".join(lines) + "\n")
    log = directory / f"registry-{port}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            ["docker-registry", "serve", str(config)], stdout=output, stderr=subprocess.STDOUT
        )
    try:
        _wait_listening(host, port, process, log)
        yield Registry(address=f"{host}:{port}", storage=storage, log=log)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_listening(host: str, port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_WITHIN_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"docker-registry exited: {log.read_text()[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
            return
        time.sleep(0.1)  # polling the condition, not waiting a guessed time
    raise RuntimeError(f"docker-registry not listening on {host}:{port}: {log.read_text()[-2000:]}")


@contextlib.contextmanager
def trust_in_engine(address: str, ca_cert: Path) -> Iterator[Path]:
    """The engine trusts ``ca_cert`` for ``address`` (certs.d, read on every connection) until
    the block ends; the folder is ours alone and removed after."""
    folder = CERTS_D / address
    if folder.exists():
        raise RuntimeError(f"{folder} exists already; it is not the test's to change")
    folder.mkdir(parents=True)
    try:
        shutil.copyfile(ca_cert, folder / "ca.crt")
        yield folder
    finally:
        shutil.rmtree(folder)

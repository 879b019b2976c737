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
from afenv.state import State

__all__ = [
    "CERTS_D",
    "Registry",
    "forget_pushes",
    "free_port",
    "htpasswd",
    "serve",
    "trust_in_engine",
]

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
    state_dir: Path | None = None,
) -> Iterator[Registry]:
    """Run a registry on ``host`` (a free port) until the block ends; ``storage`` may be shared
    by registries started one after the other, so the layers one received are in the next.
    At the end the engine's references to it go, and so do the pushes to it recorded in the
    afenv state in ``state_dir``."""
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
    address = f"{host}:{port}"
    try:
        _wait_listening(host, port, process, log)
        yield Registry(address=address, storage=storage, log=log)
    finally:
        process.terminate()
        process.wait(timeout=30)
        _forget_references(address)
        if state_dir is not None:
            forget_pushes(state_dir, address)


def _forget_references(address: str) -> None:
    """The engine's tags and digests naming this registry go with it (a push leaves a tag, a
    pull by digest a digest): the images stay under their own tags."""
    import docker

    client = docker.from_env()
    try:
        for image in client.images.list():
            names = [*image.tags, *image.attrs.get("RepoDigests", [])]
            for name in names:
                if name.startswith(f"{address}/"):
                    with contextlib.suppress(docker.errors.NotFound):
                        client.images.remove(name)
    finally:
        client.close()


def forget_pushes(state_dir: Path, address: str) -> None:
    """Take the pushes to a test registry (``address``, gone with the test) out of afenv's
    state: a later `afenv hub profiles` must not find pairs "pushed" to a dead registry."""
    with State(state_dir).update() as data:
        for entry in data.get("images", {}).values():
            if "pushed" in entry:
                entry["pushed"] = [p for p in entry["pushed"] if not p.startswith(f"{address}/")]
        for registries in data.get("pushed", {}).values():
            for name in [name for name in registries if name.split("/")[0] == address]:
                del registries[name]


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

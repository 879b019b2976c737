"""The Docker engine goes away in the middle of a build: one line, exit 5, nothing tagged, and
the retry succeeds. The engine's socket is reached through a relay the test cuts, so afenv
loses its engine for real while the machine's engine stays up for the rest of the suite."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from afenv.build.render import PACKAGED

pytestmark = pytest.mark.docker

ENGINE_SOCKET = "/var/run/docker.sock"


class Relay:
    """A unix socket that forwards every connection to the engine's, until cut."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(str(path))
        self.listener.listen()
        self.sockets: list[socket.socket] = []
        self.from_engine = bytearray()  # everything the engine sent, to know how far it got
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = self.listener.accept()
                upstream = socket.socket(socket.AF_UNIX)
                upstream.connect(ENGINE_SOCKET)
                with self.lock:
                    self.sockets += [client, upstream]
                threading.Thread(target=self._pipe, args=(client, upstream, False)).start()
                threading.Thread(target=self._pipe, args=(upstream, client, True)).start()

    def _pipe(self, source: socket.socket, target: socket.socket, record: bool) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if record:
                    with self.lock:
                        self.from_engine += data
                target.sendall(data)

    def seen(self, marker: bytes) -> bool:
        with self.lock:
            return marker in self.from_engine

    def cut(self) -> None:
        self.listener.close()
        with self.lock:
            for sock in self.sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[Relay]:
    if not Path(ENGINE_SOCKET).exists():
        pytest.skip(f"the engine is not on {ENGINE_SOCKET}")
    relay = Relay(tmp_path / "engine.sock")
    yield relay
    relay.cut()


@pytest.mark.usefixtures("cms_images")
def test_engine_lost_mid_build(
    client: docker.DockerClient, project_copy: Path, relay: Relay
) -> None:
    overrides = project_copy / "templates/files"
    overrides.mkdir(parents=True)
    (overrides / "afenv-bench").write_text(
        (PACKAGED / "files/afenv-bench").read_text() + "# engine-lost drill\n"
    )
    staging_before = {t for i in client.images.list(name="afenv-staging/*") for t in i.tags}
    command = [sys.executable, "-m", "afenv.cli", "--project", str(project_copy), "build"]
    command += ["cms", "--no-validate", "-q"]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, DOCKER_HOST=f"unix://{relay.path}"),
    )
    try:
        deadline = time.monotonic() + 600
        # Cut once the engine is streaming the worker's build (a condition, polled).
        while not relay.seen(b"Step 2/") and process.poll() is None:
            assert time.monotonic() < deadline, "the build never started"
            time.sleep(0.05)
        relay.cut()
        _, stderr = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
    lines = stderr.strip().splitlines()
    assert process.returncode == 5, stderr
    assert len(lines) == 1, stderr
    assert lines[0].startswith("afenv: error: the Docker engine failed or stopped answering")

    # The retry, with the engine reachable again, builds the pair; no staging name is left.
    retry = subprocess.run(
        [*command[:-1], "--json"], capture_output=True, text=True, timeout=1800, check=False
    )
    assert retry.returncode == 0, retry.stderr[-2000:]
    staging_after = {t for i in client.images.list(name="afenv-staging/*") for t in i.tags}
    assert staging_after <= staging_before
    built = {image["role"]: image["id"] for image in json.loads(retry.stdout)["images"]}
    for role in ("singleuser", "worker"):  # the notebook image sits on the worker image
        for tag in client.images.get(built[role]).tags:
            client.images.remove(tag)

"""Clear failures: each a one-line error with its exit code, and nothing half-done left behind."""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from afenv.errors import DockerUnavailable, FetchError, LockError
from afenv.hostnet import download

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real HTTP server on loopback serving a folder."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", served
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_download_verifies_the_hash(file_server: tuple[str, Path], tmp_path: Path) -> None:
    url, served = file_server
    (served / "pkg-1.0-py3-none-any.whl").write_bytes(b"the real bytes")
    good = hashlib.sha256(b"the real bytes").hexdigest()
    target = tmp_path / "cache" / "pkg-1.0-py3-none-any.whl"
    download(f"{url}/pkg-1.0-py3-none-any.whl", target, good, {})
    assert target.read_bytes() == b"the real bytes"

    other = tmp_path / "cache2" / "pkg-1.0-py3-none-any.whl"
    with pytest.raises(FetchError, match=r"hash mismatch for pkg-1.0-py3-none-any.whl: expected"):
        download(f"{url}/pkg-1.0-py3-none-any.whl", other, "0" * 64, {})
    assert list(other.parent.iterdir()) == []  # no partial or wrong file is kept


def _closed_port() -> int:
    """A loopback port nobody listens on (bound for a moment, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_unreachable_index_is_one_error(tmp_path: Path) -> None:
    port = _closed_port()
    target = tmp_path / "x.whl"
    with pytest.raises(
        FetchError, match=rf"cannot download x.whl from http://127.0.0.1:{port}/x.whl"
    ):
        download(f"http://127.0.0.1:{port}/x.whl", target, "0" * 64, {})
    assert not target.exists()


def test_no_docker_engine_says_how_to_start_one() -> None:
    port = _closed_port()
    result = subprocess.run(
        [sys.executable, "-m", "afenv.cli", "--project", str(ROOT), "list"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=dict(os.environ, DOCKER_HOST=f"tcp://127.0.0.1:{port}"),
    )
    assert result.returncode == DockerUnavailable.exit_code
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "no Docker engine answers" in lines[0]
    assert "scripts/ensure-docker.sh" in lines[0]


def test_unresolvable_pins_give_uvs_reason(project_copy: Path) -> None:
    """Real uv against the real index: a pin that cannot exist fails with uv's explanation."""
    path = project_copy / "images/cms/experiment.toml"
    path.write_text(path.read_text().replace('"coffea",', '"coffea==0.0.0.1",', 1))
    before = (project_copy / "images/cms/lock/worker.txt").read_text()
    result = subprocess.run(
        [sys.executable, "-m", "afenv.cli", "--project", str(project_copy), "lock"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == LockError.exit_code, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("afenv: error: cannot resolve the facility stack")
    assert "coffea==0.0.0.1" in line
    assert (project_copy / "images/cms/lock/worker.txt").read_text() == before  # untouched

"""Clear failures: each a one-line error with its exit code, and nothing half-done left behind."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from afenv.errors import DockerUnavailable, FetchError, Interrupted
from afenv.hostnet import download
from afenv.testing.xrootd import free_port

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
    return free_port()


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


def _lock_files(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): p.read_text()
        for p in sorted([*root.glob("envs/lock/*"), *root.glob("images/*/lock/*")])
    }


def _set_index(root: Path, url: str) -> None:
    path = root / "envs/facility.toml"
    path.write_text(path.read_text().replace('"https://pypi.org/simple"', f'"{url}"', 1))


def test_unreachable_index_during_lock_is_a_download_error(project_copy: Path) -> None:
    _set_index(project_copy, f"http://127.0.0.1:{_closed_port()}/simple")
    before = _lock_files(project_copy)
    result = subprocess.run(
        [sys.executable, "-m", "afenv.cli", "--project", str(project_copy), "lock", "-q"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    lines = result.stderr.strip().splitlines()
    assert result.returncode == FetchError.exit_code, result.stderr
    assert len(lines) == 1
    assert lines[0].startswith("afenv: error: cannot reach the index while resolving")
    assert _lock_files(project_copy) == before


@pytest.fixture
def silent_index() -> Iterator[tuple[str, threading.Event]]:
    """A loopback 'index' that accepts connections and never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    asked = threading.Event()
    held: list[socket.socket] = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                connection, _ = listener.accept()
                held.append(connection)
                asked.set()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/simple", asked
    finally:
        listener.close()
        for connection in held:
            connection.close()


def test_ctrl_c_during_lock_changes_nothing(
    project_copy: Path, silent_index: tuple[str, threading.Event], tmp_path: Path
) -> None:
    url, asked = silent_index
    _set_index(project_copy, url)
    before = _lock_files(project_copy)
    scratch = tmp_path / "tmp"  # this afenv's own temporary folder, so others' do not count
    scratch.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "afenv.cli", "--project", str(project_copy), "lock", "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, TMPDIR=str(scratch)),
    )
    try:
        assert asked.wait(timeout=120), "uv never asked the index"
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    lines = stderr.strip().splitlines()
    assert process.returncode == Interrupted.exit_code, stderr
    assert lines == ["afenv: error: interrupted; cleaned up what was started"]
    assert _lock_files(project_copy) == before
    assert list(scratch.iterdir()) == []


def test_unreachable_debian_mirror_is_a_download_error() -> None:
    from afenv.lock.debian import package_versions

    port = _closed_port()
    with pytest.raises(
        FetchError,
        match=rf"cannot download the Debian trixie package index from http://127.0.0.1:{port}/",
    ):
        package_versions(f"http://127.0.0.1:{port}/debian", "trixie", {})

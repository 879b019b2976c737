"""Download and cache faults, each against a real HTTP server on loopback or a real small disk:
one line, nothing half-written left, and the retry (or the next build) succeeds."""

from __future__ import annotations

import hashlib
import http.server
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from afenv.build import Wheelhouse
from afenv.errors import FetchError
from afenv.hostnet import download
from afenv.lock import LockedWheel

PAYLOAD = os.urandom(3 << 20)  # 3 MiB: larger than the small disk below
DIGEST = hashlib.sha256(PAYLOAD).hexdigest()
NAME = "pkg-1.0-py3-none-any.whl"


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves PAYLOAD; ``/cut/...`` announces all of it and hangs up halfway."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        if self.path.startswith("/cut/"):
            self.wfile.write(PAYLOAD[: len(PAYLOAD) // 2])
            self.wfile.flush()
            self.connection.shutdown(2)  # the index goes away mid-download
            return
        self.wfile.write(PAYLOAD)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def _wheel(url: str) -> LockedWheel:
    return LockedWheel(
        name="pkg", version="1.0", filename=NAME, url=url, sha256=DIGEST, size=len(PAYLOAD)
    )


def test_index_gone_mid_download_is_one_error_and_leaves_nothing(
    server: str, tmp_path: Path
) -> None:
    target = tmp_path / "cache" / NAME
    with pytest.raises(FetchError, match=rf"cannot download {NAME} from {server}/cut/"):
        download(f"{server}/cut/{NAME}", target, DIGEST, {})
    assert list(target.parent.iterdir()) == []
    download(f"{server}/{NAME}", target, DIGEST, {})  # the retry
    assert target.read_bytes() == PAYLOAD


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB filesystem (tmpfs) for the wheel cache."""
    mount = tmp_path / "small"
    mount.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {result.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_full_disk_in_the_wheel_cache_is_one_error_and_leaves_nothing(
    server: str, small_disk: Path
) -> None:
    house = Wheelhouse(small_disk / "wheels")
    wheel = _wheel(f"{server}/{NAME}")
    with pytest.raises(FetchError, match=r"No space left on device"):
        house.ensure([wheel], {})
    assert [p for p in small_disk.rglob("*") if p.is_file()] == []


@pytest.mark.parametrize("damage", ["truncated", "corrupted"])
def test_a_damaged_cached_wheel_is_fetched_again(server: str, tmp_path: Path, damage: str) -> None:
    house = Wheelhouse(tmp_path / "wheels")
    wheel = _wheel(f"{server}/{NAME}")
    house.ensure([wheel], {})
    cached = house.path(wheel)
    if damage == "truncated":
        cached.write_bytes(PAYLOAD[:1000])
    else:
        cached.write_bytes(bytes([PAYLOAD[0] ^ 1]) + PAYLOAD[1:])  # same size, one bit off
    said: list[str] = []
    house.ensure([wheel], {}, said.append)
    assert cached.read_bytes() == PAYLOAD
    assert any(f"cached {NAME} does not match its sha256" in line for line in said)

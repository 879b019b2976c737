"""``root://`` inputs: the benchmark reads the generated files from a real XRootD server.

The server is Debian's ``xrootd`` on loopback (packages xrootd-server and xrootd-client, installed
by scripts/setup.sh); ROOT's own XRootD client (``TNetXNGFile``) reads from it. Each mode's
cutflow and histogram must equal those of the same files read from local paths.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from afenv_bench.cli import main

pytestmark = pytest.mark.root

# xrootd refuses to run as root; with -R it drops to this user, which the Debian package creates.
SERVER_USER = "xrootd"
STARTUP_S = 30.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_port(port: int, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"xrootd exited with {server.returncode}:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    pytest.fail(
        f"xrootd did not listen on 127.0.0.1:{port} in {STARTUP_S:.0f} s:\n{log.read_text()}"
    )


@pytest.fixture(scope="module")
def xrootd_urls(ds_files) -> Iterator[list[str]]:
    """``root://127.0.0.1:PORT//…`` URLs of copies of ``ds_files``, served until the module ends."""
    executable = shutil.which("xrootd")
    if executable is None:
        pytest.fail("xrootd is not installed — run scripts/setup.sh (Debian: xrootd-server)")
    as_root = os.geteuid() == 0
    # pytest's base temporary directory is private to us, so the server user could not read
    # ds_files in place when it is not us: serve copies from a directory everyone may traverse.
    with tempfile.TemporaryDirectory(prefix="afenv-xrootd-") as top:
        base = Path(top)
        base.chmod(0o755)
        exported, admin = base / "data", base / "admin"
        exported.mkdir(mode=0o755)
        admin.mkdir()
        if as_root:
            shutil.chown(admin, user=SERVER_USER)
        for path in ds_files:
            (exported / path.name).write_bytes(path.read_bytes())
            (exported / path.name).chmod(0o644)
        port = _free_port()
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
            yield [f"root://127.0.0.1:{port}/{exported / path.name}" for path in ds_files]
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


@pytest.mark.parametrize("mode", ["local", "legacy"])
def test_root_urls_match_local_paths(xrootd_urls, run_mode, mode, tmp_path):
    inputs = ["--input", *xrootd_urls, "--mode", mode, "--threads", "2"]
    assert main(["ds", "run", *inputs, "--report", str(tmp_path)]) == 0
    remote = json.loads((tmp_path / "report.json").read_text())
    local = run_mode(mode).report
    assert remote["settings"]["inputs"] == xrootd_urls
    assert remote["events"] == local["events"] > 0
    assert remote["cutflow"] == local["cutflow"]
    assert remote["histogram"] == local["histogram"]


# Distributed RDataFrame (ROOT 6.40) keys each task's samples by "<input name>/<tree>", but the
# worker sees a root:// file by its path alone: "Full sample identifier … cannot be found"; in
# some runs ROOT crashes outright. A separate process keeps such a crash out of pytest, and
# strict xfail turns into a failure the day ROOT fixes it, so that this test gets updated.
@pytest.mark.dask
@pytest.mark.xfail(strict=True, reason="ROOT 6.40 distributed RDataFrame loses the root:// prefix")
def test_root_urls_in_dask_mode(xrootd_urls, run_mode, tmp_path):
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "afenv_bench",
            "ds",
            "run",
            "--input",
            *xrootd_urls,
            "--mode",
            "dask",
            "--threads",
            "2",
            "--report",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr[-2000:]
    remote = json.loads((tmp_path / "report.json").read_text())
    local = run_mode("dask").report
    assert remote["cutflow"] == local["cutflow"]
    assert remote["histogram"] == local["histogram"]


def test_unreachable_url_is_one_line(tmp_path):
    url = f"root://127.0.0.1:{_free_port()}//x.root"
    # No XRD_* settings: afenv-bench's own defaults must fail fast (XRootD's retry for minutes).
    environment = {k: v for k, v in os.environ.items() if not k.startswith("XRD_")}
    # ROOT's "alpha stage" UserWarning would be a second line on stderr.
    python = [sys.executable, "-W", "ignore::UserWarning:ROOT"]
    command = [*python, "-m", "afenv_bench", "ds", "run", "--input", url]
    finished = subprocess.run(
        [*command, "--report", str(tmp_path)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = finished.stderr.strip().splitlines()
    assert finished.returncode == 2, finished.stderr
    assert len(lines) == 1 and lines[0].startswith("afenv-bench: error:"), finished.stderr
    assert url in lines[0]

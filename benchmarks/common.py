"""What the benchmark scripts share: the project they measure and its CLI, run for real."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def afenv_cli(*args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    """``afenv ARGS`` on the project: its wall time and result; exits the script if it fails."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "afenv.cli", "--project", str(ROOT), *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"afenv {' '.join(args)} failed: {done.stderr[-2000:]}")
    return time.perf_counter() - started, done

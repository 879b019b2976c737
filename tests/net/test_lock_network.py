"""Lock tests that need the real package index (network, no Docker)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from afenv.errors import LockError

pytestmark = pytest.mark.network


def test_unresolvable_pins_give_uvs_reason(project_copy: Path) -> None:
    """Real uv against the real index: a pin that cannot exist fails with uv's explanation."""
    path = project_copy / "images/cms/experiment.toml"
    spec = path.read_text()
    edited = spec.replace('pip = ["correctionlib"]', 'pip = ["correctionlib==0.0.0.1"]', 1)
    assert edited != spec, "the cms spec no longer lists correctionlib: anchor this edit elsewhere"
    path.write_text(edited)
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
    assert "correctionlib==0.0.0.1" in line
    assert (project_copy / "images/cms/lock/worker.txt").read_text() == before  # untouched

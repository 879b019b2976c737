"""`afenv matrix` on a facility repository with a throw-away experiment: a new folder with an
experiment.toml (and a checks/ folder) is locked, built and validated with no code change, while
another experiment's input changed without a refreshed lock fails its lock cell and skips the
rest of its row only. The table, JSON and JUnit XML say so, and the exit code is MatrixFailed's.

The throw-away experiment's checks/ holds one real check and one planted failure, so its
validation fails on exactly that check: every other check of the pair passes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

pytestmark = pytest.mark.docker

SCRATCH = """[experiment]
name = "scratch"
title = "Scratch"
description = "a throw-away experiment: one package on top of the facility stack"

[packages]
pip = ["particle"]
"""
CHECKS = '''"""The throw-away experiment's own checks."""
import shlex


def test_particle_knows_the_ds(host):
    script = "from particle import Particle; print(Particle.from_pdgid(431).name)"
    result = host.run(f"timeout 120 python -c {shlex.quote(script)}")
    assert result.rc == 0, result.stderr
    assert result.stdout.split() == ["D(s)+"]


def test_planted_failure(host):
    assert host.file("/etc/afenv-planted").exists, "planted: this file is in no image"
'''


def _afenv(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "afenv.cli", "--project", str(project), *args],
        capture_output=True, text=True, timeout=3600, check=False,
    )  # fmt: skip


@pytest.fixture
def scratch_project(
    project_copy: Path,
    client: docker.DockerClient,
    cms_images: dict[str, object],  # noqa: ARG001 (the facility's shared layers exist)
) -> Iterator[Path]:
    folder = project_copy / "images" / "scratch"
    (folder / "checks").mkdir(parents=True)
    (folder / "experiment.toml").write_text(SCRATCH)
    (folder / "checks" / "test_scratch.py").write_text(CHECKS)
    yield project_copy
    # The throw-away experiment's images are the test's: none of them outlives it.
    for image in client.images.list(filters={"reference": "afenv/scratch-*"}):
        for tag in image.tags:
            client.images.remove(tag, noprune=False)


def test_a_failing_cell_skips_its_row_only(scratch_project: Path) -> None:
    locked = _afenv(scratch_project, "lock")
    assert locked.returncode == 0, locked.stderr[-3000:]
    for role in ("worker", "singleuser"):
        assert "particle==" in (scratch_project / f"images/scratch/lock/{role}.txt").read_text()
    atlas = scratch_project / "images" / "atlas" / "experiment.toml"
    atlas.write_text(atlas.read_text().replace("pip = [", 'pip = ["boost-histogram", ', 1))

    result = _afenv(scratch_project, "matrix", "atlas", "scratch", "--json")
    assert result.returncode == 11, result.stderr[-3000:]
    assert result.stderr.strip().splitlines()[-1] == (
        "afenv: error: matrix failed: atlas lock, scratch validate; see "
        f"{scratch_project / 'reports' / 'matrix' / 'matrix.json'}"
    )
    matrix = json.loads(result.stdout)
    atlas_row, scratch_row = matrix["experiments"]["atlas"], matrix["experiments"]["scratch"]
    assert atlas_row["cells"]["lock"]["status"] == "failed"
    assert (
        "images/atlas/experiment.toml [packages] pip: changed since the lock"
        in (atlas_row["cells"]["lock"]["detail"])
    )
    assert [atlas_row["cells"][s]["status"] for s in ("build", "validate")] == ["skipped"] * 2
    assert [scratch_row["cells"][s]["status"] for s in ("lock", "build", "validate")] == [
        "passed",
        "passed",
        "failed",
    ]
    assert "image.scratch.test_planted_failure" in scratch_row["cells"]["validate"]["detail"]

    # The validation ran everything: only the planted check failed, the real one passed.
    summary = json.loads(Path(scratch_row["report"]).read_text())
    failed = sorted(n for n, c in summary["checks"].items() if c["status"] == "failed")
    assert failed == [
        "image.scratch.test_planted_failure[singleuser]",
        "image.scratch.test_planted_failure[worker]",
    ]
    for role in ("worker", "singleuser"):
        check = summary["checks"][f"image.scratch.test_particle_knows_the_ds[{role}]"]
        assert check["status"] == "passed"
    assert summary["checks"]["benchmark.local_equals_distributed"]["status"] == "passed"

    files = scratch_project / "reports" / "matrix"
    assert json.loads((files / "matrix.json").read_text()) == matrix
    suite = ET.parse(files / "matrix.xml").getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("6", "2", "2")

"""`afenv matrix` without an engine: its table, JSON and JUnit renderings, and the lock
check of one experiment (which inputs concern which experiment)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from afenv import lock
from afenv.errors import LockError
from afenv.matrix import Cell, MatrixResult, Row, junit_xml, skipped, table, write
from afenv.spec import load_project


def _result() -> MatrixResult:
    drift = "lock is behind its inputs: images/atlas/experiment.toml [packages] pip: changed"
    return MatrixResult(
        rows=(
            Row(
                experiment="atlas",
                cells=(
                    Cell(step="lock", status="failed", seconds=0.2, detail=drift),
                    skipped("build", "the lock is behind"),
                    skipped("validate", "the lock is behind"),
                ),
            ),
            Row(
                experiment="cms",
                cells=(
                    Cell(step="lock", status="passed", seconds=0.1, detail="up to date"),
                    Cell(step="build", status="passed", seconds=312.4, detail="built"),
                    Cell(step="validate", status="passed", seconds=61.0, detail="summary.json"),
                ),
                report="reports/cms/validate/summary.json",
            ),
        ),
        seconds=373.7,
    )


def test_table_shows_every_cell_and_names_each_failure() -> None:
    lines = table(_result()).splitlines()
    assert lines[0].split() == ["experiment", "lock", "build", "validate"]
    assert lines[1].split() == ["atlas", "FAILED", "0s", "-", "-"]
    assert lines[2].split() == ["cms", "ok", "0s", "ok", "312s", "ok", "61s"]
    assert lines[3] == "atlas lock: lock is behind its inputs: images/atlas/experiment.toml " \
        "[packages] pip: changed"  # fmt: skip
    assert lines[4] == "matrix FAILED (atlas lock) in 374s"
    result = _result()
    passing = MatrixResult(rows=result.rows[1:], seconds=1.0)
    assert passing.passed
    assert table(passing).splitlines()[-1] == "matrix passed in 1s"


def test_junit_has_one_case_per_cell(tmp_path: Path) -> None:
    document, junit = write(_result(), tmp_path / "out")
    suite = ET.fromstring(junit.read_text()).find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("6", "1", "2")
    cases = {(c.get("classname"), c.get("name")): c for c in suite.iter("testcase")}
    assert sorted(cases) == [
        (e, s) for e in ("atlas", "cms") for s in ("build", "lock", "validate")
    ]
    failure = cases[("atlas", "lock")].find("failure")
    assert failure is not None
    assert "images/atlas/experiment.toml" in (failure.text or "")
    assert cases[("atlas", "build")].find("skipped") is not None
    assert cases[("cms", "build")].get("time") == "312.4"
    assert list(cases[("cms", "validate")]) == []  # passed: no child
    data = json.loads(document.read_text())
    assert data["passed"] is False
    assert data["experiments"]["cms"]["cells"]["build"]["status"] == "passed"
    assert data["experiments"]["atlas"]["cells"]["validate"]["status"] == "skipped"
    assert data["experiments"]["cms"]["report"] == "reports/cms/validate/summary.json"
    assert junit_xml(_result()) == junit.read_text()


def test_lock_check_of_one_experiment_names_what_concerns_it(project_copy: Path) -> None:
    project = load_project(project_copy)
    assert all(lock.check_experiment(project, name) == [] for name in project.experiments)
    toml = project_copy / "images" / "atlas" / "experiment.toml"
    toml.write_text(toml.read_text().replace("pip = [", 'pip = ["boost-histogram", ', 1))
    (project_copy / "images" / "fcc" / "lock" / "worker.txt").write_text("# edited\n")
    project = load_project(project_copy)
    assert lock.check_experiment(project, "atlas") == [
        "images/atlas/experiment.toml [packages] pip: changed since the lock"
    ]
    assert lock.check_experiment(project, "fcc") == [
        "images/fcc/lock/worker.txt: edited by hand since the lock"
    ]
    assert lock.check_experiment(project, "cms") == []
    assert len(lock.check(project)) == 2
    # Builds read the locks through the one loader: cms's still load, atlas's do not.
    assert lock.load_locks(project, project.experiments["cms"]).worker.pins
    with pytest.raises(LockError, match=r"images/atlas/experiment\.toml"):
        lock.load_locks(project, project.experiments["atlas"])
    # A facility-wide input concerns every experiment.
    facility = project_copy / "envs" / "facility.toml"
    facility.write_text(facility.read_text().replace('"numpy",', '"numpy", "sympy",', 1))
    project = load_project(project_copy)
    assert "envs/facility.toml [core] packages: changed since the lock" in (
        lock.check_experiment(project, "cms")
    )

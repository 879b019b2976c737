"""Phase: the in-image checks (pytest + testinfra, ``checks/``) in the running containers.

Both roles run the same suite (``checks/test_image.py`` parametrises by role, and skips what a
role does not offer), one pytest process per role, at the same time. An experiment's own checks
(``images/<exp>/checks/test_*.py``) run in the same session, with the same fixtures (``host``,
``role``, ``image``, ``context``), and are reported as ``image.<exp>.<test>``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from afenv.engine import Engine
from afenv.validate.pair import Pair
from afenv.validate.phase import Outcome, PhaseContext
from afenv.validate.report import Check

__all__ = ["ChecksPhase", "run_image_checks"]

CHECKS = Path(str(resources.files("afenv.validate") / "checks"))
_TIMEOUT = 1200
EXPERIMENT_PACKAGE = "experiment"  # where an experiment's own checks go in the suite


class ChecksPhase:
    name = "image_checks"
    needs: tuple[str, ...] = ("registration_and_versions",)

    def run(self, context: PhaseContext) -> Outcome:
        context.ui.info("image checks (pytest + testinfra)")
        cluster = context.cluster
        containers = {"worker": cluster.scheduler.id, "singleuser": cluster.notebook.id}
        return Outcome(
            checks=run_image_checks(context.docker, containers, context.pair, context.report_dir)
        )


def run_image_checks(
    docker: Engine,
    containers: Mapping[str, str],
    pair: Pair,
    report_dir: Path,
    *,
    at_once: bool = True,
) -> tuple[Check, ...]:
    """Run the check suite against running containers (role -> container ID) of ``pair``.

    One pytest process per role, all at once: the roles' checks share nothing but the host,
    and the slow ones (cling's JIT, a ROOT import per check) are single-threaded, so on two
    cores the phase takes about as long as the slower role instead of the sum. The roles'
    results are one JUnit file, ``checks.xml``, and one log. ``at_once=False`` runs the roles
    one after the other (what ``benchmarks/bench_checks.py`` compares with).
    """
    common = {
        "afenv_built": pair.experiment is not None,
        "cvmfs": list(pair.cvmfs),
        "vos": list(pair.vos),
    }
    images = {
        role: {
            "container": containers[role],
            "config": dict(docker.require_image(reference, hint="it is being validated").config),
            "lock": {n: list(p) for n, p in pair.locks.get(role, {}).items()},
        }
        for role, reference in pair.references.items()
    }
    report_dir.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + _TIMEOUT
    runs: dict[str, _Run] = {}
    with tempfile.TemporaryDirectory(prefix="afenv-checks-") as tmp:
        # At once: one batch of every role; otherwise a batch per role.
        batches = [list(images)] if at_once else [[role] for role in images]
        finished: dict[str, tuple[str, int, str | None]] = {}
        try:
            for batch in batches:
                for role in batch:
                    context = {**common, "images": {role: images[role]}}
                    runs[role] = _start(Path(tmp) / role, context, pair.checks)
                for role in batch:
                    finished[role] = _finish(runs[role], deadline)
        finally:
            # Interrupted (Ctrl-C, SIGTERM) or timed out: no check outlives the validation.
            for run in runs.values():
                if run.process.poll() is None:
                    run.process.kill()
                    run.process.wait()
    (report_dir / "checks.log").write_text(
        "".join(f"=== {role} ===\n{log}" for role, (log, _, _) in finished.items())
    )
    suites = ET.Element("testsuites")
    checks: tuple[Check, ...] = ()
    for role, (log, returncode, junit) in finished.items():
        if junit is None:
            failed = Check.of(f"image.checks[{role}]", False, f"pytest did not run: {log[-500:]}")
            checks += (failed,)
            continue
        checks += parse_junit(junit, experiment=pair.experiment)
        for suite in ET.fromstring(junit).iter("testsuite"):
            suite.set("name", f"image checks ({role})")
            suites.append(suite)
        if returncode not in (0, 1):
            # 2-5: a module did not import or collect, or nothing ran; no test case may say so.
            checks += (Check.of(f"image.checks[{role}]", False, f"pytest: {log[-500:]}"),)
    ET.ElementTree(suites).write(report_dir / "checks.xml", encoding="utf-8", xml_declaration=True)
    return checks


@dataclass(frozen=True)
class _Run:
    process: subprocess.Popen[str]
    junit: Path


def _start(folder: Path, context: Mapping[str, Any], extra: tuple[Path, ...]) -> _Run:
    """Start pytest on a copy of the suite in ``folder``, for the one role ``context`` names."""
    folder.mkdir(parents=True)
    context_file = folder / "context.json"
    context_file.write_text(json.dumps(context))
    suite = _suite(folder / "checks", extra)
    junit = folder / "checks.xml"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            str(suite),
            "-c",
            str(suite / "pytest.ini"),
            "--rootdir",
            str(suite),
            f"--junitxml={junit}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={
            "AFENV_CHECK_CONTEXT": str(context_file),
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "PYTHONDONTWRITEBYTECODE": "1",
        },
    )
    return _Run(process, junit)


def _finish(run: _Run, deadline: float) -> tuple[str, int, str | None]:
    """Wait for one role's pytest: its output, exit status and JUnit text (None: it wrote none)."""
    try:
        output, _ = run.process.communicate(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        run.process.kill()
        output, _ = run.process.communicate()
        output += f"\nafenv: the image checks did not finish in {_TIMEOUT} s\n"
    junit = run.junit.read_text() if run.junit.is_file() else None
    return output, run.process.returncode, junit


def _suite(folder: Path, extra: tuple[Path, ...]) -> Path:
    """afenv's checks in ``folder``, the experiment's in its ``experiment`` package (so that
    its modules may share names with afenv's and still get afenv's fixtures)."""
    shutil.copytree(CHECKS, folder, ignore=shutil.ignore_patterns("__pycache__"))
    if extra:
        package = folder / EXPERIMENT_PACKAGE
        package.mkdir()
        (package / "__init__.py").write_text("")
        for path in extra:
            shutil.copyfile(path, package / path.name)
    return folder


def parse_junit(text: str, experiment: str | None = None) -> tuple[Check, ...]:
    """pytest's JUnit XML as checks: one per test case, named ``image.<test>[<role>]``, or
    ``image.<experiment>.<test>[<role>]`` for the experiment's own."""
    checks = []
    for case in ET.fromstring(text).iter("testcase"):
        own = case.attrib.get("classname", "").startswith(EXPERIMENT_PACKAGE + ".")
        name = f"image.{experiment}." if own and experiment else "image."
        name += case.attrib["name"]
        failure = case.find("failure")
        if failure is None:
            failure = case.find("error")
        skipped = case.find("skipped")
        if failure is not None:
            message = " ".join((failure.attrib.get("message") or "").split())[:1000]
            checks.append(Check.of(name, False, message))
        elif skipped is not None:
            checks.append(Check.of(name, None, skipped.attrib.get("message", "")))
        else:
            checks.append(Check.of(name, True))
    return tuple(checks)

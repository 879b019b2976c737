"""Phase: the in-image checks (pytest + testinfra, ``checks/``) in the running containers.

The singleuser image is a child of the worker image, so it runs the worker's checks plus its
own (``checks/test_image.py`` parametrises by role). An experiment's own checks
(``images/<exp>/checks/test_*.py``) run in the same session, with the same fixtures (``host``,
``role``, ``image``, ``context``), and are reported as ``image.<exp>.<test>``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

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

    def run(self, context: PhaseContext) -> Outcome:
        context.ui.info("image checks (pytest + testinfra)")
        cluster = context.cluster
        containers = {"worker": cluster.scheduler.id, "singleuser": cluster.notebook.id}
        return Outcome(
            checks=run_image_checks(context.docker, containers, context.pair, context.report_dir)
        )


def run_image_checks(
    docker: Engine, containers: Mapping[str, str], pair: Pair, report_dir: Path
) -> tuple[Check, ...]:
    """Run the check suite against running containers (role -> container ID) of ``pair``."""
    images = {
        role: {
            "container": containers[role],
            "config": dict(docker.require_image(reference, hint="it is being validated").config),
            "lock": {n: list(p) for n, p in pair.locks.get(role, {}).items()},
        }
        for role, reference in pair.references.items()
    }
    context = {
        "images": images,
        "afenv_built": pair.experiment is not None,
        "cvmfs": list(pair.cvmfs),
        "vos": list(pair.vos),
    }
    report_dir.mkdir(parents=True, exist_ok=True)
    junit = report_dir / "checks.xml"
    with tempfile.TemporaryDirectory(prefix="afenv-checks-") as tmp:
        context_file = Path(tmp) / "context.json"
        context_file.write_text(json.dumps(context))
        suite = _suite(Path(tmp) / "checks", pair.checks)
        result = subprocess.run(
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
            capture_output=True,
            text=True,
            timeout=_TIMEOUT,
            check=False,
            env={
                "AFENV_CHECK_CONTEXT": str(context_file),
                "PATH": "/usr/local/bin:/usr/bin:/bin",
                "PYTHONDONTWRITEBYTECODE": "1",
            },
        )
    (report_dir / "checks.log").write_text(result.stdout + result.stderr)
    if not junit.is_file():
        return (Check.of("image.checks", False, f"pytest did not run: {result.stderr[-500:]}"),)
    checks = parse_junit(junit.read_text(), experiment=pair.experiment)
    if result.returncode not in (0, 1):
        # 2-5: a module did not import or collect, or nothing ran; no test case may say so.
        checks += (Check.of("image.checks", False, f"pytest: {result.stdout[-500:]}"),)
    return checks


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

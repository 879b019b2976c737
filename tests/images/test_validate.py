"""`afenv validate` for real: a passing pair, a mismatched pair, and an interrupted run."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker
import pytest

from afenv import engine
from afenv.build.render import PACKAGED

from .conftest import OLD_TOOLZ, ROOT, Validation, afenv, build_test_image, notebook

pytestmark = pytest.mark.docker


def test_cms_pair_passes_and_is_promoted(
    client: docker.DockerClient, cms_images, cms_validation: Validation
) -> None:
    summary = cms_validation.summary
    assert summary["passed"] is True
    checks = summary["checks"]
    for name in (
        "versions.no_mismatch_warning",
        "versions.get_versions_check",
        "versions.every_shared_package",
        "image.test_root_jit_define[worker]",
        "image.test_manifest_equals_lock[singleuser]",
        "benchmark.local_equals_distributed",
        "benchmark.fit_recovers_truth",
        "notebook.ds-analysis",
        "notebook.ds-analysis.matches_benchmark",
        "tutorial.distrdf002_dask_connection",
        "tutorial.distrdf003_live_visualization",
    ):
        assert checks[name]["status"] == "passed", (name, checks[name])
    for name in ("tutorial.distrdf001_spark_connection", "tutorial.distrdf004_dask_lxbatch"):
        assert checks[name]["status"] == "skipped", name
    dask_row = summary["versions"]["dask"]
    assert dask_row["client"] == dask_row["scheduler"] == dask_row["workers"]["worker-1"]
    python_row = summary["versions"]["python"]
    assert python_row["client"] == python_row["workers"]["worker-2"]
    assert python_row["client"].startswith("3.13.")
    local, distributed = summary["benchmark"]["local"], summary["benchmark"]["distributed"]
    assert local["cutflow"] == distributed["cutflow"]
    assert local["cutflow"][0] == 200_000
    assert local["histogram"]["counts"] == distributed["histogram"]["counts"]

    report = ROOT / "reports" / "cms" / cms_images["singleuser"]["reference"].rsplit(":", 1)[1]
    # Written once, after promotion: the file is exactly what --json printed (as it was then:
    # later validations of this pair in the session write it again).
    assert cms_validation.written == summary
    assert [re.sub(r":\d{8}$", ":<day>", tag) for tag in summary["promoted"]] == [
        f"afenv/cms-{role}:{tag}"
        for role in ("worker", "singleuser")
        for tag in ("latest", "<day>")
    ]
    logs = {p.name.rsplit("-", 1)[-1] for p in (report / "logs").glob("*.log")}
    assert {"scheduler.log", "1.log", "2.log", "client.log"} <= logs
    assert list((report / "benchmark").rglob("*.png"))
    # The executed notebook, its rendering and what it made, kept in the report.
    outputs = report / "notebooks" / "ds-analysis"
    for name in ("ds-analysis.ipynb", "ds-analysis.html", "ds_mass.png", "dask-report.html"):
        assert (outputs / name).stat().st_size > 0, name
    executed = json.loads((outputs / "ds-analysis.ipynb").read_text())
    assert all(c.get("execution_count") for c in executed["cells"] if c["cell_type"] == "code")
    assert summary["timing"]["notebook_ds-analysis"] > 0
    figure = report / "tutorials" / "distrdf002_dask_connection" / "distrdf002_dask_connection.png"
    assert figure.read_bytes()[:4] == b"\x89PNG"

    for role in ("worker", "singleuser"):
        promoted = client.images.get(f"afenv/cms-{role}:latest")
        assert promoted.id == cms_images[role]["id"]
    listing = json.loads(afenv("list", "--json").stdout)
    states = {row["reference"]: row["state"] for row in listing}
    assert states[cms_images["worker"]["reference"]] == "promoted"


RAISES = ["print('fine so far')", "raise ValueError('planted failure')", "print('never')"]
# ROOT's error printed from C++ without an exception: only the output shows it.
ROOT_ERROR = ['import ROOT\nROOT.gInterpreter.ProcessLine(\'Error("afenv", "planted");\')']


def _notebook(directory: Path, name: str, cells: list[str]) -> Path:
    path = directory / f"{name}.ipynb"
    path.write_text(json.dumps(notebook(cells)))
    return path


@pytest.mark.usefixtures("cms_validated")  # the promoted tags exist
def test_mismatched_pair_fails_and_promoted_tags_stay(
    client: docker.DockerClient, cms_images, mismatched_worker: str, tmp_path: Path
) -> None:
    before = {
        role: client.images.get(f"afenv/cms-{role}:latest").id for role in ("worker", "singleuser")
    }
    raises, root_error = (
        _notebook(tmp_path, "raises", RAISES),
        _notebook(tmp_path, "root-error", ROOT_ERROR),
    )
    result = afenv(
        "validate",
        "--worker-image",
        mismatched_worker,
        "--singleuser-image",
        cms_images["singleuser"]["reference"],
        "--notebook",
        str(raises),
        "--notebook",
        str(root_error),
    )
    assert result.returncode == 7, result.stdout + result.stderr
    # Each notebook fails for its own reason, named with the notebook and the cell.
    lines = {
        line.split()[1].rstrip(":"): line
        for line in result.stdout.splitlines()
        if line.strip().startswith("FAILED")
    }
    assert "cell 1: " in lines["notebook.ds-analysis"], lines
    assert "VersionMismatchWarning" in lines["notebook.ds-analysis"]
    assert "raises.ipynb: cell 2 raised ValueError: planted failure" in lines["notebook.raises"]
    assert "root-error.ipynb: cell 1: ROOT error on " in lines["notebook.root-error"]
    assert "Error in <afenv>: planted" in lines["notebook.root-error"]
    assert "FAILED" in result.stdout
    table_rows = [line for line in result.stdout.splitlines() if line.startswith("| toolz")]
    assert table_rows
    assert OLD_TOOLZ in table_rows[0]
    # distributed's own warning fires; `get_versions(check=True)` does not look at toolz, which
    # is exactly why afenv compares every shared package itself.
    assert "FAILED     versions.no_mismatch_warning" in result.stdout
    assert "FAILED     versions.every_shared_package" in result.stdout
    after = {
        role: client.images.get(f"afenv/cms-{role}:latest").id for role in ("worker", "singleuser")
    }
    assert after == before
    assert not client.images.list(name=f"{mismatched_worker.split(':')[0]}:latest")


def _poll_while_running(
    process: subprocess.Popen[str],
    probe: Callable[[], list[Any]],
    *,
    done: Callable[[list[Any]], bool],
    seconds: float,
) -> list[Any]:
    """Poll ``probe`` (a condition, not a delay) until ``done``, the process ends, or timeout."""
    deadline = time.monotonic() + seconds
    found = probe()
    while not done(found) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
        found = probe()
    return found


def _afenv_objects(client: docker.DockerClient) -> list[str]:
    selector = {"label": engine.RUN}
    return (
        [c.name for c in client.containers.list(all=True, filters=selector)]
        + [n.name for n in client.networks.list(filters=selector)]
        + [v.name for v in client.volumes.list(filters=selector)]
    )


def _scratch() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("afenv-checks-*"))


def _check_processes() -> list[str]:
    """Running processes whose command line names a check suite's scratch folder (pytest)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            words = cmdline.read_bytes().split(b"\0")
        except OSError:  # it ended while we looked
            continue
        if any(b"/afenv-checks-" in word for word in words):
            found.append(b" ".join(words).decode(errors="replace"))
    return found


# When to press Ctrl-C: each a condition on what the validation has started (``before``: the
# check suites' scratch folders that existed before it, e.g. an interrupted run's).
PHASES: dict[str, Callable[[docker.DockerClient, set[Path]], bool]] = {
    "cluster": lambda client, _before: (
        len(client.containers.list(filters={"label": f"{engine.PURPOSE}=validate"})) >= 4
    ),
    "image-checks": lambda _client, before: bool(_scratch() - before) and bool(_check_processes()),
    "benchmark": lambda client, _before: bool(
        client.containers.list(
            all=True, filters={"name": "-generate", "label": f"{engine.PURPOSE}=validate"}
        )
    ),
}


@pytest.mark.usefixtures("cms_images")
@pytest.mark.parametrize("phase", sorted(PHASES))
def test_interrupted_validation_leaves_nothing_behind(
    client: docker.DockerClient, phase: str
) -> None:
    assert _afenv_objects(client) == []
    # Met before the validation starts, the condition would fire the signal before afenv
    # installs its handler (a parent may have started it with SIGINT ignored).
    scratch = _scratch()
    assert not PHASES[phase](client, scratch), f"{phase}: holds before any validation"
    process = subprocess.Popen(
        [sys.executable, "-m", "afenv.cli", "--project", str(ROOT), "validate", "cms"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        reached = _poll_while_running(
            process,
            lambda: [PHASES[phase](client, scratch)],
            done=lambda found: found[0],
            seconds=300,
        )
        assert reached[0], f"the validation never reached {phase}"
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=180)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1].startswith("afenv: error: interrupted")
    assert _afenv_objects(client) == []
    assert _scratch() <= scratch


@pytest.fixture
def broken_worker(client: docker.DockerClient, cms_images) -> str:  # type: ignore[no-untyped-def]
    """The cms worker image whose `dask worker` dies at start (the scheduler still runs)."""
    wrapper = (
        "#!/bin/sh\n"
        'if [ "$1" = worker ]; then echo "worker cannot start: broken on purpose" >&2; exit 3; fi\n'
        'exec /opt/afenv/venv/bin/dask-real "$@"\n'
    )
    dockerfile = (
        f"FROM {cms_images['worker']['reference']}\nUSER root\n"
        "RUN mv /opt/afenv/venv/bin/dask /opt/afenv/venv/bin/dask-real\n"
        "COPY dask /opt/afenv/venv/bin/dask\nUSER 1000:100\n"
    )
    image_id = build_test_image(
        client, "afenv-test/cms-worker-broken:test", dockerfile, {"dask": (wrapper.encode(), 0o755)}
    )
    yield "afenv-test/cms-worker-broken:test"
    client.images.remove(image_id, force=True)


def test_worker_that_never_registers_is_named_with_its_log(cms_images, broken_worker: str) -> None:
    result = afenv(
        "validate",
        "--worker-image",
        broken_worker,
        "--singleuser-image",
        cms_images["singleuser"]["reference"],
        "--registration-timeout",
        "20",
        "--json",
    )
    assert result.returncode == 7
    check = json.loads(result.stdout)["checks"]["cluster.registration"]
    assert check["status"] == "failed"
    assert "never registered: worker-1, worker-2" in check["message"]
    assert "worker cannot start: broken on purpose" in check["message"]


def _afenv_tags(client: docker.DockerClient) -> set[str]:
    return {
        tag
        for image in client.images.list()
        for tag in image.tags
        if tag.startswith(("afenv/", "afenv-staging/"))
    }


@pytest.mark.usefixtures("cms_images")
def test_interrupted_build_tags_nothing(client: docker.DockerClient, project_copy: Path) -> None:
    """Interrupt a real rebuild (a worker file overridden) once the worker is staged."""
    overrides = project_copy / "templates/files"
    overrides.mkdir(parents=True)
    (overrides / "afenv-bench").write_text(
        (PACKAGED / "files/afenv-bench").read_text() + "# forces a new content hash\n"
    )
    before = {c.id for c in client.containers.list(all=True)}
    tags_before = _afenv_tags(client)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "afenv.cli",
            "--project",
            str(project_copy),
            "build",
            "cms",
            "--no-validate",
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        staged = _poll_while_running(
            process,
            lambda: client.images.list(name="afenv-staging/cms-worker"),
            done=bool,
            seconds=600,
        )
        assert staged, "the worker was never staged"
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1].startswith("afenv: error: build interrupted")
    assert client.images.list(name="afenv-staging/*") == []
    assert _afenv_tags(client) == tags_before  # neither new hash tags nor staging names
    assert {c.id for c in client.containers.list(all=True)} <= before

"""The build plan as data: no Docker, no network."""

from __future__ import annotations

import io
import tarfile
import time
from pathlib import Path

import pytest

from afenv import engine
from afenv.build import BuildPlan, make_plan
from afenv.build.base import BaseImage
from afenv.build.context import file_entry, inline_entry, write_tar
from afenv.build.render import PACKAGED
from afenv.lock import LockedWheel, load_locks
from afenv.spec import load_project

BASE = BaseImage(
    reference="afenv/debian:trixie-20261124", image_id="sha256:" + "1" * 64, origin="bootstrapped"
)


def _wheel_path(wheel: LockedWheel) -> Path:
    return Path("/nonexistent/wheels") / wheel.filename  # the plan never reads wheels


def _plan(root: Path, experiment: str = "cms", base: BaseImage = BASE) -> BuildPlan:
    project = load_project(root)
    exp = project.experiment(experiment)
    return make_plan(project, exp, load_locks(project, exp), base, _wheel_path)


def test_plan_is_worker_then_singleuser_on_top(project_copy: Path) -> None:
    plan = _plan(project_copy)
    worker, singleuser = plan.images
    assert (worker.role, singleuser.role) == ("worker", "singleuser")
    assert worker.parent == BASE.reference
    assert singleuser.parent == worker.staging
    assert singleuser.dockerfile.count(f"\nFROM {worker.staging}\n") == 1

    # Both open with the same base-os and core-build stages, the notebook stage builds on the
    # core venv: a change in the worker's role layer does not reinstall the notebook packages.
    def stages(dockerfile: str) -> str:
        body = dockerfile.split("\nFROM ", 1)[1]
        return body.split("-r /tmp/core.txt\n", 1)[0]

    assert stages(worker.dockerfile) == stages(singleuser.dockerfile)
    assert "FROM core-build AS notebook-build" in singleuser.dockerfile
    shared = {
        (f.path, f.sha256)
        for f in worker.files
        if f.path.startswith(("wheels/core/", "wheels/build/"))
    }
    assert shared <= {(f.path, f.sha256) for f in singleuser.files}
    assert any(path.startswith("wheels/build/uv-") for path, _ in shared)
    assert [layer.name for layer in worker.layers] == ["base-os", "core", "experiment", "worker"]
    assert [layer.name for layer in singleuser.layers] == [
        "base-os",
        "core",
        "experiment",
        "worker",
        "notebook",
    ]
    assert worker.repository == "afenv/cms-worker"
    assert worker.reference == f"afenv/cms-worker:{worker.content_hash}"
    core = dict(p.split("==") for p in worker.layers[1].packages)
    assert core["root"] == "0.1a12"
    experiment = {p.split("==")[0] for p in worker.layers[2].packages}
    assert {"coffea", "correctionlib", "uproot"} <= experiment
    assert not experiment & set(core)
    notebook = {p.split("==")[0] for p in singleuser.layers[-1].packages}
    assert {"jupyterlab", "jupyterhub", "dask-labextension"} <= notebook


def test_wheels_only_reach_build_stages(project_copy: Path) -> None:
    worker, singleuser = _plan(project_copy).images
    for image in (worker, singleuser):
        final_stage = image.dockerfile.rsplit("\nFROM ", 1)[1]
        assert "wheels" not in final_stage
        assert "COPY --from=" in final_stage
    wheel_files = [f for f in worker.files if f.path.startswith("wheels/")]
    assert any(f.path.startswith("wheels/core/root-0.1a12-cp313") for f in wheel_files)


def test_labels_name_experiment_role_and_hash(project_copy: Path) -> None:
    worker, singleuser = _plan(project_copy).images
    # Images say what they are; they never carry the run labels of what afenv creates, or
    # every container started from them would look like afenv's own.
    for image in (worker, singleuser):
        assert not {engine.RUN, engine.OWNER, engine.PURPOSE, "io.afenv.managed"} & set(
            image.labels
        )
    assert worker.labels["io.afenv.experiment"] == "cms"
    assert worker.labels["io.afenv.role"] == "worker"
    assert worker.labels["io.afenv.content-hash"] == worker.content_hash
    assert worker.labels["io.afenv.lock-digest"].startswith("sha256:")
    assert singleuser.labels["io.afenv.worker-hash"] == worker.content_hash
    assert worker.labels["org.opencontainers.image.version"] == worker.content_hash
    assert 'io.afenv.role="worker"' in worker.dockerfile


def test_worker_runs_tini_and_dask_as_non_root(project_copy: Path) -> None:
    worker, singleuser = _plan(project_copy).images
    assert 'ENTRYPOINT ["/usr/bin/tini", "-g", "--", "afenv-entrypoint"]' in worker.dockerfile
    assert 'CMD ["dask", "worker"]' in worker.dockerfile
    assert worker.dockerfile.rstrip().splitlines()[-4:][0] != "USER root"
    assert "\nUSER 1000:100\n" in worker.dockerfile.rsplit("\nFROM ", 1)[1]
    assert "\nUSER 1000:100\n" in singleuser.dockerfile.rsplit("\nFROM ", 1)[1]
    for repo in ("cms.cern.ch", "grid.cern.ch"):
        assert f"/cvmfs/{repo}" in worker.dockerfile


def test_content_hash_is_stable(project_copy: Path) -> None:
    first = _plan(project_copy)
    second = _plan(project_copy)
    assert [i.content_hash for i in first.images] == [i.content_hash for i in second.images]
    assert [i.dockerfile for i in first.images] == [i.dockerfile for i in second.images]


def test_content_hash_follows_its_inputs(project_copy: Path) -> None:
    worker, singleuser = _plan(project_copy).images
    other_base = BaseImage(reference=BASE.reference, image_id="sha256:" + "2" * 64, origin="local")
    assert _plan(project_copy, base=other_base).images[0].content_hash != worker.content_hash

    # A notebook-only template change (a facility's override) leaves the worker alone.
    overrides = project_copy / "templates"
    (overrides / "files").mkdir(parents=True)
    template = overrides / "singleuser.Dockerfile.j2"
    template.write_text((PACKAGED / "singleuser.Dockerfile.j2").read_text() + "\n# tweak\n")
    worker2, singleuser2 = _plan(project_copy).images
    assert worker2.content_hash == worker.content_hash
    assert singleuser2.content_hash != singleuser.content_hash
    assert "# tweak" in singleuser2.dockerfile

    # A file of the worker's role layer changes the worker, and so the singleuser above it.
    (overrides / "files/afenv-bench").write_text("#!/bin/sh\n# changed\n")
    worker3, singleuser3 = _plan(project_copy).images
    assert worker3.content_hash != worker.content_hash
    assert singleuser3.content_hash != singleuser2.content_hash


def test_base_and_core_layers_are_identical_across_experiments(project_copy: Path) -> None:
    """Layers 1-2 must hit the same build cache for every experiment (the same bytes)."""

    def shared_part(experiment: str) -> tuple[str, list[tuple[str, str]]]:
        worker = _plan(project_copy, experiment).images[0]
        # Everything before the first experiment-specific stage: base-os and core-build.
        head = worker.dockerfile.split("FROM core-build AS experiment-build", 1)[0]
        head = head.split("\n", 2)[2]  # the title line names the experiment
        files = sorted(
            (f.path, f.sha256)
            for f in worker.files
            if f.path.startswith("wheels/core/") or f.path == "lock/core.txt"
        )
        return head, files

    assert shared_part("cms") == shared_part("atlas") == shared_part("fcc")


def test_context_tar_is_deterministic(tmp_path: Path) -> None:
    source = tmp_path / "a.txt"
    source.write_text("payload")
    entries = [file_entry("x/a.txt", source), inline_entry("Dockerfile", "FROM scratch\n")]
    first = io.BytesIO()
    write_tar(entries, first)
    time.sleep(0.01)  # not synchronisation: a later mtime that must not matter
    source.touch()
    second = io.BytesIO()
    write_tar(list(reversed(entries)), second)
    assert first.getvalue() == second.getvalue()
    with tarfile.open(fileobj=io.BytesIO(first.getvalue())) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["Dockerfile", "x", "x/a.txt"]
    assert all(m.mtime == 0 and m.uid == 0 and m.gid == 0 for m in members)


@pytest.mark.parametrize("experiment", ["atlas", "cms", "fcc"])
def test_every_experiment_plans(project_copy: Path, experiment: str) -> None:
    plan = _plan(project_copy, experiment)
    assert {i.repository for i in plan.images} == {
        f"afenv/{experiment}-worker",
        f"afenv/{experiment}-singleuser",
    }


def test_no_secret_or_host_trust_enters_a_build_context(project_copy: Path) -> None:
    """Proxies, keys, tokens and the host's CA bundle stay on the host."""
    for image in _plan(project_copy).images:
        for entry in image.files:
            name = entry.path.rsplit("/", 1)[-1]
            assert not name.endswith((".pem", ".crt", ".key", ".p12")), entry.path
            # Only what the plan puts there on purpose: nothing from the host's environment.
            allowed = (
                "wheels/",
                "lock/",
                "runtime/",
                "grid/",
                "bin/",
                "site/",
                "manifest/",
                "dask/",
                "jupyter/",
                "afenv/",
            )
            assert entry.path.startswith(allowed), entry.path
            assert not name.startswith("x509up"), entry.path
        text = image.dockerfile.lower()
        for word in ("http_proxy", "https_proxy", "ssl_cert_file", "pip_cert", "--cert", "token"):
            assert word not in text, (image.name, word)


@pytest.mark.parametrize("experiment", ["atlas", "cms", "fcc"])
def test_every_copy_source_is_in_the_context(project_copy: Path, experiment: str) -> None:
    """A COPY of something the context lacks fails only at build time: catch it here."""
    for image in _plan(project_copy, experiment).images:
        paths = [f.path for f in image.files]
        for line in image.dockerfile.splitlines():
            words = line.split()
            if words[:1] != ["COPY"] or words[1].startswith("--from="):
                continue
            source = words[1]
            assert any(p == source or p.startswith(source.rstrip("/") + "/") for p in paths), (
                f"{image.name}: {line}"
            )

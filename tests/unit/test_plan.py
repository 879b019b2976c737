"""The build plan as data: no Docker, no network."""

from __future__ import annotations

import io
import json
import tarfile
import time
from pathlib import Path

import pytest

from afenv import engine
from afenv.build import BuildPlan, ImagePlan, make_plan
from afenv.build.base import BaseImage
from afenv.build.context import file_entry, inline_entry, write_tar
from afenv.build.render import PACKAGED
from afenv.errors import LockError
from afenv.lock import LockedWheel, load_locks
from afenv.lock.drift import file_digest
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


def test_plan_is_two_images_over_shared_base_and_core(project_copy: Path) -> None:
    plan = _plan(project_copy)
    worker, singleuser = plan.images
    assert (worker.role, singleuser.role) == ("worker", "singleuser")
    assert worker.parent == BASE.reference
    assert singleuser.parent == BASE.reference

    # Both open with the same build stages and start their final stage FROM base-os with the
    # same copy of the core venv: the second build finds all of it in the build cache.
    def opening(dockerfile: str) -> str:
        body = dockerfile.split("\nFROM ", 1)[1]
        return body.split(" -m afenv_bench.prepare /opt/afenv/cpp >/dev/null\n", 1)[0]

    assert opening(worker.dockerfile) == opening(singleuser.dockerfile)
    for image, stage in ((worker, "worker"), (singleuser, "singleuser")):
        final = image.dockerfile.split(f"\nFROM base-os AS {stage}\n", 1)[1]
        assert final.startswith("COPY --from=core-build /opt/afenv/venv /opt/afenv/venv\n")
    assert "FROM core-build AS notebook-build" in singleuser.dockerfile
    assert "FROM core-build AS bench-build" in worker.dockerfile
    shared = {
        (f.path, f.sha256)
        for f in worker.files
        if f.path.startswith(("wheels/core/", "wheels/build/", "bench/"))
    }
    assert shared <= {(f.path, f.sha256) for f in singleuser.files}
    assert any(path.startswith("wheels/build/uv-") for path, _ in shared)
    assert [layer.name for layer in worker.layers] == ["base-os", "core", "experiment", "worker"]
    assert [layer.name for layer in singleuser.layers] == [
        "base-os",
        "core",
        "notebook",
        "experiment",
        "singleuser",
    ]
    assert worker.layers[:2] == singleuser.layers[:2]
    assert worker.repository == "afenv/cms-worker"
    assert worker.reference == f"afenv/cms-worker:{worker.content_hash}"
    core = dict(p.split("==") for p in worker.layers[1].packages)
    assert core["root"] == "0.1a12"
    assert {"coffea", "correctionlib", "uproot"} <= set(core)  # the facility's HEP stack
    # cms adds no Python package to the core: no experiment-build stage, only its CVMFS paths.
    assert not [p for p in worker.layers[2].packages if "==" in p]
    assert "AS experiment-build" not in worker.dockerfile
    assert "/cvmfs/cms.cern.ch" in worker.dockerfile


def test_the_singleuser_experiment_layer_is_what_the_notebook_lacks(project_copy: Path) -> None:
    worker, singleuser = _plan(project_copy, "atlas").images
    core = {p.split("==")[0] for p in worker.layers[1].packages}
    experiment = {p.split("==")[0] for p in worker.layers[2].packages}
    assert {"pyhf", "atlas-mpl-style"} <= experiment
    assert not experiment & core
    notebook = {p.split("==")[0] for p in singleuser.layers[2].packages if "==" in p}
    assert any(p.startswith("pandoc=") for p in singleuser.layers[2].packages)
    assert {"jupyterlab", "jupyterhub", "dask-labextension", "ipykernel"} <= notebook
    # The singleuser's experiment layer is what the notebook layer lacks of the worker's, and
    # the image holds exactly the singleuser lock: core, notebook, experiment.
    own = {p.split("==")[0] for p in singleuser.layers[3].packages}
    assert own == experiment - notebook
    assert "jsonschema" in experiment  # pyhf's, and the notebook's (jupyter_events)
    assert "jsonschema" not in own
    installed = core | notebook | own
    locked = json.loads(next(f for f in singleuser.files if f.path == "manifest/python.json").data)
    assert installed == {entry["name"] for entry in locked}


def test_the_notebook_layer_is_the_same_for_every_experiment(project_copy: Path) -> None:
    """Its stage and its files do not depend on the experiment, so every experiment's
    singleuser image shares it (the engine's cache and a registry store it once)."""
    images = {name: _plan(project_copy, name).images[1] for name in ("cms", "atlas", "fcc")}

    def notebook(image: ImagePlan) -> tuple[object, ...]:
        final = image.dockerfile.split("\nFROM base-os AS singleuser\n", 1)[1]
        stage = image.dockerfile.split("\nFROM core-build AS notebook-build\n", 1)[1]
        files = sorted((f.path, f.sha256) for f in image.files if "notebook" in f.path)
        return (
            final.split("# Experiment-specific from here on", 1)[0],
            stage.split("\nFROM ", 1)[0],
            files,
            image.layers[2],
        )

    assert notebook(images["cms"]) == notebook(images["atlas"]) == notebook(images["fcc"])


def test_a_stale_singleuser_lock_is_refused(project_copy: Path) -> None:
    lock = project_copy / "images/cms/lock/singleuser.txt"
    lines = lock.read_text().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith("jupyterlab=="))
    kept = lines[:at] + lines[at + 2 :]  # the pin and its hash line
    assert len(kept) == len(lines) - 2
    lock.write_text("".join(kept))
    # Re-digested, as a contributor who edits lock files by hand might: the drift check passes.
    inputs = project_copy / "envs/lock/inputs.json"
    data = json.loads(inputs.read_text())
    data["files"]["images/cms/lock/singleuser.txt"] = file_digest(lock.read_text())
    inputs.write_text(json.dumps(data))
    with pytest.raises(
        LockError, match=r"images/cms singleuser: jupyterlab differs from the notebook"
    ):
        _plan(project_copy)


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
        # Everything before the first experiment-specific stage: base-os, core- and bench-build.
        head = worker.dockerfile.split(" -m afenv_bench.prepare /opt/afenv/cpp >/dev/null\n", 1)[0]
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
                "bench/",
                "lock/",
                "runtime/",
                "grid/",
                "bin/",
                "site/",
                "manifest/",
                "dask/",
                "dask-defaults/",
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


def test_both_images_carry_the_dask_settings(project_copy: Path, tmp_path: Path) -> None:
    """A scheduler or worker started in either image (validation's, the operator's pods, a
    notebook's LocalCluster) reads afenv's settings from /etc/dask; Dask's own loader reads
    the file."""
    import dask.config

    from afenv_runtime.daskdefaults import SETTINGS

    for image in _plan(project_copy).images:
        entry = next(f for f in image.files if f.path == "dask-defaults/afenv-cluster.yaml")
        assert "\nCOPY dask-defaults/ /etc/dask/\n" in image.dockerfile, image.name
        assert entry.data is not None
        folder = tmp_path / image.name
        folder.mkdir()
        (folder / "afenv-cluster.yaml").write_bytes(entry.data)
        read = dask.config.collect(paths=[str(folder)], env={})
        for key, value in SETTINGS.items():
            assert dask.config.get(key, config=read) == value, (image.name, key)

"""`afenv build cms` for real: what users get in the worker and singleuser images."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import docker
import pytest

from afenv import engine
from afenv.lock import load_locks
from afenv.spec import load_project
from afenv.validate import pair_for_experiment
from afenv.validate.checks_phase import run_image_checks

from .conftest import LABELS, ROOT, afenv, run

pytestmark = pytest.mark.docker

ROLES = ("worker", "singleuser")


def test_the_image_checks_pass_on_the_built_pair(
    client: docker.DockerClient, cms_images, tmp_path: Path
) -> None:
    """The same check suite `afenv validate` runs (one copy), here on fresh containers."""
    project = load_project(ROOT)
    experiment = project.experiment("cms")
    references = {role: cms_images[role]["reference"] for role in ROLES}
    pair = pair_for_experiment(experiment, references, load_locks(project, experiment))
    containers = {
        role: client.containers.run(
            reference, ["sleep", "600"], detach=True, labels=LABELS, entrypoint=["timeout", "660"]
        )
        for role, reference in references.items()
    }
    try:
        checks = run_image_checks(
            engine.Engine(client), {r: c.id for r, c in containers.items()}, pair, tmp_path
        )
    finally:
        for container in containers.values():
            container.remove(force=True)
    failed = [c for c in checks if c.status == "failed"]
    assert not failed, failed
    every = [c.name for c in checks]
    assert len(every) == len(set(every)), "a check ran in both roles' processes"
    # One pytest process per role, at once; one JUnit file with a suite per role.
    suites = [s.get("name") for s in ET.parse(tmp_path / "checks.xml").iter("testsuite")]
    assert sorted(suites) == ["image checks (singleuser)", "image checks (worker)"]
    names = {c.name for c in checks if c.status == "passed"}
    assert {
        "image.test_root_jit_define[worker]",
        "image.test_root_jit_define[singleuser]",
        "image.test_manifest_equals_lock[singleuser]",
        "image.test_grid_layout_and_tools[worker]",
        "image.test_jupyterhub_singleuser[singleuser]",
    } <= names


def _manifest(image: dict) -> dict[str, dict[str, str]]:
    entries = json.loads((Path(image["manifest"]) / "python.json").read_text())
    return {e["name"]: e for e in entries}


def test_shared_packages_are_identical_in_both_images(cms_images) -> None:
    """Same version, same wheel, same hash in both images (each image's checks compare its
    manifest with what pip reports inside)."""
    worker_manifest = _manifest(cms_images["worker"])
    singleuser_manifest = _manifest(cms_images["singleuser"])
    assert set(worker_manifest) < set(singleuser_manifest)
    assert {"root", "dask", "distributed", "msgpack", "toolz", "coffea"} <= set(worker_manifest)
    for name, entry in worker_manifest.items():
        assert singleuser_manifest[name] == entry, name


def test_manifest_inside_image_matches_host_copy(client: docker.DockerClient, cms_images) -> None:
    for role in ROLES:
        image = cms_images[role]
        result = run(client, image["reference"], ["cat", "/opt/afenv/manifest/python.json"])
        assert json.loads(result.stdout) == json.loads(
            (Path(image["manifest"]) / "python.json").read_text()
        )
        debian = (Path(image["manifest"]) / "debian.txt").read_text()
        assert "python3=" in debian
        assert "voms-clients=" in debian
        assert "tini=" in debian


def test_the_pair_shares_the_base_and_the_core_venv(
    client: docker.DockerClient, cms_images
) -> None:
    """The singleuser image opens with the worker's layers up to the core venv, the same
    bytes; the worker's experiment layer is the singleuser's only after the notebook layer."""
    docker_engine = engine.Engine(client)
    worker = docker_engine.layer_steps(cms_images["worker"]["reference"])
    singleuser = docker_engine.layer_steps(cms_images["singleuser"]["reference"])
    shared = engine.shared_layers(worker, singleuser)
    assert "COPY" in shared[-1].created_by
    assert "in /opt/afenv/venv" in shared[-1].created_by
    assert shared[-1].size > 1_000_000_000  # ROOT alone is about 570 MB
    assert len(worker) > len(shared)
    assert len(singleuser) > len(shared)


def test_every_singleuser_image_shares_the_notebook_layer(
    client: docker.DockerClient, cms_images
) -> None:
    """A second experiment's notebook image reuses cms's base, core and notebook layers (the
    engine stores them once, a registry serves them once); its worker shares base and core."""
    built = afenv("build", "fcc", "--no-validate", "--json")
    assert built.returncode == 0, built.stderr[-3000:]
    fcc = {image["role"]: image["reference"] for image in json.loads(built.stdout)["images"]}
    docker_engine = engine.Engine(client)
    cms_notebook = docker_engine.layer_steps(cms_images["singleuser"]["reference"])
    shared = engine.shared_layers(cms_notebook, docker_engine.layer_steps(fcc["singleuser"]))
    venv = [s for s in shared if "COPY" in s.created_by and "in /opt/afenv/venv" in s.created_by]
    assert len(venv) == 2  # the core venv and the notebook's overlay (cms's own comes after)
    assert venv[1].size > 100_000_000  # JupyterLab and its kin
    assert any("apt-get install" in s.created_by and "pandoc=" in s.created_by for s in shared)
    assert "mkdir -p /cvmfs /cvmfs/" in cms_notebook[len(shared)].created_by  # cms's own
    workers = engine.shared_layers(
        docker_engine.layer_steps(cms_images["worker"]["reference"]),
        docker_engine.layer_steps(fcc["worker"]),
    )
    assert "in /opt/afenv/venv" in workers[-1].created_by


def test_labels_on_the_images(client: docker.DockerClient, cms_images) -> None:
    for role in ROLES:
        labels = client.images.get(cms_images[role]["reference"]).labels
        assert not {engine.RUN, engine.OWNER, engine.PURPOSE} & set(labels)
        assert labels["io.afenv.experiment"] == "cms"
        assert labels["io.afenv.role"] == role
        assert cms_images[role]["reference"].endswith(":" + labels["io.afenv.content-hash"])
        assert labels["org.opencontainers.image.title"] == f"afenv cms-{role}"


def test_second_build_rebuilds_nothing(client: docker.DockerClient, cms_images) -> None:
    result = afenv("build", "cms", "--no-validate", "--json")
    assert result.returncode == 0, result.stderr
    again = {i["role"]: i for i in json.loads(result.stdout)["images"]}
    for role in ROLES:
        assert again[role]["built"] is False
        assert again[role]["id"] == cms_images[role]["id"]
    assert not client.images.list(name="afenv-staging/*")

"""`afenv build cms` for real: what users get in the worker and singleuser images."""

from __future__ import annotations

import json
from pathlib import Path

import docker
import pytest
import testinfra

from afenv.benchrun import cling_errors

from .conftest import LABELS, afenv, run

pytestmark = pytest.mark.docker

ROLES = ("worker", "singleuser")
RDF_CHECK = (
    "import warnings; warnings.filterwarnings('ignore', message='.*alpha stage.*');"
    "import ROOT, dask, distributed;"
    "df = ROOT.RDataFrame(1000).Define('x', 'sqrt(rdfentry_ * 1.0) + gRandom->Uniform(0, 0)');"
    "h = df.Filter('x > 10').Count();"
    "print('RDF', h.GetValue(), ROOT.gROOT.GetVersion(), dask.__version__)"
)


@pytest.mark.parametrize("role", ROLES)
def test_root_dask_and_a_jit_define_run(client: docker.DockerClient, cms_images, role: str) -> None:
    result = run(client, cms_images[role]["reference"], ["python", "-c", RDF_CHECK])
    assert result.exit_code == 0, result.stderr
    assert cling_errors(result.stderr) == []
    words = result.stdout.split()
    assert words[0] == "RDF" and words[1] == str(1000 - 101)  # sqrt(n) > 10  <=>  n > 100
    assert words[2].startswith("6.40")


def _pip_packages(client: docker.DockerClient, image: str) -> dict[str, str]:
    """What pip inside a running container reports, read with testinfra."""
    container = client.containers.run(
        image, ["sleep", "600"], detach=True, labels=LABELS, entrypoint=["timeout", "660"]
    )
    try:
        host = testinfra.get_host(f"docker://{container.id}")
        packages = host.pip.get_packages(pip_path="/opt/afenv/venv/bin/pip")
    finally:
        container.remove(force=True)
    return {name.lower().replace("_", "-"): info["version"] for name, info in packages.items()}


def _manifest(image: dict) -> dict[str, dict[str, str]]:
    entries = json.loads((Path(image["manifest"]) / "python.json").read_text())
    return {e["name"]: e for e in entries}


def test_shared_packages_are_identical_in_both_images(
    client: docker.DockerClient, cms_images
) -> None:
    worker_manifest = _manifest(cms_images["worker"])
    singleuser_manifest = _manifest(cms_images["singleuser"])
    assert set(worker_manifest) < set(singleuser_manifest)
    for name, entry in worker_manifest.items():
        assert singleuser_manifest[name] == entry, name  # same version, same wheel, same hash

    worker_pip = _pip_packages(client, cms_images["worker"]["reference"])
    singleuser_pip = _pip_packages(client, cms_images["singleuser"]["reference"])
    shared = set(worker_pip) & set(singleuser_pip)
    assert {"root", "dask", "distributed", "msgpack", "toolz", "coffea"} <= shared
    mismatched = {
        n: (worker_pip[n], singleuser_pip[n]) for n in shared if worker_pip[n] != singleuser_pip[n]
    }
    assert mismatched == {}
    # ...and pip agrees with the manifest (pip itself comes from Debian's venv, not the lock).
    for pip_packages, manifest in (
        (worker_pip, worker_manifest),
        (singleuser_pip, singleuser_manifest),
    ):
        installed = {n: v for n, v in pip_packages.items() if n != "pip"}
        assert installed == {n: e["version"] for n, e in manifest.items()}


def test_manifest_inside_image_matches_host_copy(client: docker.DockerClient, cms_images) -> None:
    for role in ROLES:
        image = cms_images[role]
        result = run(client, image["reference"], ["cat", "/opt/afenv/manifest/python.json"])
        assert json.loads(result.stdout) == json.loads(
            (Path(image["manifest"]) / "python.json").read_text()
        )
        debian = (Path(image["manifest"]) / "debian.txt").read_text()
        assert "python3=" in debian and "voms-clients=" in debian and "tini=" in debian


def test_singleuser_contains_every_worker_layer(client: docker.DockerClient, cms_images) -> None:
    worker = client.images.get(cms_images["worker"]["reference"])
    singleuser = client.images.get(cms_images["singleuser"]["reference"])
    worker_layers = worker.attrs["RootFS"]["Layers"]
    singleuser_layers = singleuser.attrs["RootFS"]["Layers"]
    assert singleuser_layers[: len(worker_layers)] == worker_layers
    assert len(singleuser_layers) > len(worker_layers)


def test_users_and_entrypoints(client: docker.DockerClient, cms_images) -> None:
    worker = run(
        client, cms_images["worker"]["reference"], ["sh", "-c", "id -u; id -g; echo $HOME"]
    )
    uid, _, home = worker.stdout.split()
    assert uid != "0" and home == "/home/jovyan"
    singleuser = run(
        client, cms_images["singleuser"]["reference"], ["sh", "-c", "id -un; id -u; echo $HOME"]
    )
    assert singleuser.stdout.split() == ["jovyan", "1000", "/home/jovyan"]
    for role in ROLES:
        config = client.images.get(cms_images[role]["reference"]).attrs["Config"]
        assert config["Entrypoint"] == ["/usr/bin/tini", "-g", "--"]
        assert config["User"] == "1000:100"
    assert client.images.get(cms_images["worker"]["reference"]).attrs["Config"]["Cmd"] == [
        "dask",
        "worker",
    ]
    version = run(
        client, cms_images["singleuser"]["reference"], ["jupyterhub-singleuser", "--version"]
    )
    assert version.exit_code == 0 and version.stdout.strip()[0].isdigit()
    lab = run(client, cms_images["singleuser"]["reference"], ["jupyter", "labextension", "list"])
    assert "dask-labextension" in lab.stdout + lab.stderr


def test_grid_layout_and_tools(client: docker.DockerClient, cms_images) -> None:
    result = run(
        client,
        cms_images["worker"]["reference"],
        [
            "sh",
            "-c",
            "test -d /cvmfs/cms.cern.ch && test -d /etc/grid-security/certificates "
            "&& test -f /etc/vomses/cms "
            "&& test -f /etc/grid-security/vomsdir/cms/voms-cms-auth.cern.ch.lsc "
            "&& command -v voms-proxy-info && command -v openssl && echo $X509_CERT_DIR",
        ],
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip().endswith("/etc/grid-security/certificates")


def test_labels_on_the_images(client: docker.DockerClient, cms_images) -> None:
    for role in ROLES:
        labels = client.images.get(cms_images[role]["reference"]).labels
        assert labels["io.afenv.managed"] == "true"
        assert labels["io.afenv.experiment"] == "cms" and labels["io.afenv.role"] == role
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

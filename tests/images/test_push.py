"""`afenv push` against a real registry (Debian's docker-registry, distribution 2.8).

One storage folder serves the module's registries one after the other: plain HTTP on loopback
first, where the pairs are uploaded, then TLS with htpasswd authentication on the engine's bridge
gateway (Docker skips certificate checks for any loopback registry, see afenv.testing.registry),
where the same layers are already present and the test is about trust and passwords.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from afenv.engine import Engine
from afenv.hub.push import PASSWORD, USERNAME
from afenv.state import State
from afenv.testing import credentials, registry
from afenv.testing.chart import check_values

from .conftest import ROOT, afenv

pytestmark = pytest.mark.docker

PREFIX = "facility/icsc"
USER, SECRET = "physicist", "correct horse battery staple"


@pytest.fixture(scope="module")
def storage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("registry-storage")


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory, storage: Path) -> Iterator[registry.Registry]:
    directory = tmp_path_factory.mktemp("plain-registry")
    state = ROOT / ".afenv"
    with registry.serve(directory, host="127.0.0.1", storage=storage, state_dir=state) as served:
        yield served


@pytest.fixture(scope="module", autouse=True)
def only_cms_validated() -> Iterator[None]:
    """The module's premise: cms's is the only validated pair. What else was validated (by
    the CI's matrix, the hub's tests or an earlier session) is set aside for the module, its
    promotion and its images' validation records, and put back after."""
    state = State(ROOT / ".afenv")
    with state.update() as data:
        promoted = {name: pair for name, pair in data["promoted"].items() if name != "cms"}
        for name in promoted:
            del data["promoted"][name]
        references = [reference for pair in promoted.values() for reference in pair]
        aside = {r: data["images"].get(r, {}).pop("validation", None) for r in references}
    try:
        yield
    finally:
        with state.update() as data:
            for name, pair in promoted.items():
                data["promoted"].setdefault(name, pair)
            for reference, validation in aside.items():
                entry = data["images"].setdefault(reference, {})
                if validation is not None and "validation" not in entry:
                    entry["validation"] = validation


@pytest.fixture(scope="module")
def fcc_images(cms_images: dict[str, Any]) -> dict[str, dict[str, Any]]:  # noqa: ARG001
    """A second experiment's pair, built on the layers cms built, and not validated (see
    only_cms_validated)."""
    result = afenv("build", "fcc", "--no-validate", "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    return {image["role"]: image for image in json.loads(result.stdout)["images"]}


@pytest.fixture(scope="module")
def cms_pushed(plain: registry.Registry, cms_validated: dict[str, Any]) -> dict[str, Any]:
    assert cms_validated["passed"]
    result = afenv("push", "cms", "--registry", f"{plain.address}/{PREFIX}", "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def _error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one `afenv: error:` line, which must also be the last line."""
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("afenv: error:")]
    assert len(errors) == 1, result.stderr[-2000:]
    assert lines[-1] == errors[0]
    return errors[0]


def _catalog(served: registry.Registry) -> list[str]:
    import urllib.request

    with urllib.request.urlopen(f"http://{served.address}/v2/_catalog", timeout=30) as answer:
        return list(json.load(answer)["repositories"])


def _layers(client: docker.DockerClient, reference: str) -> set[str]:
    return set(client.images.get(reference).attrs["RootFS"]["Layers"])


def test_an_unvalidated_pair_is_refused_unless_forced(
    plain: registry.Registry, fcc_images: dict[str, Any]
) -> None:
    result = afenv("push", "fcc", "--registry", f"{plain.address}/{PREFIX}")
    assert result.returncode == 2
    line = _error_line(result)
    assert fcc_images["worker"]["reference"] in line
    assert "did not pass validation" in line
    assert "--force" in line
    assert not [name for name in _catalog(plain) if name.endswith(("fcc-worker", "fcc-singleuser"))]


def test_the_validated_pair_goes_by_digest_and_comes_back(
    client: docker.DockerClient, plain: registry.Registry, cms_images: dict[str, Any], cms_pushed
) -> None:
    assert cms_pushed["validated"] is True
    images = {image["role"]: image for image in cms_pushed["images"]}
    assert sorted(images) == ["singleuser", "worker"]
    for role, image in images.items():
        repository = f"{plain.address}/{PREFIX}/cms-{role}"
        assert image["source"] == cms_images[role]["reference"]
        assert image["pinned"].startswith(f"{repository}@sha256:")
        assert f"{PREFIX}/cms-{role}" in _catalog(plain)
    # The layers the notebook image shares with the worker (base, core venv, and every layer of
    # the same content): the registry had them already, from the worker's push.
    shared = _layers(client, cms_images["worker"]["id"]) & _layers(
        client, cms_images["singleuser"]["id"]
    )
    assert len(shared) >= 4
    assert images["singleuser"]["reused"] >= len(shared)
    listing = json.loads(afenv("list", "--json").stdout)
    for image in images.values():
        row = next(r for r in listing if r["reference"] == image["source"])
        assert image["pinned"] in row["pushed"]
    for image in images.values():  # back by digest, as a hub's node pulls it
        client.images.remove(image["tag"])
        pulled = client.images.pull(image["pinned"])
        assert pulled.id == client.images.get(image["source"]).id


def test_the_hubs_profiles_pin_the_pushed_digests(
    plain: registry.Registry, cms_pushed: dict[str, Any], tmp_path: Path
) -> None:
    """What a hub gets: the validated cms pair by the digests just pushed, the partner worker
    for Dask, and values the chart accepts; no pair that did not pass validation."""
    import yaml

    target = f"{plain.address}/{PREFIX}"
    result = afenv("hub", "profiles", "--registry", target, "--out", str(tmp_path), "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    values = yaml.safe_load((tmp_path / "z2jh-values.yaml").read_text())
    check_values(values)
    pinned = {image["role"]: image["pinned"] for image in cms_pushed["images"]}
    profiles = {p["slug"]: p for p in values["singleuser"]["profileList"]}
    assert "cms" in profiles
    assert "fcc" not in profiles  # built, never validated
    override = profiles["cms"]["kubespawner_override"]
    assert override["image"] == pinned["singleuser"]
    assert override["environment"]["DASK_KUBERNETES__IMAGE"] == pinned["worker"]
    assert override["environment"]["AFENV_WORKER_IMAGE"] == pinned["worker"]


def test_a_second_experiment_sends_none_of_the_shared_layers(
    client: docker.DockerClient,
    plain: registry.Registry,
    cms_images: dict[str, Any],
    fcc_images: dict[str, Any],
    cms_pushed: dict[str, Any],  # noqa: ARG001  (the shared layers are in the registry first)
) -> None:
    result = afenv("push", "fcc", "--registry", f"{plain.address}/{PREFIX}", "--force", "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "WARNING: pushing fcc's pair, which did NOT pass validation" in result.stderr
    pushed = json.loads(result.stdout)
    assert pushed["validated"] is False
    already = _layers(client, cms_images["singleuser"]["id"])
    for image in pushed["images"]:
        layers = _layers(client, fcc_images[image["role"]]["id"])
        assert image["uploaded"] == len(layers - already), image
        already |= layers
    worker = next(i for i in pushed["images"] if i["role"] == "worker")
    assert worker["uploaded"] < len(_layers(client, fcc_images["worker"]["id"]))


def test_tls_and_passwords(
    client: docker.DockerClient,
    tmp_path: Path,
    storage: Path,
    cms_images: dict[str, Any],
    cms_pushed: dict[str, Any],  # noqa: ARG001  (its layers are in the shared storage)
) -> None:
    gateway = Engine(client).network_gateway("bridge")
    creds = credentials.make(tmp_path / "creds")
    cert, key = credentials.host_certificate(tmp_path, creds, [gateway])
    users = registry.htpasswd(tmp_path / "htpasswd", USER, SECRET)
    good = {USERNAME: USER, PASSWORD: SECRET}
    with registry.serve(
        tmp_path,
        host=gateway,
        storage=storage,
        tls=(cert, key),
        users=users,
        state_dir=ROOT / ".afenv",
    ) as served:
        target = f"{served.address}/{PREFIX}"
        untrusted = afenv("push", "cms", "--registry", target, env=good)
        assert untrusted.returncode == 9
        line = _error_line(untrusted)
        assert "TLS certificate is not trusted" in line
        assert f"/etc/docker/certs.d/{served.address}/ca.crt" in line
        assert not [t for t in client.images.get(cms_images["worker"]["id"]).tags if gateway in t]
        with registry.trust_in_engine(served.address, creds.ca_cert):
            for env in ({USERNAME: USER, PASSWORD: "wrong"}, {}):
                refused = afenv("push", "cms", "--registry", target, env=env)
                assert refused.returncode == 9
                line = _error_line(refused)
                assert f"registry {served.address} refused the credentials" in line
                assert SECRET not in refused.stderr
            result = afenv("push", "cms", "--registry", target, "--json", env=good)
            assert result.returncode == 0, result.stderr[-3000:]
            for image in json.loads(result.stdout)["images"]:
                assert image["uploaded"] == 0  # the layers were in the storage already
                client.images.remove(image["tag"])
                pulled = client.images.pull(
                    image["pinned"], auth_config={"username": USER, "password": SECRET}
                )
                assert pulled.id == client.images.get(image["source"]).id

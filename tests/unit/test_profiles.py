"""`afenv hub profiles` without a cluster or an engine.

The values pass the chart's own schema as Helm merges them over the chart's defaults; real
KubeSpawner turns each profile into the pod it would create (a dummy kubeconfig, no API call);
real DockerSpawner takes the single-host settings through the generated snippet (no Docker).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jsonschema
import pytest
import yaml

from afenv.errors import ConfigError
from afenv.hub.pairs import Pair
from afenv.hub.profiles import (
    DASK_IMAGE,
    DASK_VOLUMES,
    DOCKER_CONFIG,
    DOCKER_SNIPPET,
    MANIFESTS,
    VALUES,
    ProfileOptions,
    dockerspawner_config,
    rbac_manifests,
    write_profiles,
    z2jh_values,
)
from afenv.spec import Project, load_project
from afenv.spec.model import memory_bytes
from afenv.testing.chart import check_values

ROOT = Path(__file__).resolve().parents[2]
CVMFS_CA = "/cvmfs/grid.cern.ch/etc/grid-security/certificates"
HOST_CA = "/etc/grid-security/certificates"

# Each way an admin may mount CVMFS and the CAs.
OPTION_CASES = {
    "csi": ProfileOptions(),
    "csi+ca-dir": ProfileOptions(ca_dir="/etc/grid-security/certificates"),
    "hostpath": ProfileOptions(cvmfs="hostpath", cvmfs_hostpath="/var/cvmfs"),
    "hostpath+ca-dir+api": ProfileOptions(
        cvmfs="hostpath", ca_dir="/opt/ca", api_server_cidr="10.0.0.10/32"
    ),
}


@pytest.fixture(scope="module")
def project() -> Project:
    return load_project(ROOT)


def _reference(name: str, role: str) -> str:
    digest = hashlib.sha256(f"{name}-{role}".encode()).hexdigest()
    return f"registry.example.org/af/{name}-{role}@sha256:{digest}"


def _pair(project: Project, name: str, validated: str | None) -> Pair:
    experiment = project.experiment(name)
    return Pair(
        experiment=name,
        title=experiment.title,
        description=experiment.description,
        singleuser=_reference(name, "singleuser"),
        worker=_reference(name, "worker"),
        validated=validated,
        versions={"root": "6.36.04", "python": "3.13.5", "dask": "2025.7.0"},
        cvmfs=experiment.cvmfs,
        resources=experiment.resources,
    )


@pytest.fixture(scope="module")
def pairs(project: Project) -> list[Pair]:
    """cms and atlas validated, fcc never."""
    return [
        _pair(project, "cms", "2026-07-30"),
        _pair(project, "atlas", "2026-07-29"),
        _pair(project, "fcc", None),
    ]


# -- the chart's check ------------------------------------------------------------------------


def _written_values(pairs: list[Pair], options: ProfileOptions, out: Path) -> dict[str, Any]:
    written = write_profiles(pairs, options, out, "kubernetes")
    assert written == [out / VALUES, out / MANIFESTS]
    values: dict[str, Any] = yaml.safe_load((out / VALUES).read_text())
    return values


@pytest.mark.parametrize("case", OPTION_CASES)
def test_written_values_pass_the_charts_schema(
    pairs: list[Pair], case: str, tmp_path: Path
) -> None:
    check_values(_written_values(pairs, OPTION_CASES[case], tmp_path))


def test_the_check_rejects_a_misspelt_key(pairs: list[Pair]) -> None:
    values = z2jh_values(pairs, ProfileOptions())
    values["singleuser"]["profilelist"] = values["singleuser"].pop("profileList")
    with pytest.raises(jsonschema.ValidationError, match="profilelist"):
        check_values(values)


def test_only_validated_pairs_are_offered_and_the_first_is_the_default(
    pairs: list[Pair],
) -> None:
    profiles = z2jh_values(pairs, ProfileOptions())["singleuser"]["profileList"]
    assert [p["slug"] for p in profiles] == ["cms", "atlas"]
    assert [p.get("default", False) for p in profiles] == [True, False]
    cms = profiles[0]
    assert cms["display_name"] == "CMS"
    for part in ("ROOT 6.36.04", "Python 3.13.5", "Dask 2025.7.0", "validated 2026-07-30"):
        assert part in cms["description"]


def test_unvalidated_pairs_say_so_when_included(pairs: list[Pair]) -> None:
    options = ProfileOptions(include_unvalidated=True, default="fcc")
    profiles = z2jh_values(pairs, options)["singleuser"]["profileList"]
    assert [p["slug"] for p in profiles] == ["cms", "atlas", "fcc"]
    assert [p["slug"] for p in profiles if p.get("default")] == ["fcc"]
    assert "NOT validated" in profiles[2]["description"]
    assert "NOT validated" not in profiles[0]["description"]


def test_free_text_reaches_kubespawners_form_escaped(pairs: list[Pair]) -> None:
    """KubeSpawner renders display_name and description as HTML without escaping them."""
    hostile = replace(pairs[0], title="<script>x</script>", description='a "b" & c')
    profile = z2jh_values([hostile], ProfileOptions())["singleuser"]["profileList"][0]
    assert profile["display_name"] == "&lt;script&gt;x&lt;/script&gt;"
    assert "a &quot;b&quot; &amp; c" in profile["description"]


def test_values_name_the_service_account_and_open_the_dask_ports(pairs: list[Pair]) -> None:
    singleuser = z2jh_values(pairs, ProfileOptions(service_account="dask-users"))["singleuser"]
    assert singleuser["serviceAccountName"] == "dask-users"
    (dask,) = singleuser["networkPolicy"]["egress"]
    assert {p["port"] for p in dask["ports"]} == {8786, 8787}
    (selector,) = dask["to"]
    assert set(selector) == {"podSelector"}  # the notebook's namespace only


def test_manifests_grant_what_a_kubecluster_needs(pairs: list[Pair], tmp_path: Path) -> None:
    options = ProfileOptions(namespace="af", service_account="nb")
    write_profiles(pairs, options, tmp_path, "kubernetes")
    documents = list(yaml.safe_load_all((tmp_path / MANIFESTS).read_text()))
    assert documents[:3] == rbac_manifests("af", "nb")
    kinds = [d["kind"] for d in documents]
    assert kinds == ["ServiceAccount", "Role", "RoleBinding", "PersistentVolumeClaim"]
    account, role, binding, claim = documents
    assert {d["metadata"]["namespace"] for d in documents} == {"af"}
    dask_rule = role["rules"][0]
    assert dask_rule["apiGroups"] == ["kubernetes.dask.org"]
    assert {"daskclusters", "daskworkergroups", "daskautoscalers"} <= set(dask_rule["resources"])
    assert {"create", "delete", "patch"} <= set(dask_rule["verbs"])
    core = {r for rule in role["rules"][1:] for r in rule["resources"]}
    assert {"pods", "services"} <= core
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "nb", "namespace": "af"}]
    assert claim["spec"]["storageClassName"] == "cvmfs"
    assert account["metadata"]["name"] == "nb"


def test_a_hostpath_hub_gets_no_cvmfs_claim(pairs: list[Pair], tmp_path: Path) -> None:
    write_profiles(pairs, ProfileOptions(cvmfs="hostpath"), tmp_path, "kubernetes")
    kinds = [d["kind"] for d in yaml.safe_load_all((tmp_path / MANIFESTS).read_text())]
    assert "PersistentVolumeClaim" not in kinds


# -- real KubeSpawner -------------------------------------------------------------------------


@pytest.fixture
def kubeconfig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A kubeconfig naming a server nobody asks: KubeSpawner loads one when it starts, and
    building a pod manifest never calls the API."""
    path = tmp_path / "kubeconfig"
    cluster = {"name": "none", "cluster": {"server": "https://127.0.0.1:9"}}
    user = {"name": "none", "user": {"token": "not-a-token"}}
    context = {"name": "none", "context": {"cluster": "none", "user": "none"}}
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [cluster],
                "users": [user],
                "contexts": [context],
                "current-context": "none",
            }
        )
    )
    monkeypatch.setenv("KUBECONFIG", str(path))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)  # not in-cluster


HOME = "volume-{user_server}"


def _chart_config(values: Mapping[str, Any]) -> Any:
    """What the chart's jupyterhub_config.py makes of these values: profile_list and
    service_account passed through, the home volume and its mount configured as dicts."""
    from traitlets.config import Config

    config = Config()
    config.KubeSpawner.profile_list = values["singleuser"]["profileList"]
    config.KubeSpawner.service_account = values["singleuser"]["serviceAccountName"]
    config.KubeSpawner.cmd = values["singleuser"]["cmd"]
    config.KubeSpawner.volumes = {
        HOME: {"name": HOME, "persistentVolumeClaim": {"claimName": "{pvc_name}"}}
    }
    config.KubeSpawner.volume_mounts = {HOME: {"name": HOME, "mountPath": "/home/jovyan"}}
    return config


async def _pods(config: Any, slugs: list[str]) -> dict[str, dict[str, Any]]:
    """Each profile's pod as KubeSpawner would send it to the API (camelCase JSON)."""
    from kubespawner import KubeSpawner

    pods = {}
    for slug in slugs:
        # _mock: KubeSpawner's own test hook, a stand-in user and hub (no hub runs here).
        spawner = KubeSpawner(config=config, _mock=True)
        spawner.user_options = {"profile": slug}
        await spawner.load_user_options()
        manifest = await spawner.get_pod_manifest()
        pods[slug] = spawner.api.api_client.sanitize_for_serialization(manifest)
    return pods


@pytest.mark.usefixtures("kubeconfig")
@pytest.mark.parametrize("case", OPTION_CASES)
def test_kubespawner_builds_each_profiles_pod(pairs: list[Pair], case: str) -> None:
    options = OPTION_CASES[case]
    values = z2jh_values(pairs, options)
    offered = [p for p in pairs if p.validated]
    pods = asyncio.run(_pods(_chart_config(values), [p.experiment for p in offered]))
    for pair in offered:
        pod = pods[pair.experiment]
        (container,) = pod["spec"]["containers"]
        assert container["image"] == pair.singleuser
        env = {e["name"]: e["value"] for e in container["env"]}
        assert env["AFENV_WORKER_IMAGE"] == pair.worker
        assert env["DASK_KUBERNETES__IMAGE"] == pair.worker
        assert env["AFENV_EXPERIMENT"] == pair.experiment
        assert env["X509_CERT_DIR"] == (CVMFS_CA if options.ca_dir is None else HOST_CA)
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
        # The Dask pods get the notebook's own volumes and mounts, home excepted.
        dask = json.loads(env["AFENV_DASK_VOLUMES"])
        dask_mounts = {m["mountPath"]: m for m in dask["volumeMounts"]}
        assert dask_mounts == {p: m for p, m in mounts.items() if p != "/home/jovyan"}
        assert dask_mounts["/cvmfs"]["mountPropagation"] == "HostToContainer"
        assert {v["name"]: v for v in dask["volumes"]} == {
            name: volume
            for name, volume in volumes.items()
            if name in {m["name"] for m in dask["volumeMounts"]}
        }
        cvmfs = mounts["/cvmfs"]
        assert cvmfs["mountPropagation"] == "HostToContainer"
        assert cvmfs["readOnly"] is True
        if options.cvmfs == "csi":
            assert volumes[cvmfs["name"]]["persistentVolumeClaim"] == {"claimName": "cvmfs"}
        else:
            assert volumes[cvmfs["name"]]["hostPath"]["path"] == options.cvmfs_hostpath
        if options.ca_dir is None:
            assert HOST_CA not in mounts
        else:
            assert mounts[HOST_CA]["readOnly"] is True
            assert volumes[mounts[HOST_CA]["name"]]["hostPath"]["path"] == options.ca_dir
        assert "/home/jovyan" in mounts  # the profile's volumes join the chart's, not replace
        resources = pair.resources
        assert container["resources"] == {
            "requests": {
                "cpu": resources.cpu_guarantee,
                "memory": int(memory_bytes(resources.mem_guarantee)),
            },
            "limits": {
                "cpu": resources.cpu_limit,
                "memory": int(memory_bytes(resources.mem_limit)),
            },
        }
        assert pod["spec"]["serviceAccountName"] == values["singleuser"]["serviceAccountName"]
        # The image's CMD (afenv-start-notebook) starts the server, not the chart's default.
        assert values["singleuser"]["cmd"] is None
        assert "jupyterhub-singleuser" not in json.dumps(container.get("args") or [])
        # Unset: Kubernetes mounts the named account's token (KubeSpawner sets False only
        # when no account is named).
        assert "automountServiceAccountToken" not in pod["spec"]


# -- real DockerSpawner -----------------------------------------------------------------------


def _load_snippet(path: Path) -> Any:
    """The snippet as JupyterHub loads a config file."""
    from traitlets.config import PyFileConfigLoader

    return PyFileConfigLoader(path.name, path=str(path.parent)).load_config()


def test_dockerspawner_takes_the_config_through_the_snippet(
    pairs: list[Pair], tmp_path: Path
) -> None:
    pytest.importorskip("dockerspawner")
    from dockerspawner import DockerSpawner

    options = ProfileOptions(ca_dir="/etc/grid-security/certificates", default="atlas")
    written = write_profiles(pairs, options, tmp_path, "docker")
    assert written == [tmp_path / DOCKER_CONFIG, tmp_path / DOCKER_SNIPPET]
    config = _load_snippet(tmp_path / DOCKER_SNIPPET)
    assert config.JupyterHub.spawner_class == "docker"
    # A stand-in for the hub's User (an ORM object): DockerSpawner names containers after it.
    user = SimpleNamespace(name="alice", id=1, escaped_name="alice", url="/user/alice/")
    spawner = DockerSpawner(config=config, user=user)
    cms, atlas, _ = pairs
    assert spawner.image == atlas.singleuser
    assert spawner.allowed_images == {"CMS": cms.singleuser, "ATLAS": atlas.singleuser}
    assert asyncio.run(spawner.check_allowed("CMS")) == cms.singleuser
    binds = spawner.volume_binds
    assert binds["/cvmfs"] == {"bind": "/cvmfs", "mode": "ro", "propagation": "rslave"}
    assert binds["/etc/grid-security/certificates"] == {"bind": HOST_CA, "mode": "ro"}
    spawner.image = cms.singleuser  # what start() does with the user's choice
    environment = {
        name: value(spawner) if callable(value) else value
        for name, value in spawner.environment.items()
    }
    assert environment == {
        "AFENV_EXPERIMENT": "cms",
        "AFENV_WORKER_IMAGE": cms.worker,
        "DASK_KUBERNETES__IMAGE": cms.worker,
        "X509_CERT_DIR": HOST_CA,
    }


def test_the_dask_variables_are_the_ones_the_notebooks_factory_reads() -> None:
    """The notebook image's Dask factory reads Dask's config (kubernetes.image, which
    DASK_KUBERNETES__IMAGE overrides) and the volumes variable by these names."""
    daskcluster = pytest.importorskip("afenv_runtime.daskcluster")
    import dask.config

    assert daskcluster.VOLUMES == DASK_VOLUMES
    name = "registry.example.org/af/cms-worker@sha256:" + "0" * 64
    assert dask.config.collect_env({DASK_IMAGE: name}) == {"kubernetes": {"image": name}}


def test_dockerspawner_config_is_the_json_written(pairs: list[Pair], tmp_path: Path) -> None:
    write_profiles(pairs, ProfileOptions(), tmp_path, "docker")
    written = json.loads((tmp_path / DOCKER_CONFIG).read_text())
    assert written == dockerspawner_config(pairs, ProfileOptions())
    assert written["environment"] == {"X509_CERT_DIR": CVMFS_CA}


def test_dockerspawner_refuses_a_title_its_menu_cannot_show(pairs: list[Pair]) -> None:
    hostile = replace(pairs[0], title='CMS" onmouseover="x')
    with pytest.raises(ConfigError, match=r"images/cms/experiment\.toml: experiment\.title"):
        dockerspawner_config([hostile], ProfileOptions())


# -- bad input --------------------------------------------------------------------------------


def _one_line(error: pytest.ExceptionInfo[ConfigError]) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("spawner", ["kubernetes", "docker"])
def test_no_validated_pair_is_a_config_error(
    pairs: list[Pair], tmp_path: Path, spawner: Any
) -> None:
    unvalidated = [p for p in pairs if p.validated is None]
    with pytest.raises(ConfigError) as error:
        write_profiles(unvalidated, ProfileOptions(), tmp_path, spawner)
    assert _one_line(error) == (
        "no validated pair to offer; run `afenv build EXP` (validates) or pass "
        "--include-unvalidated"
    )
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_default_naming_an_unknown_experiment_is_a_config_error(pairs: list[Pair]) -> None:
    with pytest.raises(ConfigError) as error:
        z2jh_values(pairs, ProfileOptions(default="lhcb"))
    assert _one_line(error).startswith("--default: 'lhcb' has no pair to offer (offered: cms,")


def test_default_naming_an_unvalidated_pair_says_how(pairs: list[Pair]) -> None:
    with pytest.raises(ConfigError, match="--include-unvalidated"):
        z2jh_values(pairs, ProfileOptions(default="fcc"))


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("cvmfs", "nfs", "--cvmfs:"),
        ("cvmfs_hostpath", "/cv mfs", "--cvmfs-hostpath:"),
        ("ca_dir", "relative/ca", "--ca-dir:"),
        ("default", "CMS;rm", "--default:"),
        ("namespace", "Hub_NS", "--namespace:"),
        ("service_account", "a" * 64, "--service-account:"),
        ("api_server_cidr", "10.0.0.1/8", "--api-server-cidr:"),
    ],
)
def test_bad_options_are_config_errors(field: str, value: str, named: str) -> None:
    with pytest.raises(ConfigError) as error:
        ProfileOptions(**{field: value})
    assert _one_line(error).startswith(named)


@pytest.mark.parametrize(
    ("resources", "key"),
    [
        ("cpu-guarantee = 3.0\ncpu-limit = 2.0", "resources.cpu-guarantee"),
        ('mem-guarantee = "2G"\nmem-limit = "1536M"', "resources.mem-guarantee"),
        ("cpu-guarantee = 8.0", "resources.cpu-guarantee"),  # above the default limit
    ],
)
def test_a_guarantee_above_its_limit_names_file_and_key(
    project_copy: Path, resources: str, key: str
) -> None:
    spec = project_copy / "images/fcc/experiment.toml"
    text = spec.read_text()
    spec.write_text(text[: text.index("[resources]")] + f"[resources]\n{resources}\n")
    with pytest.raises(ConfigError) as error:
        load_project(project_copy)
    message = _one_line(error)
    assert message.startswith(f"{spec}: {key}: ")
    assert "is more than resources." in message


@pytest.mark.parametrize("value", ["nan", "inf", "-1.0", "0"])
def test_cpu_must_be_a_positive_count(project_copy: Path, value: str) -> None:
    spec = project_copy / "images/fcc/experiment.toml"
    text = spec.read_text()
    spec.write_text(text[: text.index("[resources]")] + f"[resources]\ncpu-limit = {value}\n")
    with pytest.raises(ConfigError, match=r"resources\.cpu-limit: must be a number above 0"):
        load_project(project_copy)


def test_resources_reach_the_experiment_with_defaults_for_what_is_unset(
    project_copy: Path, project: Project
) -> None:
    spec = project_copy / "images/fcc/experiment.toml"
    text = spec.read_text()
    spec.write_text(text[: text.index("[resources]")] + '[resources]\nmem-limit = "6G"\n')
    resources = load_project(project_copy).experiment("fcc").resources
    assert (resources.cpu_guarantee, resources.cpu_limit) == (1.0, 2.0)
    assert (resources.mem_guarantee, resources.mem_limit) == ("2G", "6G")
    assert project.experiment("cms").resources.mem_limit == "8G"

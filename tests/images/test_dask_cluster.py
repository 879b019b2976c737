"""Dask clusters started from the notebook image use its partner worker image.

No Kubernetes API runs here, so the chain is proved piece by piece with the real components:
dask-labextension's own ``make_cluster`` reads the image's Dask config; the operator's
``make_cluster_spec`` (through afenv's factory) and its controller's
``build_worker_deployment_spec`` make the pods' specs; and the worker image then runs, as
containers, with exactly the args, environment and volumes those specs give a scheduler and a
worker, and a Client from the notebook image connects to them.
"""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path
from typing import Any

import docker
import pytest

from afenv.testing import credentials

from .conftest import LABELS, ROOT, run

pytestmark = pytest.mark.docker

DIGEST = "registry.example.org/facility/cms-worker@sha256:" + "0" * 64
VOLUMES = {
    "volumes": [{"name": "cvmfs", "hostPath": {"path": "/cvmfs", "type": "Directory"}}],
    "volumeMounts": [
        {"name": "cvmfs", "mountPath": "/cvmfs", "mountPropagation": "HostToContainer"}
    ],
}
ON_KUBERNETES = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}

_BUTTON = r"""
import asyncio, json
import dask
from dask_labextension.manager import make_cluster

async def main():
    cluster, adaptive = await make_cluster({})
    await cluster.wait_for_workers(1)
    print(json.dumps({"class": type(cluster).__name__,
                      "factory": dask.config.get("labextension.factory"),
                      "image": dask.config.get("kubernetes.image"),
                      "workers": len(cluster.scheduler_info["workers"])}))
    await cluster.close()

asyncio.run(main())
"""

_SPECS = r"""
import asyncio, inspect, json
from afenv_runtime import daskcluster
from dask_kubernetes.operator import KubeCluster
from dask_kubernetes.operator.controller.controller import build_worker_deployment_spec

first, second = daskcluster.unique_name(), daskcluster.unique_name()
spec = daskcluster.cluster_spec(first, n_workers=1)

async def adapt():
    # The operator's own class, asynchronous as the labextension makes it: adapt() is a
    # coroutine nobody awaits. afenv's subclass returns the bounds the labextension reads.
    plain = KubeCluster(custom_cluster_spec=spec, asynchronous=True)
    result = plain.adapt(minimum=1, maximum=3)
    coroutine = inspect.iscoroutine(result)
    result.close()
    ours = daskcluster._operator_cluster()(
        custom_cluster_spec=daskcluster.cluster_spec(second), asynchronous=True
    )
    bounds = ours.adapt(minimum=1, maximum=3)
    scheduled = not ours._afenv_adapting.done()
    ours._afenv_adapting.cancel()
    return coroutine, [bounds.minimum, bounds.maximum], scheduled

coroutine, bounds, scheduled = asyncio.run(adapt())
worker = build_worker_deployment_spec(
    "default", "jhub", first, "0a1b2c", spec["spec"]["worker"]["spec"], {}, {}
)
print(json.dumps({"names": [first, second], "spec": spec, "worker": worker,
                  "adapt": {"coroutine": coroutine, "bounds": bounds, "scheduled": scheduled}}))
"""


def _last_json(text: str) -> Any:
    return json.loads(text.strip().splitlines()[-1])


def test_the_button_falls_back_to_a_local_cluster_off_kubernetes(
    client: docker.DockerClient, cms_images: dict[str, Any]
) -> None:
    done = run(client, cms_images["singleuser"]["reference"], ["python3", "-c", _BUTTON])
    assert done.exit_code == 0, done.stderr[-3000:]
    result = _last_json(done.stdout)
    assert result["factory"]["module"] == "afenv_runtime.daskcluster"
    assert result["image"] == cms_images["worker"]["reference"]  # pinned, never :latest
    assert result["class"] == "LocalCluster"
    assert result["workers"] >= 1
    notices = [line for line in done.stderr.splitlines() if "not in a Kubernetes pod" in line]
    assert len(notices) == 1, done.stderr[-3000:]
    assert "Traceback" not in done.stderr


@pytest.fixture(scope="module")
def specs(client: docker.DockerClient, cms_images: dict[str, Any]) -> dict[str, Any]:
    environment = ON_KUBERNETES | {"AFENV_DASK_VOLUMES": json.dumps(VOLUMES)}
    done = run(
        client,
        cms_images["singleuser"]["reference"],
        ["python3", "-c", _SPECS],
        environment=environment,
    )
    assert done.exit_code == 0, done.stderr[-3000:]
    return dict(_last_json(done.stdout))


def test_each_click_is_a_new_cluster_of_the_partner_image_with_cvmfs(
    specs: dict[str, Any], cms_images: dict[str, Any]
) -> None:
    first, second = specs["names"]
    assert first != second
    assert re.fullmatch(r"cms-dask-[0-9a-f]{10}", first)
    pods = {role: specs["spec"]["spec"][role]["spec"] for role in ("scheduler", "worker")}
    for pod in pods.values():
        (container,) = pod["containers"]
        assert container["image"] == cms_images["worker"]["reference"]
        assert pod["volumes"] == VOLUMES["volumes"]
        assert container["volumeMounts"] == VOLUMES["volumeMounts"]
        env = {item["name"]: item["value"] for item in container["env"]}
        assert env["X509_CERT_DIR"] == "/etc/grid-security/certificates"  # the notebook's


def test_adapt_works_un_awaited_where_the_operators_does_not(specs: dict[str, Any]) -> None:
    assert specs["adapt"] == {"coroutine": True, "bounds": [1, 3], "scheduled": True}


def test_a_hub_profile_pins_the_pushed_digest(
    client: docker.DockerClient, cms_images: dict[str, Any]
) -> None:
    script = "import dask; print(dask.config.get('kubernetes.image'))"
    done = run(
        client,
        cms_images["singleuser"]["reference"],
        ["python3", "-c", script],
        environment={"DASK_KUBERNETES__IMAGE": DIGEST},
    )
    assert done.stdout.strip() == DIGEST, done.stderr[-2000:]


_CONNECT = r"""
import json, os, sys, warnings
from distributed import Client
from distributed.versions import VersionMismatchWarning

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always", VersionMismatchWarning)
    client = Client(sys.argv[1], timeout=60)
    client.wait_for_workers(1, timeout=120)
names = [w["name"] for w in client.scheduler_info()["workers"].values()]
grid = list(client.run(lambda: os.environ["X509_CERT_DIR"]).values())
mismatch = [str(w.message) for w in caught if issubclass(w.category, VersionMismatchWarning)]
print(json.dumps({"names": names, "grid": grid, "mismatch": mismatch}))
client.close()
"""


def _substituted(args: list[str], env: dict[str, str]) -> list[str]:
    """Kubernetes expands $(VAR) in args from the container's environment."""
    return [re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), a) for a in args]


def test_the_worker_image_runs_as_the_specs_say(
    client: docker.DockerClient,
    cms_images: dict[str, Any],
    specs: dict[str, Any],
    tmp_path: Path,
) -> None:
    creds = credentials.make(tmp_path / "creds")
    cvmfs = credentials.fake_cvmfs(tmp_path / "cvmfs", creds, ROOT / "images/cms/grid")
    cluster = specs["names"][0]
    scheduler_pod = specs["spec"]["spec"]["scheduler"]["spec"]
    worker_pod = specs["worker"]["spec"]["template"]["spec"]
    containers = {
        "scheduler": scheduler_pod["containers"][0],
        "worker": worker_pod["containers"][0],
    }
    # The controller's address for the scheduler service, as the scheduler's network alias.
    service = f"{cluster}-scheduler.jhub.svc.cluster.local"
    network = client.networks.create(f"afenv-test-{secrets.token_hex(4)}", labels=LABELS)
    started = []
    try:
        for role, container in containers.items():
            env = {item["name"]: item["value"] for item in container.get("env") or []}
            mounts = {m["name"]: m["mountPath"] for m in container.get("volumeMounts", [])}
            started.append(
                client.containers.run(
                    container["image"],
                    _substituted(container["args"], env),
                    detach=True,
                    labels=LABELS,
                    environment=env,
                    volumes={str(cvmfs): {"bind": mounts["cvmfs"], "mode": "ro"}},
                    network=network.name,
                )
            )
            if role == "scheduler":
                network.disconnect(started[-1])
                network.connect(started[-1], aliases=[service])
        connect = client.containers.run(
            cms_images["singleuser"]["reference"],
            ["python3", "-c", _CONNECT, f"tcp://{service}:8786"],
            detach=True,
            labels=LABELS,
            network=network.name,
        )
        started.append(connect)
        status = connect.wait(timeout=300)
        output = connect.logs(stderr=False).decode()
        assert status["StatusCode"] == 0, connect.logs().decode()[-3000:]
    finally:
        for container in started:
            container.remove(force=True)
        network.remove()
    result = _last_json(output)
    worker_env = {item["name"]: item["value"] for item in containers["worker"]["env"]}
    assert result["names"] == [worker_env["DASK_WORKER_NAME"]]
    assert result["grid"] == ["/cvmfs/grid.cern.ch/etc/grid-security/certificates"]
    assert result["mismatch"] == []

"""Dask clusters started from the notebook use this pair's worker image.

dask-labextension's "+" button and ``KubeCluster()`` in user code both read the image's Dask
config (``/etc/dask/afenv-pair.yaml``, written by afenv for this exact pair):
``kubernetes.image`` is the partner worker image, pinned by content hash at build time; a hub
profile overrides it with the pushed digest (``DASK_KUBERNETES__IMAGE``). The button calls
:class:`PairCluster`:

* on Kubernetes, a dask-kubernetes operator cluster with a fresh name per click, the partner
  image, the notebook's grid environment, and the notebook's CVMFS and CA volumes (from
  ``AFENV_DASK_VOLUMES``, which the hub profile sets);
* anywhere else (``docker run``, a single-host hub), a LocalCluster in the notebook, with one
  line saying why.

The labextension calls ``cluster.adapt()`` without awaiting it, and the operator's ``adapt``
returns a coroutine on an asynchronous cluster (the labextension then fails on
``'coroutine' object has no attribute 'minimum'``): :class:`PairKubeCluster` schedules it and
returns the bounds the labextension shows.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import os
import uuid
from dataclasses import dataclass
from typing import Any

import dask

__all__ = [
    "GRID_VARIABLES",
    "VOLUMES",
    "AdaptBounds",
    "PairCluster",
    "cluster_spec",
    "on_kubernetes",
]

log = logging.getLogger("afenv_runtime.daskcluster")

VOLUMES = "AFENV_DASK_VOLUMES"  # {"volumes": [...], "volumeMounts": [...]} in Kubernetes' form
GRID_VARIABLES = ("X509_CERT_DIR", "X509_VOMS_DIR", "X509_VOMSES", "VOMS_USERCONF")


def on_kubernetes() -> bool:
    """Inside a pod: the kubelet sets these for every container."""
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST"))


@dataclass(frozen=True)
class AdaptBounds:
    """What the labextension reads back from ``adapt()`` (``minimum``, ``maximum``)."""

    minimum: int | None
    maximum: int | None


def unique_name() -> str:
    """A new cluster per click: a fixed name would reconnect to the previous cluster."""
    experiment = os.environ.get("AFENV_EXPERIMENT", "afenv")
    return f"{experiment}-dask-{uuid.uuid4().hex[:10]}"


def cluster_spec(name: str, *, n_workers: int = 0) -> dict[str, Any]:
    """The DaskCluster resource for this pair: the operator's own spec (make_cluster_spec),
    with the notebook's grid environment and its volumes."""
    from dask_kubernetes.operator import make_cluster_spec

    env = {key: os.environ[key] for key in GRID_VARIABLES if os.environ.get(key)}
    env |= dict(dask.config.get("kubernetes.env") or {})
    spec: dict[str, Any] = make_cluster_spec(
        name=name,
        image=dask.config.get("kubernetes.image"),
        n_workers=n_workers,
        resources=dask.config.get("kubernetes.resources") or None,
        env=env,
        worker_command=dask.config.get("kubernetes.worker-command"),
    )
    mounts = _volumes()
    for role in ("scheduler", "worker"):
        pod = spec["spec"][role]["spec"]
        if mounts["volumes"]:
            pod["volumes"] = mounts["volumes"]
            pod["containers"][0]["volumeMounts"] = mounts["volumeMounts"]
    return spec


def _volumes() -> dict[str, list[dict[str, Any]]]:
    text = os.environ.get(VOLUMES, "")
    if not text:
        return {"volumes": [], "volumeMounts": []}
    try:
        data = json.loads(text)
        volumes, mounts = list(data["volumes"]), list(data["volumeMounts"])
    except (ValueError, KeyError, TypeError):
        raise ValueError(
            f"{VOLUMES} is not JSON with 'volumes' and 'volumeMounts' lists; ask the hub admin"
        ) from None
    return {"volumes": volumes, "volumeMounts": mounts}


def _operator_cluster() -> type:
    from dask_kubernetes.operator import KubeCluster

    class PairKubeCluster(KubeCluster):  # type: ignore[misc]
        """The operator's KubeCluster whose ``adapt`` also works un-awaited."""

        def adapt(self, minimum: int | None = None, maximum: int | None = None) -> Any:
            result = super().adapt(minimum=minimum, maximum=maximum)
            if inspect.isawaitable(result):  # asynchronous: nobody will await it
                task = asyncio.ensure_future(result)
                task.add_done_callback(_report_failure)
                self._afenv_adapting = task  # keep it referenced until done
            return AdaptBounds(minimum, maximum)

    return PairKubeCluster


def _report_failure(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("afenv: adapting the Dask cluster failed: %s", task.exception())


def PairCluster(*args: Any, asynchronous: bool = False, **kwargs: Any) -> Any:
    """The labextension's factory ("class" in its config): this pair's cluster."""
    if not on_kubernetes():
        from distributed import LocalCluster

        log.warning(
            "afenv: not in a Kubernetes pod, so this Dask cluster is a LocalCluster inside the "
            "notebook (same packages; workers from %s need Kubernetes)",
            dask.config.get("kubernetes.image"),
        )
        local: Any = LocalCluster  # distributed's classes are untyped
        return local(*args, asynchronous=asynchronous, **kwargs)
    name = unique_name()
    return _operator_cluster()(
        *args,
        custom_cluster_spec=cluster_spec(name, n_workers=kwargs.pop("n_workers", 0)),
        asynchronous=asynchronous,
        **kwargs,
    )

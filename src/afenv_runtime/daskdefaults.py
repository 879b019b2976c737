"""Dask settings of every cluster that runs from afenv's images.

Both images carry them in ``/etc/dask/afenv-cluster.yaml`` (rendered from ``SETTINGS`` at build
time), so a scheduler or worker started in either image reads them: ``dask scheduler`` and
``dask worker`` in the worker image (validation's cluster, the Dask operator's pods), and a
``LocalCluster`` in the notebook. The benchmark's own ``LocalCluster`` on a host without that
file applies them too (``afenv_bench.analysis``). A value set in the user's Dask config or
environment (``DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION``) still wins: Dask merges
``/etc/dask`` first.

``worker-saturation`` 1.0: the scheduler sends a worker only as many tasks as it has threads and
keeps the rest queued. At distributed's default (1.1, so two tasks for a one-thread worker), a
worker holds a second task it has not started; distributed RDataFrame's tasks are few and long
(one per file or cluster range), and one worker often ended a computation with two tasks more
than the other while the other sat idle (8 tasks of 250,000 events on two one-thread workers:
CPU split 5.7/3.7 s in three of five runs, none at 1.0; README, "Dask settings").
A worker that finishes waits one scheduler round trip for its next task, which is nothing next
to tasks of seconds.

``tick.interval`` and ``profile.interval`` 100 ms: what an idle cluster costs. A notebook keeps
its cluster for hours, mostly waiting, and at distributed's defaults every server checks its
event loop every 20 ms and every worker samples its threads' stacks every 10 ms. An idle
LocalCluster of two workers used 0.159 cores at the defaults and 0.059 with both at 100 ms
(``benchmarks/bench_idle.py``, README "Dask settings"). The unresponsive-loop warning still
fires after ``tick.limit`` (3 s), now measured to 0.1 s; the dashboard's profile gets 10
samples a second instead of 100, plenty for tasks of seconds.
"""

from __future__ import annotations

import json

__all__ = ["SETTINGS", "cluster_yaml", "not_configured"]

SETTINGS: dict[str, float | str] = {
    "distributed.scheduler.worker-saturation": 1.0,
    "distributed.admin.tick.interval": "100ms",
    "distributed.worker.profile.interval": "100ms",
}


def cluster_yaml() -> str:
    """``SETTINGS`` as a Dask config file (JSON is YAML; dotted keys become nested maps)."""
    nested: dict[str, object] = {}
    for dotted, value in SETTINGS.items():
        level = nested
        *parents, leaf = dotted.split(".")
        for key in parents:
            level = level.setdefault(key, {})  # type: ignore[assignment]
        level[leaf] = value
    header = "# Dask settings of afenv's images (afenv_runtime.daskdefaults); by afenv.\n"
    return header + json.dumps(nested, indent=2, sort_keys=True) + "\n"


def not_configured() -> dict[str, float | str]:
    """The settings of ``SETTINGS`` that no Dask config file or ``DASK_*`` variable sets here:
    what a cluster started by afenv's own code applies, so the user's choice still wins."""
    import dask.config

    configured = dask.config.collect()  # files and environment, not the packages' defaults
    missing = object()
    return {
        key: value
        for key, value in SETTINGS.items()
        if dask.config.get(key, default=missing, config=configured) is missing
    }

"""Scheduler settings of every Dask cluster that runs from afenv's images.

Both images carry them in ``/etc/dask/afenv-scheduler.yaml`` (rendered from ``SCHEDULER`` at
build time), so a scheduler started in either image reads them: ``dask scheduler`` in the worker
image (validation's cluster, the Dask operator's scheduler pod), and a ``LocalCluster`` in the
notebook. The benchmark's own ``LocalCluster`` on a host without that file applies them too
(``afenv_bench.analysis``). A value set in the user's Dask config or environment
(``DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION``) still wins: Dask merges ``/etc/dask`` first.

``worker-saturation`` 1.0: the scheduler sends a worker only as many tasks as it has threads and
keeps the rest queued. At distributed's default (1.1, so two tasks for a one-thread worker), a
worker holds a second task it has not started; distributed RDataFrame's tasks are few and long
(one per file or cluster range), and one worker often ended a computation with two tasks more
than the other while the other sat idle (8 tasks of 250,000 events on two one-thread workers:
CPU split 5.7/3.7 s in three of five runs, none at 1.0; README, "Scheduler settings").
A worker that finishes waits one scheduler round trip for its next task, which is nothing next
to tasks of seconds.
"""

from __future__ import annotations

import json

__all__ = ["SCHEDULER", "not_configured", "scheduler_yaml"]

SCHEDULER: dict[str, float] = {"distributed.scheduler.worker-saturation": 1.0}


def scheduler_yaml() -> str:
    """``SCHEDULER`` as a Dask config file (JSON is YAML; dotted keys become nested maps)."""
    nested: dict[str, object] = {}
    for dotted, value in SCHEDULER.items():
        level = nested
        *parents, leaf = dotted.split(".")
        for key in parents:
            level = level.setdefault(key, {})  # type: ignore[assignment]
        level[leaf] = value
    header = "# Scheduler settings of afenv's images (afenv_runtime.daskdefaults); by afenv.\n"
    return header + json.dumps(nested, indent=2, sort_keys=True) + "\n"


def not_configured() -> dict[str, float]:
    """The settings of ``SCHEDULER`` that no Dask config file or ``DASK_*`` variable sets here:
    what a cluster started by afenv's own code applies, so the user's choice still wins."""
    import dask.config

    configured = dask.config.collect()  # files and environment, not the packages' defaults
    missing = object()
    return {
        key: value
        for key, value in SCHEDULER.items()
        if dask.config.get(key, default=missing, config=configured) is missing
    }

"""Faults in a running cluster: a worker killed in the middle of the distributed Ds run, and a
scheduler restarted between two runs. Either the numbers come out the same, or the run fails
with one clear line; never different numbers, never a hang."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from afenv.benchmark import ModeOutcome, generate, run_mode
from afenv.cluster import SCHEDULER_ADDRESS
from afenv.spec import BenchmarkSpec

pytestmark = pytest.mark.docker

# Large enough that the distributed run takes several seconds on two workers.
SPEC = BenchmarkSpec(events=600_000, files=6, seed=11)
# Polls the scheduler (a condition, not a delay) until tasks are being processed.
_UNTIL_PROCESSING = """
import sys, time
from distributed import Client
client = Client(sys.argv[1], timeout=60)
deadline = time.monotonic() + 300
while not any(client.processing().values()):
    if time.monotonic() > deadline:
        sys.exit("no task was ever processed")
    time.sleep(0.05)
"""


def test_a_worker_killed_mid_run_changes_nothing(
    cms_images: dict[str, dict[str, Any]], cms_cluster: Any, tmp_path: Path
) -> None:
    worker = cms_images["worker"]["reference"]
    with cms_cluster() as cluster:
        assert generate(cluster, worker, SPEC).exit_code == 0
        reference = run_mode(cluster.workers[0], "local", tmp_path / "local")
        assert reference.report is not None, reference.problem

        outcome: list[ModeOutcome] = []
        running = threading.Thread(
            target=lambda: outcome.append(run_mode(cluster.notebook, "dask", tmp_path / "dask"))
        )
        running.start()
        started = cluster.notebook.exec(
            ["python", "-c", _UNTIL_PROCESSING, SCHEDULER_ADDRESS], timeout=360
        )
        assert started.exit_code == 0, started.stderr[-1000:]
        cluster.workers[1].kill()
        running.join(timeout=1800)
        assert not running.is_alive()

    (distributed,) = outcome
    assert distributed.report is not None, distributed.problem  # Dask rescheduled the tasks
    assert distributed.report["cutflow"] == reference.report["cutflow"]
    assert distributed.report["histogram"] == reference.report["histogram"]
    assert distributed.report["selected"] == reference.report["selected"]  # harvested once


def test_a_restarted_scheduler_is_one_clear_line(
    cms_images: dict[str, dict[str, Any]], cms_cluster: Any, client: Any, tmp_path: Path
) -> None:
    worker = cms_images["worker"]["reference"]
    with cms_cluster() as cluster:
        assert generate(cluster, worker, BenchmarkSpec(events=20_000, files=2)).exit_code == 0
        first = run_mode(cluster.notebook, "dask", tmp_path / "first")
        assert first.report is not None, first.problem
        client.containers.get(cluster.scheduler.id).restart(timeout=10)
        second = run_mode(cluster.notebook, "dask", tmp_path / "second")
    assert second.report is None
    assert second.problem.startswith("afenv-bench: error: no Dask worker is connected to"), (
        second.problem
    )
    assert "the scheduler may have restarted without its workers" in second.problem

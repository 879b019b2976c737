"""What an idle Dask cluster costs: distributed's defaults against afenv's Dask settings.

    .venv/bin/python benchmarks/bench_idle.py [--runs 3] [--seconds 20]

A notebook keeps its cluster for hours, mostly waiting. Each run starts a LocalCluster of two
one-thread worker processes (with its dashboard, as a notebook's has), lets it settle, then
measures the CPU time of every process of the cluster over ``--seconds`` of doing nothing:
the main process (scheduler, nannies and client) and the worker processes. The two ways
alternate, so they are measured side by side in one run. Writes
``benchmarks/results/idle.json`` and prints Markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_ds import machine, machine_line
from common import RESULTS

from afenv_runtime import daskdefaults

WAYS: dict[str, dict[str, float | str]] = {
    "distributed's defaults": {},
    "afenv's settings": daskdefaults.SETTINGS,
}
SETTLE_S = 5.0  # after the workers registered: their imports and first heartbeats


def _cpu_seconds(pids: set[int]) -> dict[int, float]:
    import psutil

    times = {}
    for pid in pids:
        cpu = psutil.Process(pid).cpu_times()
        times[pid] = cpu.user + cpu.system
    return times


def idle_cores(settings: dict[str, float | str], seconds: float) -> dict[str, float]:
    """Cores used by an idle 2-worker cluster under ``settings``: per group and in all."""
    import dask.config
    from distributed import Client, LocalCluster

    with (
        dask.config.set(settings),
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(2)
        workers = set(client.run(os.getpid).values())
        time.sleep(SETTLE_S)
        pids = workers | {os.getpid()}
        before, started = _cpu_seconds(pids), time.perf_counter()
        time.sleep(seconds)  # the measurement: the cluster doing nothing
        after, elapsed = _cpu_seconds(pids), time.perf_counter() - started
    used = {pid: (after[pid] - before[pid]) / elapsed for pid in pids}
    main = used[os.getpid()]
    worker = sum(used[pid] for pid in workers)
    return {"main": main, "workers": worker, "all": main + worker}


def markdown(results: dict[str, Any]) -> str:
    lines = [
        f"{machine_line(results)}; an idle LocalCluster of 2 one-thread workers over "
        f"{results['seconds']:.0f} s, medians of {results['runs']} runs, the two ways alternating.",
        "",
        "| settings | scheduler, nannies and client [cores] | 2 workers [cores] | all [cores] |",
        "|---|---:|---:|---:|",
    ]
    for way, runs in results["ways"].items():
        median = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        lines.append(
            f"| {way} | {median['main']:.3f} | {median['workers']:.3f} | {median['all']:.3f} |"
        )
    lines += ["", f"afenv's / defaults, all: **{results['ratio']:.2f}**"]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--out", type=Path, default=RESULTS / "idle.json")
    args = parser.parse_args()
    ways: dict[str, list[dict[str, float]]] = {way: [] for way in WAYS}
    for run in range(args.runs):
        order = list(WAYS) if run % 2 == 0 else list(reversed(WAYS))
        for way in order:
            ways[way].append(idle_cores(WAYS[way], args.seconds))
            print(f"run {run + 1} {way}: {ways[way][-1]}", file=sys.stderr, flush=True)
    medians = [statistics.median(run["all"] for run in ways[way]) for way in WAYS]
    results = {
        "machine": machine(),
        "runs": args.runs,
        "seconds": args.seconds,
        "settings": daskdefaults.SETTINGS,
        "ways": ways,
        "ratio": medians[1] / medians[0],
    }
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Measure `afenv validate cms`: total wall time, each phase, worker start-to-registered time,
and the machine's busy and idle core-seconds over each run, for each number of lanes.

    .venv/bin/python benchmarks/bench_validate.py [--runs 3] [--lanes 2 1]

Needs the cms pair built (`afenv build cms --no-validate`). The lanes values alternate within
each round (``--lanes 2 1``: two phases at once, then one after the other), so both see the same
machine. Busy and idle come from /proc/stat (every process of the host, containers included):
busy core-seconds / cores is the shortest the run could be on this machine without less work.
Writes benchmarks/results/validate.json and prints Markdown tables (medians over the runs).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
from pathlib import Path
from typing import Any

from bench_ds import machine_description
from common import RESULTS, afenv_cli

PHASES = [
    ("cluster_start", "cluster start (network, volume, scheduler, 2 workers, client)"),
    ("registration_and_versions", "worker registration + version comparison"),
    ("image_checks", "image checks (pytest + testinfra, both images, one process per role)"),
    ("benchmark_generate", "Ds sample generation (in a container)"),
    ("benchmark_local", "Ds benchmark, local mode in a worker container"),
    ("benchmark_distributed", "Ds benchmark, distributed from the client"),
    ("notebooks", "the Ds analysis notebook, run with a real kernel against the cluster"),
    ("tutorials", "ROOT's two distributed-RDataFrame tutorials against the cluster"),
    ("total", "`afenv validate cms` in all"),
]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--lanes", type=int, nargs="+", default=[2, 1])
    args = parser.parse_args()
    runs: dict[int, list[dict[str, Any]]] = {lanes: [] for lanes in args.lanes}
    for _ in range(args.runs):
        for lanes in args.lanes:
            summary = _validate(lanes)
            if summary is None:
                print("validation failed; not a measurement", file=sys.stderr)
                return 1
            runs[lanes].append(summary)
    results: dict[str, Any] = {
        "machine": machine_description(),
        "date": dt.date.today().isoformat(),
        "runs": args.runs,
        "cores": os.cpu_count(),
        "events": runs[args.lanes[0]][0]["benchmark"]["local"]["events"],
        "by_lanes": {},
    }
    for lanes, summaries in runs.items():
        registration = [t for run in summaries for t in run["registration"].values()]
        results["by_lanes"][str(lanes)] = {
            "median_s": {
                key: statistics.median(run["timing"][key] for run in summaries) for key, _ in PHASES
            },
            "total_s": [run["timing"]["total"] for run in summaries],
            "busy_core_s": [run["cpu"]["busy"] for run in summaries],
            "idle_core_s": [run["cpu"]["idle"] for run in summaries],
            "started_s": {
                key: statistics.median(run["schedule"][key]["started_s"] for run in summaries)
                for key in summaries[0]["schedule"]
            },
            "worker_start_to_registered_median_s": statistics.median(registration),
        }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "validate.json").write_text(json.dumps(results, indent=2) + "\n")
    _print(results, args.lanes)
    return 0


def _validate(lanes: int) -> dict[str, Any] | None:
    """One `afenv validate cms --lanes N`: its summary plus the host's busy and idle core-s."""
    before = _cpu()
    _, result = afenv_cli("validate", "cms", "--lanes", str(lanes), "--json")
    after = _cpu()
    summary: dict[str, Any] = json.loads(result.stdout)
    if not summary["passed"]:
        return None
    summary["cpu"] = {kind: round(after[kind] - before[kind], 1) for kind in before}
    return summary


def _cpu() -> dict[str, float]:
    """Busy and idle (incl. iowait) core-seconds of the whole host since boot."""
    first = Path("/proc/stat").read_text().splitlines()[0]
    fields = [int(v) for v in first.split()[1:9]]
    tick = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]
    return {"busy": (sum(fields) - idle) / tick, "idle": idle / tick}


def _print(results: dict[str, Any], order: list[int]) -> None:
    print(
        f"Measured on {results['machine']}, {results['date']}; medians of {results['runs']} runs "
        f"per lanes value, alternating (`benchmarks/bench_validate.py`), "
        f"{results['events']:,} events:\n"
    )
    by = results["by_lanes"]
    print("| phase | " + " | ".join(f"{n} lane(s) [s]" for n in order) + " |")
    print("|---|" + "---:|" * len(order))
    for key, label in PHASES:
        cells = [f"{by[str(n)]['median_s'][key]:.1f}" for n in order]
        print(f"| {label} | " + " | ".join(cells) + " |")
    for name, key in (
        ("each run, total", "total_s"),
        ("each run, busy core-s", "busy_core_s"),
        ("each run, idle core-s", "idle_core_s"),
    ):
        cells = [", ".join(f"{v:.0f}" for v in by[str(n)][key]) for n in order]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(
        "| worker container start → registered (median) | "
        + " | ".join(f"{by[str(n)]['worker_start_to_registered_median_s']:.1f}" for n in order)
        + " |"
    )


if __name__ == "__main__":
    sys.exit(main())

"""Measure `afenv validate cms`: total wall time, each phase, worker start-to-registered time.

    .venv/bin/python benchmarks/bench_validate.py [--runs 3]

Needs the cms pair built (`afenv build cms --no-validate`). Writes
benchmarks/results/validate.json and prints a Markdown table (medians over the runs).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import subprocess
import sys
from pathlib import Path

from bench_ds import machine_description

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
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
    args = parser.parse_args()
    runs = []
    for _ in range(args.runs):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "afenv.cli",
                "--project",
                str(ROOT),
                "validate",
                "cms",
                "--json",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        summary = json.loads(result.stdout)
        if not summary["passed"]:
            print("validation failed; not a measurement", file=sys.stderr)
            return 1
        runs.append(summary)
    medians = {key: statistics.median(run["timing"][key] for run in runs) for key, _ in PHASES}
    registration = [t for run in runs for t in run["registration"].values()]
    results = {
        "machine": machine_description(),
        "date": dt.date.today().isoformat(),
        "runs": args.runs,
        "median_s": medians,
        "worker_start_to_registered_s": registration,
        "worker_start_to_registered_median_s": statistics.median(registration),
        "events": runs[0]["benchmark"]["local"]["events"],
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "validate.json").write_text(json.dumps(results, indent=2) + "\n")
    print(
        f"Measured on {results['machine']}, {results['date']}; medians of {args.runs} runs "
        f"(`benchmarks/bench_validate.py`), {results['events']:,} events:\n"
    )
    print("| phase | median [s] |\n|---|---|")
    for key, label in PHASES:
        print(f"| {label} | {medians[key]:.1f} |")
    print(
        f"| worker container start → registered at the scheduler "
        f"({len(registration)} workers) | {results['worker_start_to_registered_median_s']:.1f} |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The image checks of `afenv validate`, the two roles at once against one after the other.

    .venv/bin/python benchmarks/bench_checks.py [--runs 3] [--experiment cms]

Needs the pair built (`afenv build cms --no-validate`). Starts the validation's own cluster
once (scheduler and workers from the worker image, a client from the singleuser image), then
runs the same check suite against it alternately both ways, so that the two are measured side
by side on the same containers in one run. Every run must pass. Writes
``benchmarks/results/checks.json`` and prints Markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_ds import machine, machine_line
from common import RESULTS, ROOT

from afenv.build import pair_references
from afenv.cluster import start_cluster
from afenv.engine import Engine
from afenv.lock import load_locks
from afenv.pipeline import cache_dir
from afenv.spec import load_project
from afenv.validate import pair_for_experiment
from afenv.validate.checks_phase import run_image_checks

WAYS = {"at once": True, "one after the other": False}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--experiment", default="cms")
    args = parser.parse_args()
    project = load_project(ROOT)
    experiment = project.experiment(args.experiment)
    docker = Engine.connect()
    references = pair_references(project, experiment, docker=docker, cache=cache_dir(os.environ))
    for reference in references.values():
        docker.require_image(reference, hint=f"run `afenv build {experiment.name}` first")
    pair = pair_for_experiment(experiment, references, load_locks(project, experiment))
    seconds: dict[str, list[float]] = {way: [] for way in WAYS}
    with (
        tempfile.TemporaryDirectory(prefix="afenv-bench-checks-") as tmp,
        start_cluster(
            docker,
            worker_image=pair.worker,
            singleuser_image=pair.singleuser,
            workers=1,
            logs=Path(tmp) / "logs",
            purpose="bench-checks",
        ) as cluster,
    ):
        containers = {"worker": cluster.scheduler.id, "singleuser": cluster.notebook.id}
        for run in range(args.runs):
            # Alternate which way goes first, so neither always meets a warmer page cache.
            order = list(WAYS) if run % 2 == 0 else list(reversed(WAYS))
            for way in order:
                started = time.perf_counter()
                checks = run_image_checks(
                    docker, containers, pair, Path(tmp) / f"{run}-{way}", at_once=WAYS[way]
                )
                seconds[way].append(round(time.perf_counter() - started, 2))
                failed = [c.name for c in checks if c.status == "failed"]
                if failed:
                    print(f"checks failed ({way}): {failed}; not a measurement", file=sys.stderr)
                    return 1
    medians = {way: statistics.median(values) for way, values in seconds.items()}
    ratio = medians["at once"] / medians["one after the other"]
    results = {
        "machine": machine(),
        "experiment": experiment.name,
        "runs": args.runs,
        "seconds": seconds,
        "median_s": medians,
        "at_once_over_one_after_the_other": round(ratio, 2),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "checks.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"{machine_line(results)}; {experiment.name}; {args.runs} runs, ways alternating.\n")
    print("| image checks, both roles | runs [s] | median [s] |\n|---|---|---:|")
    for way, values in seconds.items():
        print(f"| {way} | {', '.join(f'{v:.1f}' for v in values)} | {medians[way]:.1f} |")
    print(f"\nat once / one after the other: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

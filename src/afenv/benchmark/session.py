"""`afenv bench ds <exp>`: the Ds benchmark in a built image pair, for users and admins.

Same cluster as validation (scheduler and workers from the worker image, client from the
singleuser image); local and legacy modes run in a worker container, dask mode from the client.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from afenv.benchmark.modes import REPORT_NAMES, generate, run_mode
from afenv.cluster import start_cluster
from afenv.engine import Engine
from afenv.errors import BenchmarkFailed
from afenv.options import GridOptions
from afenv.spec import BenchmarkSpec
from afenv.ui import UI

__all__ = ["default_report_dir", "run_benchmark", "table"]


def run_benchmark(
    docker: Engine,
    *,
    worker_image: str,
    singleuser_image: str,
    spec: BenchmarkSpec,
    modes: Sequence[str],
    workers: int,
    report_dir: Path,
    ui: UI,
    grid: GridOptions | None = None,
) -> dict[str, Any]:
    results: dict[str, Any] = {"spec": vars(spec), "modes": {}, "report": str(report_dir)}
    with start_cluster(
        docker,
        worker_image=worker_image,
        singleuser_image=singleuser_image,
        workers=workers,
        logs=report_dir / "logs",
        purpose="bench",
        grid=grid,
    ) as cluster:
        ui.info(f"generating {spec.events} events in {spec.files} files")
        generated = generate(cluster, worker_image, spec)
        if generated.exit_code != 0:
            reason = (generated.stderr.strip().splitlines() or ["?"])[-1]
            raise BenchmarkFailed(f"generating the Ds sample failed: {reason}")
        for mode in modes:
            container = cluster.notebook if mode == "dask" else cluster.workers[0]
            ui.info(f"running {REPORT_NAMES[mode]} mode")
            outcome = run_mode(container, mode, report_dir)
            if outcome.report is None:
                raise BenchmarkFailed(f"{outcome.label} mode failed: {outcome.problem}")
            results["modes"][outcome.label] = outcome.report
    reports = list(results["modes"].values())
    agree = all(
        r["cutflow"] == reports[0]["cutflow"] and r["histogram"] == reports[0]["histogram"]
        for r in reports
    )
    results["modes_agree"] = agree
    (report_dir / "bench.json").write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    if not agree:
        raise BenchmarkFailed(
            f"modes disagree on cutflow or histogram; see {report_dir / 'bench.json'}"
        )
    return results


def default_report_dir(reports: Path, experiment: str) -> Path:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return reports / experiment / f"bench-{stamp}"


def table(results: dict[str, Any]) -> str:
    lines = [
        "| mode | events | wall [s] | events/s | events/s per core | selected |",
        "|---|---|---|---|---|---|",
    ]
    for label, report in results["modes"].items():
        timing = report.get("timing", {})
        lines.append(
            f"| {label} | {report['events']:,} | {timing.get('wall_s', 0):.2f} | "
            f"{timing.get('events_per_s', 0):,.0f} | {timing.get('events_per_s_per_core', 0):,.0f}"
            f" | {report.get('selected')} |"
        )
    lines.append(f"report: {results['report']}")
    return "\n".join(lines)

"""`afenv validate`: an image pair proves itself in a cluster of containers.

Phases run against one cluster (registration and versions, image checks, the Ds benchmark,
notebooks, tutorials), ``options.lanes`` at a time where what a phase needs has finished
(:mod:`afenv.validate.schedule`); a phase that cannot let the next ones run (no worker
registered) stops them.
The report is returned, not written: promotion comes first, then ``summary.json`` (see
:mod:`afenv.pipeline`).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from afenv.cluster import start_cluster
from afenv.engine import Engine
from afenv.options import ClusterOptions
from afenv.ui import UI
from afenv.validate.benchmark_phase import BenchmarkPhase
from afenv.validate.checks_phase import ChecksPhase
from afenv.validate.notebooks_phase import NotebookPhase
from afenv.validate.pair import Pair
from afenv.validate.phase import Phase, PhaseContext
from afenv.validate.report import Check, ValidationReport
from afenv.validate.schedule import run_scheduled
from afenv.validate.tutorials_phase import TutorialsPhase
from afenv.validate.versions_phase import VersionsPhase

__all__ = ["PHASES", "validate"]

PHASES: tuple[Phase, ...] = (
    VersionsPhase(),
    ChecksPhase(),
    BenchmarkPhase(),
    NotebookPhase(),
    TutorialsPhase(),
)


def validate(
    pair: Pair,
    *,
    docker: Engine,
    ui: UI,
    reports: Path,
    options: ClusterOptions,
    phases: Sequence[Phase] = PHASES,
) -> ValidationReport:
    started = time.monotonic()
    report_dir = pair.report_dir(reports)
    report_dir.mkdir(parents=True, exist_ok=True)
    image_ids = {
        role: docker.require_image(reference, hint="build or pull it first").id
        for role, reference in pair.references.items()
    }
    checks: list[Check] = []
    sections: dict[str, Any] = {}
    timing: dict[str, float] = {}
    begun = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    ui.info(f"starting scheduler, {options.workers} workers and a client")
    with start_cluster(
        docker,
        worker_image=pair.worker,
        singleuser_image=pair.singleuser,
        workers=options.workers,
        logs=report_dir / "logs",
        purpose="validate",
        grid=options.grid,
    ) as cluster:
        timing["cluster_start"] = round(time.monotonic() - started, 2)
        context = PhaseContext(
            docker=docker, cluster=cluster, pair=pair, options=options, report_dir=report_dir, ui=ui
        )
        schedule: dict[str, dict[str, float]] = {}
        for done in run_scheduled(phases, lambda phase: phase.run(context), lanes=options.lanes):
            timing[done.phase.name] = done.seconds
            timing.update(done.outcome.timing)
            checks += done.outcome.checks
            sections.update(done.outcome.sections)
            schedule[done.phase.name] = {"started_s": done.started, "seconds": done.seconds}
        sections["schedule"] = schedule
    timing["total"] = round(time.monotonic() - started, 2)
    return ValidationReport(
        pair=pair,
        directory=report_dir,
        started=begun,
        workers=options.workers,
        image_ids=image_ids,
        checks=tuple(checks),
        sections=sections,
        timing=timing,
    )

"""Phase: the Ds benchmark generated in the cluster, run locally in a worker container and
distributed from the client; both must agree and the fit must recover the generated truth."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from afenv.benchmark import ModeOutcome, generate, run_mode
from afenv.validate.phase import Outcome, PhaseContext
from afenv.validate.report import Check

__all__ = ["BenchmarkPhase", "compare_modes"]


def _mode_check(outcome: ModeOutcome) -> Check:
    if outcome.report is None:
        return Check.of(f"benchmark.{outcome.label}", False, outcome.problem)
    wall = outcome.report.get("timing", {}).get("wall_s", 0.0)
    return Check.of(
        f"benchmark.{outcome.label}", True, f"{outcome.report['events']} events in {wall:.1f}s"
    )


class BenchmarkPhase:
    name = "benchmark"
    needs: tuple[str, ...] = ("registration_and_versions",)

    def run(self, context: PhaseContext) -> Outcome:
        cluster, spec, ui = context.cluster, context.pair.benchmark, context.ui
        timing: dict[str, float] = {}
        started = time.monotonic()
        ui.info(f"generating {spec.events} Ds events in {spec.files} files")
        generated = generate(cluster, context.pair.worker, spec)
        timing["benchmark_generate"] = round(time.monotonic() - started, 2)
        if generated.exit_code != 0:
            reason = (generated.stderr.strip().splitlines() or ["?"])[-1]
            return Outcome(checks=(Check.of("benchmark.generate", False, reason),), timing=timing)
        bench_dir = context.report_dir / "benchmark"
        outcomes: dict[str, ModeOutcome] = {}
        for key, label, container, mode in (
            ("benchmark_local", "local mode in a worker container", cluster.workers[0], "local"),
            ("benchmark_distributed", "distributed from the client", cluster.notebook, "dask"),
        ):
            ui.info(f"benchmark: {label}")
            started = time.monotonic()
            outcomes[mode] = run_mode(container, mode, bench_dir)
            timing[key] = round(time.monotonic() - started, 2)
        local, distributed = outcomes["local"].report, outcomes["dask"].report
        checks = [
            Check.of("benchmark.generate", True),
            _mode_check(outcomes["local"]),
            _mode_check(outcomes["dask"]),
        ]
        if local is not None and distributed is not None:
            checks += compare_modes(local, distributed)
        return Outcome(
            checks=tuple(checks),
            sections={"benchmark": {"local": local, "distributed": distributed}},
            timing=timing,
        )


def compare_modes(local: Mapping[str, Any], distributed: Mapping[str, Any]) -> list[Check]:
    """Local and distributed runs agree bin for bin, and the fit recovers the truth."""
    same = (
        local["cutflow"] == distributed["cutflow"]
        and local["histogram"] == distributed["histogram"]
    )
    checks = [
        Check.of(
            "benchmark.local_equals_distributed",
            same,
            ""
            if same
            else f"cutflow local {local['cutflow']} vs distributed {distributed['cutflow']}",
        )
    ]
    truth = (distributed.get("fit") or {}).get("truth_check")
    if not truth:
        checks.append(
            Check.of("benchmark.fit_recovers_truth", False, "no truth check in the report")
        )
    else:
        checks.append(
            Check.of(
                "benchmark.fit_recovers_truth",
                bool(truth.get("ok")),
                json.dumps({k: truth[k] for k in ("ds", "dplus") if k in truth}),
            )
        )
    return checks

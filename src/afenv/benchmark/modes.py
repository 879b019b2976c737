"""Running the Ds benchmark program (``afenv-bench``, shipped in every image) in a cluster.

Shared by `afenv validate` (which turns the outcomes into checks) and `afenv bench ds` (which
reports them).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from afenv.cluster import DATA, SCHEDULER_ADDRESS, Cluster
from afenv.engine import Container, ExecResult
from afenv.spec import BenchmarkSpec

__all__ = ["REPORT_NAMES", "ModeOutcome", "cling_errors", "generate", "run_mode"]

BENCH_TIMEOUT = 1800
INPUT_GLOB = f"{DATA}/ds/*.root"
# The name each mode's report goes under (dask mode is "distributed" in reports).
REPORT_NAMES = {"local": "local", "dask": "distributed", "legacy": "legacy"}


@dataclass(frozen=True)
class ModeOutcome:
    label: str
    report: dict[str, Any] | None
    problem: str  # empty when the run succeeded


def cling_errors(stderr: str) -> list[str]:
    """ROOT prints interpreter errors on stderr and may still return numbers: such a run failed."""
    return [
        line
        for line in stderr.splitlines()
        if "error" in line.lower() and "alpha stage" not in line
    ]


def generate(cluster: Cluster, image: str, spec: BenchmarkSpec) -> ExecResult:
    """Write the benchmark sample onto the cluster's data volume, readable by every container."""
    return cluster.run_once(
        image,
        "generate",
        [
            "sh",
            "-c",
            f"afenv-bench ds generate --out {DATA}/ds --events {int(spec.events)} "
            f"--files {int(spec.files)} --seed {int(spec.seed)} && chmod -R a+rX {DATA}/ds",
        ],
        timeout=BENCH_TIMEOUT,
        user="0",  # a fresh volume belongs to root
    )


def run_mode(
    container: Container,
    mode: str,
    report_dir: Path,
    inputs: Sequence[str] = (INPUT_GLOB,),
) -> ModeOutcome:
    """Run one mode in ``container`` over ``inputs`` (paths, globs or root:// URLs as the
    container sees them); its report lands in ``report_dir/<label>/``."""
    label = REPORT_NAMES[mode]
    inside = f"/tmp/afenv-report/{label}"
    extra = {
        "local": ["--threads", "0"],
        "legacy": [],
        "dask": ["--scheduler", SCHEDULER_ADDRESS, "--harvest", f"{inside}/selected.root"],
    }[mode]
    # Through the images' entry point, so an exec'd run sees the grid environment that the
    # container's own command does (CVMFS's CA directory when it is mounted).
    result = container.exec(
        [
            "afenv-entrypoint",
            "afenv-bench",
            "ds",
            "run",
            "--input",
            *inputs,
            "--mode",
            mode,
            *extra,
            "--report",
            inside,
        ],
        timeout=BENCH_TIMEOUT,
    )
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / f"{label}.log").write_text(result.stdout + "\n--- stderr ---\n" + result.stderr)
    errors = cling_errors(result.stderr)
    if result.exit_code != 0 or errors:
        lines = errors or result.stderr.strip().splitlines() or [f"exit {result.exit_code}"]
        return ModeOutcome(label, None, " ".join(lines[-1].split())[:1000])
    container.copy_out(inside, report_dir / label)
    return ModeOutcome(label, json.loads((report_dir / label / "report.json").read_text()), "")

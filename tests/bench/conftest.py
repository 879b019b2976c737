"""Session fixtures for the Ds benchmark tests: small generated files and one run per mode.

Each mode costs seconds of JIT or compilation, so every mode runs once per session through the
real CLI (in this process), and the tests read the reports.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

EVENTS = 20_000
FILES = 2
SEED = 7


@dataclass(frozen=True)
class ModeRun:
    report: dict
    harvest: Path
    directory: Path


@pytest.fixture(scope="session")
def ds_files(tmp_path_factory) -> list[Path]:
    from afenv_bench.generator import generate

    out = tmp_path_factory.mktemp("ds-input")
    return generate(out, events=EVENTS, files=FILES, seed=SEED).files


@pytest.fixture(scope="session")
def run_mode(ds_files, tmp_path_factory):
    """``run_mode("local")`` runs the CLI once per mode and session and returns a ModeRun."""
    from afenv_bench.cli import main

    runs: dict[str, ModeRun] = {}

    def run(mode: str) -> ModeRun:
        if mode not in runs:
            directory = tmp_path_factory.mktemp(f"report-{mode}")
            harvest = directory / "selected.root"
            extra = ["--threads", "2"]
            inputs = [str(path) for path in ds_files]
            outputs = ["--harvest", str(harvest), "--report", str(directory)]
            code = main(["ds", "run", "--input", *inputs, "--mode", mode, *extra, *outputs])
            assert code == 0
            report = json.loads((directory / "report.json").read_text())
            runs[mode] = ModeRun(report=report, harvest=harvest, directory=directory)
        return runs[mode]

    return run

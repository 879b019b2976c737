"""Phase: notebooks run as users run them, in the singleuser image against the cluster.

afenv's own Ds analysis notebook (``afenv_bench/notebooks/ds-analysis.ipynb``) always runs, then
the experiment's ``images/<exp>/notebooks/*.ipynb`` and any ``--notebook`` given. Each runs in
the client container with a real Jupyter kernel (``afenv_runtime.notebooks``), with
``DASK_SCHEDULER_ADDRESS`` pointing at the cluster, after the benchmark phase generated the Ds
sample. A notebook fails on a raised exception, a ROOT ``Error in <`` line or a
``VersionMismatchWarning``; the executed notebook and its HTML go into the report. The shipped
notebook must also reproduce the distributed benchmark's cutflow and histogram bin for bin.
"""

from __future__ import annotations

import json
import time
from importlib import resources
from pathlib import Path
from typing import Any

from afenv.cluster import as_client
from afenv.validate.phase import Outcome, PhaseContext
from afenv.validate.report import Check

__all__ = ["SHIPPED", "NotebookPhase", "matches_benchmark"]

SHIPPED = Path(str(resources.files("afenv_bench"))) / "notebooks" / "ds-analysis.ipynb"
INSIDE = "/tmp/afenv-notebooks"
NOTEBOOK_TIMEOUT = 1800


class NotebookPhase:
    name = "notebooks"
    needs: tuple[str, ...] = ("benchmark",)

    def run(self, context: PhaseContext) -> Outcome:
        checks: list[Check] = []
        timing: dict[str, float] = {}
        results: dict[str, Any] = {}
        for path in (SHIPPED, *context.pair.notebooks):
            context.ui.info(f"notebook {path.name}")
            started = time.monotonic()
            result = run_notebook(context, path)
            timing[f"notebook_{path.stem}"] = round(time.monotonic() - started, 2)
            results[path.name] = result
            message = (
                f"{path.name}: {result['problem']}"
                if result["problem"]
                else f"{result['cells']} cells in {result['seconds']:.1f}s"
            )
            checks.append(Check.of(f"notebook.{path.stem}", result["ok"], message))
            if path == SHIPPED and result["ok"]:
                checks.append(matches_benchmark(context.report_dir, result))
        return Outcome(checks=tuple(checks), sections={"notebooks": results}, timing=timing)


def run_notebook(context: PhaseContext, path: Path) -> dict[str, Any]:
    client = context.cluster.notebook
    inside = f"{INSIDE}/{path.stem}"
    client.put_file(inside, path.name, path.read_bytes())
    runner = ["python3", "-m", "afenv_runtime.notebooks", f"{inside}/{path.name}"]
    done = client.exec(as_client([*runner, "--out", f"{inside}/out"]), timeout=NOTEBOOK_TIMEOUT)
    local = context.report_dir / "notebooks" / path.stem
    try:
        client.copy_out(f"{inside}/out", local)
    except FileNotFoundError:  # nothing to copy when the runner itself failed to start
        local.mkdir(parents=True, exist_ok=True)
    (local / "runner.log").write_text(done.stdout + "\n--- stderr ---\n" + done.stderr)
    lines = done.stdout.strip().splitlines()
    try:
        result: dict[str, Any] = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        reason = (done.stderr.strip().splitlines() or [f"exit {done.exit_code}"])[-1]
        return {"ok": False, "problem": f"the runner failed: {reason[:300]}", "cells": 0}
    result["outputs"] = str(local)
    return result


def matches_benchmark(report_dir: Path, result: dict[str, Any]) -> Check:
    """The shipped notebook's cutflow and histogram equal the distributed benchmark's."""
    name = "notebook.ds-analysis.matches_benchmark"
    try:
        notebook = json.loads((Path(result["outputs"]) / "result.json").read_text())
        bench = json.loads((report_dir / "benchmark" / "distributed" / "report.json").read_text())
    except (OSError, ValueError, KeyError) as error:
        return Check.of(name, False, f"cannot compare: {error}")
    same = (
        notebook["cutflow"] == bench["cutflow"]
        and notebook["histogram"] == bench["histogram"]["counts"]
    )
    message = (
        f"cutflow {notebook['cutflow']}"
        if same
        else f"notebook cutflow {notebook['cutflow']} vs benchmark {bench['cutflow']}"
    )
    return Check.of(name, same, message)

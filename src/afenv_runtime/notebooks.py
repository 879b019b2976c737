"""Run a notebook as a user would, with a real Jupyter kernel, and judge it as validation does.

    python -m afenv_runtime.notebooks NOTEBOOK.ipynb --out DIR [--timeout SECONDS]

Runs in the singleuser image (nbclient and nbconvert are in its lock). The kernel starts in
``DIR`` with this process's environment, so ``DASK_SCHEDULER_ADDRESS`` makes ``Client()`` in the
notebook connect to the validation cluster. A notebook fails if a cell raises, if a cell's
output holds a ROOT ``Error in <…>`` line (ROOT often prints and carries on), or if it shows a
``VersionMismatchWarning``. The executed notebook and its HTML rendering are written to ``DIR``
either way; one JSON line on stdout says what happened, naming the cell and the error.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["judge", "main", "run"]

CELL_TIMEOUT = 900
_ROOT_ERROR = "Error in <"
_MISMATCH = "VersionMismatchWarning"


def _texts(output: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(kind, text) of one cell output: stream name, or the output type."""
    if output.get("output_type") == "stream":
        yield output.get("name", "stream"), str(output.get("text", ""))
    elif output.get("output_type") == "error":
        yield "error", "\n".join(output.get("traceback", []))
    else:
        for mime, data in (output.get("data") or {}).items():
            if mime == "text/plain":
                yield "result", "".join(data) if isinstance(data, list) else str(data)


def judge(notebook: Any) -> str:
    """The first problem in an executed notebook, cell by cell, or "" (code cells numbered from
    1): an exception, a ROOT ``Error in <`` line, a ``VersionMismatchWarning``, in the order the
    cell printed them."""
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    for number, cell in enumerate(code_cells, 1):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return f"cell {number} raised {output.get('ename')}: {output.get('evalue')}"[:400]
            for kind, text in _texts(output):
                for line in text.splitlines():
                    if line.lstrip().startswith(_ROOT_ERROR):
                        return f"cell {number}: ROOT error on {kind}: {line.strip()[:300]}"
                    if _MISMATCH in line:
                        return f"cell {number}: {line.strip()[:300]}"
    return ""


def run(path: Path, out: Path, *, timeout: int = CELL_TIMEOUT) -> dict[str, Any]:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from nbconvert import HTMLExporter

    out.mkdir(parents=True, exist_ok=True)
    notebook = nbformat.read(path, as_version=4)
    kernel = (notebook.metadata.get("kernelspec") or {}).get("name") or "python3"
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name=kernel,
        resources={"metadata": {"path": str(out)}},
    )
    started = time.monotonic()
    failure = ""
    try:
        client.execute()
    except CellExecutionError as error:  # the cell's error output says which and why
        failure = f"a cell raised: {(str(error).strip().splitlines() or ['?'])[-1][:300]}"
    except Exception as error:  # a kernel that died or timed out: say so, keep the outputs
        failure = f"{type(error).__name__}: {' '.join(str(error).split())[:300]}"
    seconds = round(time.monotonic() - started, 2)
    problem = judge(notebook) or failure
    executed = out / path.name
    nbformat.write(notebook, executed)
    html, _ = HTMLExporter().from_notebook_node(notebook)
    executed.with_suffix(".html").write_text(html)
    return {
        "notebook": path.name,
        "ok": not problem,
        "problem": problem,
        "cells": sum(1 for cell in notebook.cells if cell.cell_type == "code"),
        "seconds": seconds,
        "executed": executed.name,
        "html": executed.with_suffix(".html").name,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m afenv_runtime.notebooks")
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--timeout", type=int, default=CELL_TIMEOUT, help="seconds per cell")
    args = parser.parse_args(argv)
    result = run(args.notebook, args.out, timeout=args.timeout)
    print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

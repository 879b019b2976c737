"""The validation matrix as data: experiment × step (lock, build, validate) cells, and its three
renderings (the table people read, JSON, and JUnit XML for CI's test reports). Pure; the
pipeline runs the cells (:func:`afenv.pipeline.matrix`)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "STEPS",
    "Cell",
    "MatrixResult",
    "Row",
    "Status",
    "junit_xml",
    "skipped",
    "table",
    "write",
]

Status = Literal["passed", "failed", "skipped"]
# The steps of one experiment, in the order they run; a failed step skips the ones after it.
STEPS: tuple[str, ...] = ("lock", "build", "validate")
JSON_NAME = "matrix.json"
JUNIT_NAME = "matrix.xml"


@dataclass(frozen=True, kw_only=True)
class Cell:
    step: str
    status: Status
    seconds: float
    detail: str = ""  # why it failed or was skipped, or what it produced

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "seconds": round(self.seconds, 1),
            "detail": self.detail,
        }


def skipped(step: str, because: str) -> Cell:
    return Cell(step=step, status="skipped", seconds=0.0, detail=because)


@dataclass(frozen=True, kw_only=True)
class Row:
    experiment: str
    cells: tuple[Cell, ...]
    report: str | None = None  # the validation's summary.json, when it ran

    @property
    def passed(self) -> bool:
        return all(cell.status == "passed" for cell in self.cells)

    def as_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "report": self.report,
            "cells": {cell.step: cell.as_dict() for cell in self.cells},
        }


@dataclass(frozen=True, kw_only=True)
class MatrixResult:
    rows: tuple[Row, ...]
    seconds: float

    @property
    def passed(self) -> bool:
        return all(row.passed for row in self.rows)

    @property
    def failed(self) -> tuple[str, ...]:
        return tuple(
            f"{row.experiment} {cell.step}"
            for row in self.rows
            for cell in row.cells
            if cell.status == "failed"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "seconds": round(self.seconds, 1),
            "experiments": {row.experiment: row.as_dict() for row in self.rows},
        }


def table(result: MatrixResult) -> str:
    """experiment × step, status and time; then each failure's reason, one line each."""
    width = max([len("experiment"), *(len(row.experiment) for row in result.rows)])
    lines = [f"{'experiment':<{width}}  " + "  ".join(f"{step:<16}" for step in STEPS)]
    for row in result.rows:
        cells = {cell.step: cell for cell in row.cells}
        lines.append(
            f"{row.experiment:<{width}}  "
            + "  ".join(f"{_cell_text(cells.get(step)):<16}" for step in STEPS)
        )
    for row in result.rows:
        for cell in row.cells:
            if cell.status == "failed":
                lines.append(f"{row.experiment} {cell.step}: {cell.detail}")
    verdict = "passed" if result.passed else f"FAILED ({', '.join(result.failed)})"
    lines.append(f"matrix {verdict} in {result.seconds:.0f}s")
    return "\n".join(lines)


def _cell_text(cell: Cell | None) -> str:
    if cell is None or cell.status == "skipped":
        return "-"
    return f"{'ok' if cell.status == 'passed' else 'FAILED'} {cell.seconds:.0f}s"


def junit_xml(result: MatrixResult) -> str:
    """One test case per cell, classname the experiment, so CI shows the grid as tests."""
    cells = [(row, cell) for row in result.rows for cell in row.cells]
    suite = ET.Element(
        "testsuite",
        name="afenv matrix",
        tests=str(len(cells)),
        failures=str(sum(cell.status == "failed" for _, cell in cells)),
        errors="0",
        skipped=str(sum(cell.status == "skipped" for _, cell in cells)),
        time=f"{result.seconds:.1f}",
    )
    for row, cell in cells:
        case = ET.SubElement(
            suite, "testcase", classname=row.experiment, name=cell.step, time=f"{cell.seconds:.1f}"
        )
        if cell.status == "failed":
            ET.SubElement(case, "failure", message=cell.detail[:1000]).text = cell.detail
        elif cell.status == "skipped":
            ET.SubElement(case, "skipped", message=cell.detail[:1000])
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write(result: MatrixResult, folder: Path) -> tuple[Path, Path]:
    """The JSON and JUnit files in ``folder``; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    document, junit = folder / JSON_NAME, folder / JUNIT_NAME
    document.write_text(json.dumps(result.as_dict(), indent=2, sort_keys=True) + "\n")
    junit.write_text(junit_xml(result))
    return document, junit

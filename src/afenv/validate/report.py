"""The validation report: typed check results, ``summary.json`` and the short text summary.

``summary.json`` is written once, after promotion, from :meth:`ValidationReport.as_dict`, which
is also exactly what ``--json`` prints.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from afenv.validate.pair import Pair

__all__ = ["Check", "ValidationReport", "summary_text", "write_summary"]

Status = Literal["passed", "failed", "skipped"]


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    message: str = ""

    @classmethod
    def of(cls, name: str, ok: bool | None, message: str = "") -> Check:
        """``ok``: True passed, False failed, None skipped."""
        status: Status = "skipped" if ok is None else ("passed" if ok else "failed")
        return cls(name, status, message)


@dataclass(frozen=True, kw_only=True)
class ValidationReport:
    pair: Pair
    directory: Path
    started: str
    workers: int
    image_ids: Mapping[str, str]
    checks: tuple[Check, ...]
    # What the phases found besides their checks: versions, registration, benchmark, ...
    sections: Mapping[str, Any] = field(default_factory=dict)
    timing: Mapping[str, float] = field(default_factory=dict)
    promoted: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.status != "failed" for c in self.checks)

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.status == "failed")

    def with_promotion(self, promoted: tuple[str, ...]) -> ValidationReport:
        return replace(self, promoted=promoted)

    def as_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "experiment": self.pair.experiment,
            "images": self.pair.references,
            "image_ids": dict(self.image_ids),
            "workers": self.workers,
            "started": self.started,
            "checks": {c.name: {"status": c.status, "message": c.message} for c in self.checks},
            "versions": {},
            "benchmark": {},
            **self.sections,
            "timing": dict(self.timing),
            "promoted": list(self.promoted),
        }

    def headline_versions(self) -> dict[str, str]:
        """ROOT, Python and Dask as the client ran them: what a hub's spawn form shows. ROOT's
        own version (6.40.00) comes from the benchmark run, not the PyPI wheel's (0.1a12)."""
        versions = self.sections.get("versions") or {}
        found = {
            name: str(versions[name]["client"])
            for name in ("python", "dask")
            if isinstance(versions.get(name), dict) and versions[name].get("client")
        }
        for mode in (self.sections.get("benchmark") or {}).values():
            root = mode.get("versions", {}).get("root") if isinstance(mode, dict) else None
            if root:
                found["root"] = str(root)
                break
        return found

    @property
    def summary_path(self) -> Path:
        return self.directory / "summary.json"


def write_summary(report: ValidationReport) -> Path:
    report.directory.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report.as_dict(), indent=2, sort_keys=True) + "\n"
    partial = report.summary_path.with_suffix(".partial")
    partial.write_text(text)
    partial.replace(report.summary_path)
    return report.summary_path


def summary_text(report: ValidationReport, root: Path) -> str:
    """The short human summary `afenv validate` ends with."""
    checks = report.checks
    skipped = sum(1 for c in checks if c.status == "skipped")
    verdict = "PASSED" if report.passed else "FAILED"
    pair = report.pair
    target = pair.experiment or f"{pair.worker} + {pair.singleuser}"
    lines = [f"afenv validate {target}: {verdict} in {report.timing.get('total', 0):.0f}s"]
    lines.append(
        f"  checks     {len(checks) - len(report.failed) - skipped}/{len(checks)} passed"
        + (f", {skipped} skipped" if skipped else "")
    )
    for check in report.failed:
        separator = ":" if "\n" in check.message else ": "
        lines.append(f"  FAILED     {check.name}{separator}{check.message}")
    bench = report.sections.get("benchmark") or {}
    for label in ("local", "distributed"):
        result = bench.get(label)
        if result:
            timing = result.get("timing", {})
            lines.append(
                f"  benchmark  {label:<11} {result['events']} events, "
                f"{timing.get('events_per_s', 0):,.0f} events/s, selected {result.get('selected')}"
            )
    if report.promoted:
        lines.append(f"  promoted   {', '.join(report.promoted)}")
    try:
        shown = report.summary_path.relative_to(root)
    except ValueError:
        shown = report.summary_path
    lines.append(f"  report     {shown}")
    return "\n".join(lines)

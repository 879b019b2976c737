"""Promotion: only a passing afenv pair moves the promoted tags; every result is recorded.

The decision is pure (:func:`promotion_tags`); :func:`promote` records it in the state and
moves the tags through the engine.
"""

from __future__ import annotations

import datetime as dt

from afenv import engine
from afenv.engine import Engine
from afenv.state import State
from afenv.validate.report import ValidationReport

__all__ = ["promote", "promotion_tags"]


def promotion_tags(report: ValidationReport, day: dt.date) -> dict[str, tuple[str, ...]]:
    """source reference -> the tags it gets; empty unless an afenv pair passed."""
    pair = report.pair
    if pair.experiment is None or not report.passed:
        return {}
    return {
        reference: engine.promoted_tags(reference.rsplit(":", 1)[0], day)
        for reference in (pair.worker, pair.singleuser)
    }


def promote(report: ValidationReport, *, docker: Engine, state: State) -> tuple[str, ...]:
    """Record the result; move the tags of a passing afenv pair. Returns the tags moved."""
    pair = report.pair
    now = dt.datetime.now(dt.UTC)
    record = {
        "passed": report.passed,
        "when": now.isoformat(timespec="seconds"),
        "report": str(report.summary_path),
        "versions": report.headline_versions(),
    }
    if pair.experiment is None:
        # A pair named by the user says nothing about either image alone (the mismatch may be
        # the other one's): keep the result under the pair, not under its images.
        with state.update() as data:
            data["pairs"][pair.key] = record | pair.references
        return ()
    for reference in (pair.worker, pair.singleuser):
        state.record_image(reference, validation=record)
    tags = promotion_tags(report, now.date())
    for source, targets in tags.items():
        for target in targets:
            docker.tag(source, target)
    if tags:
        with state.update() as data:
            current = [pair.worker, pair.singleuser]
            before = data["promoted"].get(pair.experiment)
            if before and before != current:
                data["previous"][pair.experiment] = before
            data["promoted"][pair.experiment] = current
    return tuple(target for targets in tags.values() for target in targets)

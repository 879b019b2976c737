"""The interface every validation phase implements, and what phases share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from afenv.cluster import Cluster
from afenv.engine import Engine
from afenv.options import ClusterOptions
from afenv.ui import UI
from afenv.validate.pair import Pair
from afenv.validate.report import Check

__all__ = ["Outcome", "Phase", "PhaseContext"]


@dataclass(frozen=True, kw_only=True)
class PhaseContext:
    docker: Engine
    cluster: Cluster
    pair: Pair
    options: ClusterOptions
    report_dir: Path
    ui: UI


@dataclass(frozen=True, kw_only=True)
class Outcome:
    checks: tuple[Check, ...]
    sections: Mapping[str, Any] = field(default_factory=dict)  # merged into summary.json
    timing: Mapping[str, float] = field(default_factory=dict)
    proceed: bool = True  # False: later phases cannot run (e.g. no worker registered)


class Phase(Protocol):
    """One phase of `afenv validate`: runs against the cluster, returns typed checks."""

    name: str
    needs: tuple[str, ...]  # names of the phases that must have finished first

    def run(self, context: PhaseContext) -> Outcome: ...

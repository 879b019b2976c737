"""Phase: workers register; client, scheduler and workers agree on every shared version."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from afenv.cluster import SCHEDULER_ADDRESS, Cluster
from afenv.validate import versions
from afenv.validate.phase import Outcome, PhaseContext
from afenv.validate.report import Check

__all__ = ["VersionsPhase"]

_PROBE = Path(str(resources.files("afenv.validate") / "probes" / "versions_probe.py"))


class VersionsPhase:
    name = "registration_and_versions"
    needs: tuple[str, ...] = ()

    def run(self, context: PhaseContext) -> Outcome:
        cluster = context.cluster
        timeout = context.options.registration_timeout
        probe = cluster.notebook.put_file("/tmp/afenv-probe", _PROBE.name, _PROBE.read_bytes())
        context.ui.info("waiting for workers; comparing versions")
        result = cluster.notebook.exec(
            ["python", probe, SCHEDULER_ADDRESS, str(len(cluster.workers)), str(timeout)],
            timeout=timeout + 120,
        )
        try:
            data = json.loads(result.stdout.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError):
            tail = " ".join(result.stderr.strip().splitlines()[-3:])
            message = f"client could not reach the scheduler: {tail}"
            return Outcome(
                checks=(Check.of("cluster.registration", False, message),), proceed=False
            )
        return interpret(data, cluster)


def interpret(data: Mapping[str, Any], cluster: Cluster) -> Outcome:
    """The probe's findings as checks (pure but for the containers' start times)."""
    registered: dict[str, str] = dict(data["registered"])
    expected = [f"worker-{index}" for index in range(1, len(cluster.workers) + 1)]
    missing = [name for name in expected if name not in registered]
    if missing:
        tails = "; ".join(
            f"{c.name}: {c.log(tail=5).strip()!r}"
            for c in cluster.workers
            if c.name.endswith(tuple(f"-{name}" for name in missing))
        )
        message = f"never registered: {', '.join(missing)} ({tails})"
        return Outcome(checks=(Check.of("cluster.registration", False, message),), proceed=False)
    client, scheduler, workers = data["client"], data["scheduler"], data["workers"]
    warnings = [str(w) for w in data["warnings"]]
    rows = versions.compare(client, scheduler, workers)
    check = data["check"]
    checks = (
        Check.of("cluster.registration", True, f"{len(expected)} workers registered"),
        Check.of(
            "versions.no_mismatch_warning",
            not warnings,
            " | ".join(" ".join(w.split()) for w in warnings)[:2000],
        ),
        Check.of(
            "versions.get_versions_check",
            check == "passed",
            "" if check == "passed" else " ".join(str(check).split())[:2000],
        ),
        Check.of(
            "versions.every_shared_package", not rows, "\n" + versions.table(rows) if rows else ""
        ),
    )
    return Outcome(
        checks=checks,
        sections={
            "registration": _registration_times(cluster, registered),
            "versions": versions.version_rows(client, scheduler, workers),
            "version_disagreements": [row.package for row in rows],
        },
    )


def _registration_times(cluster: Cluster, registered: Mapping[str, str]) -> dict[str, float]:
    """Seconds from each worker container's start to its registration at the scheduler."""
    times = {}
    for container in cluster.workers:
        name = "worker-" + container.name.rsplit("-", 1)[-1]
        if name in registered:
            seen = dt.datetime.fromisoformat(registered[name])
            times[name] = round((seen - container.started_at()).total_seconds(), 2)
    return times

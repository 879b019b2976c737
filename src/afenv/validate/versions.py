"""Version agreement between a Dask client and its scheduler and workers (pure functions).

distributed only compares a handful of packages; a pickled task can break on any package both
sides import, so afenv compares every package present on both sides, and Python to the patch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Disagreement", "compare", "table", "version_rows"]

Packages = Mapping[str, str]  # canonical name -> version ("python" included)


@dataclass(frozen=True, kw_only=True)
class Disagreement:
    package: str
    client: str | None
    scheduler: str | None
    workers: tuple[str | None, ...]  # one per worker, in worker-name order


def _all_names(client: Packages, scheduler: Packages, workers: Mapping[str, Packages]) -> list[str]:
    return sorted(set(client) | set(scheduler) | {n for w in workers.values() for n in w})


def _versions_differ(values: list[str | None]) -> bool:
    present = {v for v in values if v is not None}
    return len(present) > 1


def compare(
    client: Packages, scheduler: Packages, workers: Mapping[str, Packages]
) -> list[Disagreement]:
    """Packages whose version differs between any two places that both have them.

    A package present on one side only is not a disagreement (the notebook has JupyterLab, the
    workers do not); one present on both sides with two versions is.
    """
    names = _all_names(client, scheduler, workers)
    worker_names = sorted(workers)
    rows = []
    for name in names:
        worker_values = tuple(workers[w].get(name) for w in worker_names)
        values = [client.get(name), scheduler.get(name), *worker_values]
        if _versions_differ(values):
            rows.append(
                Disagreement(
                    package=name,
                    client=client.get(name),
                    scheduler=scheduler.get(name),
                    workers=worker_values,
                )
            )
    return rows


def version_rows(
    client: Packages, scheduler: Packages, workers: Mapping[str, Packages]
) -> dict[str, dict[str, object]]:
    """Per package: the client, scheduler and per-worker versions (for summary.json)."""
    names = _all_names(client, scheduler, workers)
    return {
        name: {
            "client": client.get(name),
            "scheduler": scheduler.get(name),
            "workers": {w: workers[w].get(name) for w in sorted(workers)},
        }
        for name in names
    }


def table(rows: list[Disagreement]) -> str:
    """A table in the spirit of distributed's mismatch message."""

    def cell(value: str | None) -> str:
        return value if value is not None else "-"

    body = [
        (
            r.package,
            cell(r.client),
            cell(r.scheduler),
            ", ".join(sorted({cell(w) for w in r.workers})),
        )
        for r in rows
    ]
    header = ("Package", "Client", "Scheduler", "Workers")
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(4)]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def fmt(row: tuple[str, ...]) -> str:
        return "| " + " | ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) + " |"

    return "\n".join([line, fmt(header), line, *(fmt(r) for r in body), line])

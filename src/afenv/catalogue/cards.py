"""Each experiment's card: the pair users get (the promoted one, else the lock's), its
validation, versions, sizes, pushed digests, and what changed against the pair promoted
before it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from afenv import diff
from afenv.engine import Engine
from afenv.errors import ConfigError
from afenv.hub.pairs import collect_pairs
from afenv.spec import ROLES, Project
from afenv.state import State

__all__ = ["REPORT_FILES", "Card", "ImageCard", "collect_cards"]

Status = Literal["validated", "failed", "not validated", "not built"]
# What a card links to, from its validation's report folder: (label, file there). The first
# image is the card's plot.
REPORT_FILES: tuple[tuple[str, str], ...] = (
    ("benchmark plot", "benchmark/local/mass_fit.png"),
    ("validation summary (JSON)", "summary.json"),
    ("image checks (JUnit XML)", "checks.xml"),
    ("benchmark report", "benchmark/local/report.html"),
    ("analysis notebook", "notebooks/ds-analysis/ds-analysis.html"),
)


@dataclass(frozen=True, kw_only=True)
class ImageCard:
    role: str
    tag: str  # the local content-hash tag
    pushed: tuple[str, ...]  # registry references pinned by digest
    size: int | None  # bytes; None: not in this engine


@dataclass(frozen=True, kw_only=True)
class Card:
    experiment: str
    title: str
    description: str
    status: Status
    promoted: bool  # the pair shown is the promoted one (users get it)
    when: str | None  # the last validation of this pair (UTC, ISO)
    versions: Mapping[str, str]  # root, python, dask
    images: tuple[ImageCard, ...]
    report: Path | None  # the validation's report folder
    previous: tuple[str, str] | None  # worker, singleuser promoted before this pair
    changes: tuple[tuple[str, str], ...]  # (role, summary) against ``previous``
    dask_changes: tuple[str, ...]  # "numpy 2.5.4 -> 2.5.5 (upgraded)", Dask's compared ones
    lock_pair: str | None  # the lock's singleuser when it is not the promoted one, and status

    def files(self) -> list[tuple[str, Path]]:
        """(label, path) of the report files this card's validation left."""
        if self.report is None:
            return []
        return [(label, self.report / name) for label, name in REPORT_FILES]


def collect_cards(
    project: Project,
    state_data: Mapping[str, Any],
    lock_pairs: Mapping[str, Mapping[str, str] | None],
    docker: Engine,
) -> list[Card]:
    """One card per experiment of ``project``, by name. ``lock_pairs``: experiment -> role ->
    the reference the lock describes, built or not (None: no base image to compute it from)."""
    images = state_data.get("images", {})
    promoted = state_data.get("promoted", {})
    validated = {
        pair.experiment
        for pair in collect_pairs(project, state_data, registry=None, include_unvalidated=False)
    }
    cards = []
    for name in sorted(project.experiments):
        experiment = project.experiments[name]
        lock_references = lock_pairs.get(name)
        if name in promoted:
            worker, singleuser = promoted[name]
            references = {"worker": worker, "singleuser": singleuser}
        elif lock_references is not None:
            references = dict(lock_references)
        else:
            references = {}
        record = _validation(images, references["singleuser"]) if references else None
        sizes = {}
        for role, reference in references.items():
            info = docker.image(reference)
            sizes[role] = None if info is None else info.size
        if name in validated:
            status: Status = "validated"
        elif not references or None in sizes.values():
            status = "not built"
        elif record is not None and record.get("passed") is False:
            status = "failed"
        else:
            status = "not validated"
        previous = _previous(project, state_data, name)
        changes, dask_changes = _changes(previous, references, docker)
        lock_singleuser = lock_references["singleuser"] if lock_references else None
        lock_pair = None
        if lock_singleuser is not None and lock_singleuser != references["singleuser"]:
            lock_record = _validation(images, lock_singleuser)
            said = "never validated"
            if lock_record is not None:
                verdict = "passed" if lock_record.get("passed") else "FAILED"
                said = f"{verdict} validation on {str(lock_record.get('when', ''))[:10]}"
            if docker.image(lock_singleuser) is None:
                said = "not built"
            lock_pair = f"{lock_singleuser} ({said})"
        report = record.get("report") if record else None
        cards.append(
            Card(
                experiment=name,
                title=experiment.title,
                description=experiment.description,
                status=status,
                promoted=name in promoted,
                when=record.get("when") if record else None,
                versions=dict(record.get("versions", {})) if record else {},
                images=tuple(
                    ImageCard(
                        role=role,
                        tag=references[role],
                        pushed=_pushed(images, references[role]),
                        size=sizes[role],
                    )
                    for role in ROLES
                    if role in references
                ),
                report=Path(report).parent if isinstance(report, str) else None,
                previous=previous,
                changes=changes,
                dask_changes=dask_changes,
                lock_pair=lock_pair,
            )
        )
    return cards


def _previous(project: Project, state_data: Mapping[str, Any], name: str) -> tuple[str, str] | None:
    """The pair promoted before the current one, as validation recorded it."""
    entry = state_data.get("previous", {}).get(name)
    if entry is None:
        return None
    if not (isinstance(entry, list) and len(entry) == 2 and all(isinstance(r, str) for r in entry)):
        raise ConfigError(
            f"{State(project.state_dir).path}: previous[{name!r}] is not [worker, singleuser]; "
            f"delete that entry (the catalogue then shows no diff for {name})"
        )
    return entry[0], entry[1]


def _validation(images: Mapping[str, Any], reference: str) -> Mapping[str, Any] | None:
    entry = images.get(reference)
    record = entry.get("validation") if isinstance(entry, Mapping) else None
    return record if isinstance(record, Mapping) else None


def _pushed(images: Mapping[str, Any], reference: str) -> tuple[str, ...]:
    entry = images.get(reference)
    pushed = entry.get("pushed", []) if isinstance(entry, Mapping) else []
    return tuple(str(reference) for reference in pushed if isinstance(reference, str))


def _changes(
    previous: tuple[str, str] | None, references: Mapping[str, str], docker: Engine
) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    if not previous:
        return (), ()
    summaries, dask_changes = [], []
    new = (references["worker"], references["singleuser"])
    for role in diff.pair_changes(previous, new, docker):
        if role.changes is None:
            summaries.append((role.role, f"{role.old} is gone from the engine; no diff"))
            continue
        summaries.append((role.role, diff.summary(role.changes)))
        if role.role == "singleuser":  # the notebook has every worker package: Dask's once
            dask_changes = [
                f"{c.name} {c.old or '-'} -> {c.new or '-'} ({c.kind})"
                for c in role.changes
                if c.dask
            ]
    return tuple(summaries), tuple(dask_changes)

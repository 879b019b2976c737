"""What is validated: an image pair, afenv's own (with its locks) or any two images."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from afenv.engine import Engine, check_reference
from afenv.lock import LockSet
from afenv.spec import BenchmarkSpec, Experiment

__all__ = ["Pair", "pair_for_experiment", "pair_from_images"]


@dataclass(frozen=True, kw_only=True)
class Pair:
    worker: str
    singleuser: str
    experiment: str | None  # None: images afenv did not build
    key: str  # report folder name: the singleuser content hash, or a digest of both image IDs
    cvmfs: tuple[str, ...] = ()
    vos: tuple[str, ...] = ()
    benchmark: BenchmarkSpec = field(default_factory=BenchmarkSpec)
    locks: Mapping[str, Mapping[str, tuple[str, str]]] = field(default_factory=dict)
    notebooks: tuple[Path, ...] = ()  # run by the notebook phase after afenv's own
    checks: tuple[Path, ...] = ()  # the experiment's own check files, run after afenv's

    def report_dir(self, reports: Path) -> Path:
        return reports / (self.experiment or "external") / self.key

    @property
    def references(self) -> dict[str, str]:
        return {"worker": self.worker, "singleuser": self.singleuser}


def pair_for_experiment(
    experiment: Experiment, references: Mapping[str, str], locks: LockSet
) -> Pair:
    return Pair(
        worker=references["worker"],
        singleuser=references["singleuser"],
        experiment=experiment.name,
        key=references["singleuser"].rsplit(":", 1)[1],
        cvmfs=experiment.cvmfs,
        vos=experiment.vos,
        benchmark=experiment.benchmark,
        locks={role: locks.role(role).pins for role in ("worker", "singleuser")},
        notebooks=experiment.notebooks,
        checks=experiment.checks,
    )


def pair_from_images(docker: Engine, worker: str, singleuser: str) -> Pair:
    ids = [
        docker.require_image(
            check_reference(reference, what=f"--{role}-image"),
            hint="build it, or pull it into this engine first",
        ).id
        for role, reference in (("worker", worker), ("singleuser", singleuser))
    ]
    digest = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:12]
    return Pair(worker=worker, singleuser=singleuser, experiment=None, key=f"pair-{digest}")

"""The ONE lock loader: everything locked for one experiment, as every stage reads it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from afenv.errors import LockError
from afenv.lock import debian
from afenv.lock.drift import check_experiment, read_recorded
from afenv.lock.files import (
    BASE_DEBIAN_LOCK,
    BUILD_LOCK,
    CORE_LOCK,
    FIX,
    INPUTS,
    NOTEBOOK_DEBIAN_LOCK,
    NOTEBOOK_LOCK,
    FacilityLock,
    ImageLock,
    experiment_lock_files,
    read_debian,
    read_facility_lock,
    read_image_lock,
)
from afenv.spec import Experiment, Project
from afenv.spec.grammar import RULES

__all__ = ["LockSet", "load_locks"]


@dataclass(frozen=True, kw_only=True)
class LockSet:
    """Everything locked for one experiment, as read from the lock files."""

    facility: FacilityLock
    build: ImageLock  # the build stages' installers
    core: ImageLock
    notebook: ImageLock  # core + [roles.singleuser], no experiment: the shared notebook layer
    worker: ImageLock
    singleuser: ImageLock
    debian_base: Mapping[str, str]
    debian_experiment: Mapping[str, str]
    debian_notebook: Mapping[str, str]  # the singleuser image's own layer
    mirror: str

    def role(self, role: str) -> ImageLock:
        return {"worker": self.worker, "singleuser": self.singleuser}[role]


def load_locks(project: Project, experiment: Experiment) -> LockSet:
    """The experiment's locks, after checking that they are not behind their inputs: its own
    and the facility's. Another experiment's change leaves this one's lock files exactly as
    the last `afenv lock` wrote them from inputs that are unchanged, so its builds stay
    reproducible and go ahead (that experiment's own fail until `afenv lock`)."""
    problems = check_experiment(project, experiment.name)
    if problems:
        raise LockError(f"the lock is out of date: {'; '.join(problems)}; run `afenv lock`")
    files = {
        key: project.root / path for key, path in experiment_lock_files(experiment.name).items()
    }
    recorded = read_recorded(project)
    mirror = (
        project.facility.debian.mirror or (recorded and recorded.mirror) or debian.host_mirror()
    )
    if not RULES["url"].accepts(mirror):
        raise LockError(f"{project.root / INPUTS}: mirror {mirror[:60]!r} is not a URL; {FIX}")
    facility = read_facility_lock(project)
    locks = LockSet(
        facility=facility,
        build=read_image_lock(project.root / BUILD_LOCK),
        core=read_image_lock(project.root / CORE_LOCK),
        notebook=read_image_lock(project.root / NOTEBOOK_LOCK),
        worker=read_image_lock(files["worker"]),
        singleuser=read_image_lock(files["singleuser"]),
        debian_base=read_debian(project.root / BASE_DEBIAN_LOCK),
        debian_experiment=read_debian(files["debian"]),
        debian_notebook=read_debian(project.root / NOTEBOOK_DEBIAN_LOCK),
        mirror=mirror.rstrip("/"),
    )
    by_hash = facility.by_hash()
    for path, image_lock in (
        (project.root / BUILD_LOCK, locks.build),
        (project.root / CORE_LOCK, locks.core),
        (project.root / NOTEBOOK_LOCK, locks.notebook),
        (files["worker"], locks.worker),
        (files["singleuser"], locks.singleuser),
    ):
        for name, (version, sha256) in image_lock.pins.items():
            wheel = by_hash.get(sha256)
            if wheel is None or (wheel.name, wheel.version) != (name, version):
                raise LockError(
                    f"{path}: {name}=={version} (sha256 {sha256[:12]}…) is not in the "
                    f"facility lock; {FIX}"
                )
    return locks

"""Execute a build plan on the engine (classic builder), and the pair's identity without it.

Both images of a pair are built under staging tags and get their content-hash tags only once
both succeeded, so an interrupted or failed build leaves no half-tagged pair; staging tags are
always removed. An image whose content-hash tag exists is not rebuilt: the hash covers every
input (lock, templates, runtime files, base image).
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from afenv.build.base import ensure_base, find_base
from afenv.build.context import inline_entry, write_tar
from afenv.build.plan import MANIFEST_DIR, BuildPlan, ImagePlan, make_plan
from afenv.build.wheelhouse import Wheelhouse
from afenv.engine import Engine
from afenv.errors import ConfigError, Interrupted
from afenv.lock import load_locks
from afenv.spec import Experiment, Project
from afenv.state import State
from afenv.ui import UI

__all__ = ["BuiltImage", "execute", "pair_references", "prepare_plan"]


@dataclass(frozen=True, kw_only=True)
class BuiltImage:
    experiment: str
    role: str
    reference: str
    image_id: str
    size: int
    built: bool  # False: the tag existed, nothing was rebuilt
    seconds: float
    manifest_dir: Path

    def as_dict(self) -> dict[str, object]:
        return {
            "experiment": self.experiment,
            "role": self.role,
            "reference": self.reference,
            "id": self.image_id,
            "size": self.size,
            "built": self.built,
            "seconds": round(self.seconds, 2),
            "manifest": str(self.manifest_dir),
        }


def prepare_plan(
    project: Project,
    experiment: Experiment,
    *,
    docker: Engine,
    ui: UI,
    cache: Path,
    refresh_base: bool = False,
) -> BuildPlan:
    """Locks read, base image present: the plan, ready to execute (wheels come when needed)."""
    locks = load_locks(project, experiment)
    base = ensure_base(
        docker, project.facility.debian, locks.mirror, refresh=refresh_base, report=ui.info
    )
    ui.info(f"base image {base.reference} ({base.origin})")
    return make_plan(project, experiment, locks, base, Wheelhouse(cache / "wheels").path)


def pair_references(
    project: Project, experiment: Experiment, *, docker: Engine, cache: Path
) -> dict[str, str]:
    """role -> the content-hash reference a build would give, computed from the lock, the
    templates and the base image's ID alone: no download, no bootstrap, no build."""
    locks = load_locks(project, experiment)
    base = find_base(docker, project.facility.debian, locks.mirror)
    if base is None:
        raise ConfigError(
            f"no base image for {experiment.name} (neither {project.facility.debian.base_image} "
            f"nor a bootstrapped one); run `afenv build {experiment.name}`"
        )
    plan = make_plan(project, experiment, locks, base, Wheelhouse(cache / "wheels").path)
    return {image.role: image.reference for image in plan.images}


def execute(
    plan: BuildPlan,
    *,
    docker: Engine,
    ui: UI,
    state: State,
    wheelhouse: Wheelhouse,
    env: Mapping[str, str],
) -> list[BuiltImage]:
    """Build what is missing; only then are wheels downloaded or re-checked, so a no-op
    rebuild touches neither the network nor the wheelhouse."""
    with docker.exclusive("building", ui.info):
        built = _build_pair(plan, docker=docker, ui=ui, wheelhouse=wheelhouse, env=env)
    return [
        _result(image, seconds, was_built, docker, state) for image, seconds, was_built in built
    ]


def _build_pair(
    plan: BuildPlan, *, docker: Engine, ui: UI, wheelhouse: Wheelhouse, env: Mapping[str, str]
) -> list[tuple[ImagePlan, float, bool]]:
    staged: list[str] = []
    built: list[tuple[ImagePlan, float, bool]] = []
    try:
        for image in plan.images:
            started = ui.elapsed()
            existing = docker.image(image.reference)
            if existing is not None:
                ui.info(f"{image.name}: {image.reference} is up to date")
                # A later image may build FROM this one's staging name.
                docker.tag(existing.id, image.staging)
                staged.append(image.staging)
                built.append((image, ui.elapsed() - started, False))
                continue
            wheelhouse.ensure(image.wheels, env, ui.info)
            ui.info(f"{image.name}: building {image.reference}")
            staged.append(image.staging)
            _build(docker, image, ui)
            built.append((image, ui.elapsed() - started, True))
        # Every image of the pair exists: only now do they get the names users see.
        for image, _, _ in built:
            docker.tag(image.staging, image.reference)
    except KeyboardInterrupt:
        docker = docker.reconnect()
        raise Interrupted("build interrupted; no image was tagged, staging tags removed") from None
    finally:
        for reference in staged:
            docker.untag(reference)
    return built


def _result(
    image: ImagePlan, seconds: float, was_built: bool, docker: Engine, state: State
) -> BuiltImage:
    info = docker.require_image(image.reference, hint="it was tagged a moment ago")
    manifest_dir = _save_manifest(docker, image, state.directory / "manifests")
    if was_built:
        state.record_image(
            image.reference,
            built=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            experiment=image.experiment,
            role=image.role,
            id=info.id,
        )
    return BuiltImage(
        experiment=image.experiment,
        role=image.role,
        reference=image.reference,
        image_id=info.id,
        size=info.size,
        built=was_built,
        seconds=seconds,
        manifest_dir=manifest_dir,
    )


def _build(docker: Engine, image: ImagePlan, ui: UI) -> None:
    entries = [inline_entry("Dockerfile", image.dockerfile), *image.files]
    with tempfile.TemporaryFile() as context:
        write_tar(entries, context)
        context.seek(0)
        docker.build(
            context,
            tag=image.staging,
            what=image.name,
            on_step=lambda line: ui.step(image.name, line),
            on_output=lambda line: ui.detail(image.name, line),
        )


def _save_manifest(docker: Engine, image: ImagePlan, root: Path) -> Path:
    """Copy the manifest out of the image (no need to run it) to sit beside it on the host."""
    target = root / image.experiment / f"{image.role}-{image.content_hash}"
    if (target / "debian.txt").is_file():
        return target
    files = docker.read_from_image(image.reference, MANIFEST_DIR)
    target.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (target / Path(name).name).write_bytes(data)
    return target

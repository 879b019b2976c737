"""`afenv build <exp>`: execute the build plan with the Docker SDK (classic builder).

Both images of a pair are built under staging tags and get their content-hash tags only once
both succeeded, so an interrupted or failed build leaves no half-tagged pair; staging tags are
always removed. An image whose content-hash tag exists is not rebuilt: the hash covers every
input (lock, templates, runtime files, base image).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import re
import tarfile
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
from docker.models.images import Image

from afenv import debian, lock
from afenv.base import ensure_base
from afenv.config import Experiment, Project
from afenv.context import inline_entry, write_tar
from afenv.errors import BuildError, DockerUnavailable, Interrupted, LockError
from afenv.labels import afenv_labels
from afenv.plan import MANIFEST_DIR, BuildPlan, ImagePlan, LockSet, make_plan, staging_reference
from afenv.state import State
from afenv.ui import UI
from afenv.wheelhouse import Wheelhouse

__all__ = ["BuiltImage", "build_experiment", "docker_client", "load_locks", "prepare_plan"]

_STEP_RE = re.compile(r"^Step \d+/\d+ : ")


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


def docker_client() -> docker.DockerClient:
    try:
        client = docker.from_env(timeout=900)
        client.ping()
    except docker.errors.DockerException as exc:
        raise DockerUnavailable(
            f"no Docker engine answers ({exc.__class__.__name__}); start one with "
            f"`bash scripts/ensure-docker.sh` (installs docker.io and starts dockerd)"
        ) from None
    return client


def load_locks(project: Project, experiment: Experiment) -> LockSet:
    problems = lock.check(project)
    if problems:
        raise LockError(f"the lock is out of date: {'; '.join(problems)}; run `afenv lock`")
    lock_dir = experiment.directory / "lock"
    recorded = json.loads((project.root / lock.INPUTS).read_text())
    return LockSet(
        facility=lock.read_facility_lock(project),
        core=lock.read_image_lock(project.root / lock.CORE_LOCK),
        worker=lock.read_image_lock(lock_dir / "worker.txt"),
        singleuser=lock.read_image_lock(lock_dir / "singleuser.txt"),
        debian_base=lock.parse_debian((project.root / lock.BASE_DEBIAN_LOCK).read_text()),
        debian_experiment=lock.parse_debian((lock_dir / "debian.txt").read_text()),
        mirror=project.facility.debian.mirror or recorded.get("mirror") or debian.host_mirror(),
    )


def prepare_plan(
    project: Project,
    experiment: Experiment,
    *,
    client: docker.DockerClient,
    env: Mapping[str, str],
    ui: UI,
    cache: Path,
    refresh_base: bool = False,
) -> BuildPlan:
    """Locks read, wheels present, base image present: the plan, ready to execute."""
    locks = load_locks(project, experiment)
    wheelhouse = Wheelhouse(cache / "wheels")
    by_hash = locks.facility.by_hash()
    wheelhouse.ensure((by_hash[s] for _, s in locks.singleuser.pins.values()), env, ui.info)
    base = ensure_base(
        client, project.facility.debian, locks.mirror, refresh=refresh_base, report=ui.info
    )
    ui.info(f"base image {base.reference} ({base.origin})")
    return make_plan(project, experiment, locks, base, wheelhouse.path)


def build_experiment(
    project: Project,
    experiment: Experiment,
    *,
    client: docker.DockerClient,
    env: Mapping[str, str],
    ui: UI,
    cache: Path,
    refresh_base: bool = False,
) -> list[BuiltImage]:
    plan = prepare_plan(
        project, experiment, client=client, env=env, ui=ui, cache=cache, refresh_base=refresh_base
    )
    return execute(plan, client=client, ui=ui, state=State(project.root / ".afenv"))


def _existing(client: docker.DockerClient, reference: str) -> Image | None:
    try:
        return client.images.get(reference)
    except docker.errors.ImageNotFound:
        return None


def execute(
    plan: BuildPlan, *, client: docker.DockerClient, ui: UI, state: State
) -> list[BuiltImage]:
    staged: list[str] = []
    built: list[tuple[ImagePlan, float, bool]] = []
    try:
        for image in plan.images:
            started = ui.elapsed()
            existing = _existing(client, image.reference)
            staging = staging_reference(image)
            if existing is not None:
                ui.info(f"{image.name}: {image.reference} is up to date")
                # A later image may build FROM this one's staging name.
                existing.tag(*staging.split(":"))
                staged.append(staging)
                built.append((image, ui.elapsed() - started, False))
                continue
            ui.info(f"{image.name}: building {image.reference}")
            staged.append(staging)
            _docker_build(client, image, staging, ui)
            built.append((image, ui.elapsed() - started, True))
        # Every image of the pair exists: only now do they get the names users see.
        for image, _, _ in built:
            client.api.tag(staging_reference(image), image.repository, image.content_hash)
    except KeyboardInterrupt:
        client = _cleanup_client(client)
        raise Interrupted("build interrupted; no image was tagged, staging tags removed") from None
    finally:
        for reference in staged:
            # A staging tag may never have been created (the build failed before tagging).
            with contextlib.suppress(docker.errors.APIError):
                client.api.remove_image(reference, noprune=True)
    results = []
    for image, seconds, was_built in built:
        docker_image = client.images.get(image.reference)
        manifest_dir = _save_manifest(client, image, state.directory / "manifests")
        if was_built:
            state.record_image(
                image.reference,
                built=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                experiment=image.experiment,
                role=image.role,
                id=docker_image.id,
            )
        results.append(
            BuiltImage(
                experiment=image.experiment,
                role=image.role,
                reference=image.reference,
                image_id=docker_image.id,
                size=int(docker_image.attrs["Size"]),
                built=was_built,
                seconds=seconds,
                manifest_dir=manifest_dir,
            )
        )
    return results


def _cleanup_client(client: docker.DockerClient) -> docker.DockerClient:
    """A fresh connection: the interrupted one may still be reading a build stream."""
    client.close()
    return docker.from_env(timeout=120)


def _docker_build(client: docker.DockerClient, image: ImagePlan, tag: str, ui: UI) -> None:
    entries = [inline_entry("Dockerfile", image.dockerfile), *image.files]
    with tempfile.TemporaryFile() as context:
        write_tar(entries, context)
        context.seek(0)
        stream = client.api.build(
            fileobj=context,
            custom_context=True,
            tag=tag,
            rm=True,
            forcerm=True,
            pull=False,
            decode=True,
            labels=None,
        )
        last_lines: list[str] = []
        for chunk in stream:
            if "error" in chunk:
                detail = " ".join(" ".join(last_lines[-3:]).split())
                message = " ".join(str(chunk["error"]).split())
                raise BuildError(f"{image.name}: docker build failed: {message} (after: {detail})")
            text = chunk.get("stream", "")
            for line in text.splitlines():
                if _STEP_RE.match(line):
                    ui.step(image.name, line)
                elif line.strip():
                    last_lines.append(line)
                    ui.detail(image.name, line)


def _save_manifest(client: docker.DockerClient, image: ImagePlan, root: Path) -> Path:
    """Copy the manifest out of the image (no need to run it) to sit beside it on the host."""
    target = root / image.experiment / f"{image.role}-{image.content_hash}"
    if (target / "debian.txt").is_file():
        return target
    container = client.containers.create(
        image.reference, command=["true"], labels=afenv_labels(purpose="manifest")
    )
    try:
        bits, _ = container.get_archive(MANIFEST_DIR)
        archive = io.BytesIO(b"".join(bits))
    finally:
        container.remove(force=True)
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=archive) as tar:
        for member in tar.getmembers():
            if member.isfile():
                extracted = tar.extractfile(member)
                assert extracted is not None
                (target / Path(member.name).name).write_bytes(extracted.read())
    return target

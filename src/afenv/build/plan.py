"""The build plan: which images, from which layers and files, under which tags — as data.

Nothing here talks to Docker. The plan is computed from the parsed spec, the locks and the base
image's ID, and unit-tested as is; build.py only executes it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from afenv import __version__, engine
from afenv.build.base import BaseImage
from afenv.build.context import ContextFile, file_entry, inline_entry, tree_entries
from afenv.build.render import Templates
from afenv.errors import LockError
from afenv.lock import FacilityLock, ImageLock, LockedWheel, LockSet
from afenv.lock.files import FIX, render_requirements
from afenv.spec import Experiment, Project
from afenv_runtime import daskdefaults

__all__ = ["MANIFEST_DIR", "BuildPlan", "ImagePlan", "Layer", "make_plan"]

MANIFEST_DIR = "/opt/afenv/manifest"
# The in-image packages, shipped in afenv's wheel and copied into every image from there.
RUNTIME_PACKAGES = ("afenv_bench", "afenv_runtime")
# Included by both role templates: the build stages, the experiment's and the role's layers.
SHARED_TEMPLATES = ("stages.Dockerfile.j2", "experiment.Dockerfile.j2", "role.Dockerfile.j2")
# What the bench-build stage needs besides afenv_bench/cpp/ to compile the C++ libraries.
BENCH_BUILD_MODULES = ("__init__.py", "_root.py", "errors.py", "prepare.py")


@dataclass(frozen=True, kw_only=True)
class Layer:
    name: str
    packages: tuple[str, ...]  # "name==version", what this layer adds


@dataclass(frozen=True, kw_only=True)
class ImagePlan:
    experiment: str
    role: str
    repository: str
    content_hash: str
    parent: str  # the FROM reference
    dockerfile: str
    files: tuple[ContextFile, ...]
    layers: tuple[Layer, ...]
    labels: Mapping[str, str] = field(default_factory=dict)
    wheels: tuple[LockedWheel, ...] = ()  # what the build context needs from the wheelhouse

    @property
    def reference(self) -> str:
        return f"{self.repository}:{self.content_hash}"

    @property
    def staging(self) -> str:
        return engine.staging_reference(self.experiment, self.role, self.content_hash)

    @property
    def name(self) -> str:
        return f"{self.experiment}-{self.role}"


@dataclass(frozen=True, kw_only=True)
class BuildPlan:
    base: BaseImage
    images: tuple[ImagePlan, ...]  # build order: worker, then singleuser on top of it


def _difference(upper: ImageLock, lower: ImageLock, *, what: str) -> dict[str, tuple[str, str]]:
    for name, pin in lower.pins.items():
        if upper.pins.get(name) != pin:
            raise LockError(f"{what}: {name} differs from the layer below; run `afenv lock`")
    return {n: p for n, p in upper.pins.items() if n not in lower.pins}


def _wheels(
    pins: Mapping[str, tuple[str, str]],
    facility: FacilityLock,
    prefix: str,
    wheel_path: Callable[[LockedWheel], Path],
) -> list[ContextFile]:
    by_hash = facility.by_hash()
    entries = []
    for name, (_, sha256) in sorted(pins.items()):
        wheel = by_hash.get(sha256)
        if wheel is None:
            raise LockError(
                f"{name}: hash {sha256[:12]}… is not in the facility lock; run `afenv lock`"
            )
        entries.append(
            ContextFile(path=f"{prefix}/{wheel.filename}", sha256=sha256, source=wheel_path(wheel))
        )
    return entries


def _manifest(pins: Mapping[str, tuple[str, str]], facility: FacilityLock) -> list[dict[str, str]]:
    by_hash = facility.by_hash()
    return [
        {"name": n, "version": v, "sha256": s, "wheel": by_hash[s].filename}
        for n, (v, s) in sorted(pins.items())
    ]


def _content_hash(parts: object) -> str:
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def _pins_list(pins: Mapping[str, tuple[str, str]]) -> tuple[str, ...]:
    return tuple(f"{n}=={v}" for n, (v, _) in sorted(pins.items()))


def lock_digest(lock: ImageLock) -> str:
    """The digest an image's ``io.afenv.lock-digest`` label carries."""
    return "sha256:" + _content_hash(sorted(lock.pins.items()))


def _oci_labels(
    project: Project, experiment: Experiment, role: str, digest: str, base: str
) -> dict[str, str]:
    return {
        "org.opencontainers.image.title": f"afenv {experiment.name}-{role}",
        "org.opencontainers.image.description": f"{experiment.description} ({role})",
        "org.opencontainers.image.version": digest,
        "org.opencontainers.image.vendor": project.facility.name,
        "org.opencontainers.image.licenses": "Apache-2.0",
        "org.opencontainers.image.base.name": base,
    }


def _image_plan(
    project: Project,
    experiment: Experiment,
    templates: Templates,
    *,
    role: str,
    data: dict[str, Any],
    files: list[ContextFile],
    parent: str,
    parent_identity: str,
    lock: ImageLock,
    layers: tuple[Layer, ...],
    wheels: Mapping[str, LockedWheel],
    extra_labels: Mapping[str, str] | None = None,
    oci_base: str | None = None,
) -> ImagePlan:
    """One image: its content hash over every input, then its labels and Dockerfile."""
    template = f"{role}.Dockerfile.j2"
    content_hash = _content_hash(
        {
            "template": [templates.source(name) for name in (template, *SHARED_TEMPLATES)],
            "data": data,
            "files": sorted((f.path, f.sha256, f.executable) for f in files),
            "parent": parent_identity,
            "afenv": __version__,
        }
    )
    labels = _oci_labels(
        project, experiment, role, content_hash, oci_base or parent
    ) | engine.image_labels(
        experiment=experiment.name,
        role=role,
        content_hash=content_hash,
        lock_digest=lock_digest(lock),
        python=project.facility.python.version,
        suite=project.facility.debian.suite,
        **(extra_labels or {}),
    )
    return ImagePlan(
        experiment=experiment.name,
        role=role,
        repository=engine.image_repository(experiment.name, role),
        content_hash=content_hash,
        parent=parent,
        dockerfile=templates.render(template, data | {"labels": sorted(labels.items())}),
        files=tuple(files),
        wheels=tuple(
            wheels[f.sha256] for f in files if f.path.startswith("wheels/") and f.sha256 in wheels
        ),
        layers=layers,
        labels=labels,
    )


def _singleuser_sets(
    locks: LockSet, experiment_pins: Mapping[str, tuple[str, str]], *, name: str
) -> tuple[dict[str, tuple[str, str]], dict[str, tuple[str, str]]]:
    """The singleuser image's notebook layer (the facility's, the same for every experiment)
    and its experiment layer (the experiment's packages that the notebook layer lacks).

    Both come from the one facility resolution, so the singleuser lock must be exactly the
    core, the experiment's packages and the notebook's: anything else is a stale lock."""
    what = f"images/{name} singleuser"
    notebook = _difference(locks.notebook, locks.core, what="envs/lock/notebook.txt")
    _difference(locks.singleuser, locks.worker, what=what)  # the worker's pins, unchanged
    for package, pin in notebook.items():
        if locks.singleuser.pins.get(package) != pin:
            raise LockError(f"{what}: {package} differs from the notebook layer; {FIX}")
    extra = set(locks.singleuser.pins) - set(locks.core.pins) - set(experiment_pins) - set(notebook)
    if extra:
        raise LockError(f"{what}: {sorted(extra)[:5]} are in no layer; {FIX}")
    own = {n: p for n, p in experiment_pins.items() if n not in notebook}
    return notebook, own


def _bench_sources() -> list[ContextFile]:
    """What the bench-build stage compiles the benchmark's C++ libraries from: the C++ sources
    and the modules that compile them, no more (see afenv_bench.prepare)."""
    package = Path(str(resources.files("afenv_bench")))
    return [
        *(
            file_entry(f"bench/afenv_bench/{module}", package / module)
            for module in BENCH_BUILD_MODULES
        ),
        *tree_entries(package / "cpp", "bench/afenv_bench/cpp"),
    ]


def make_plan(
    project: Project,
    experiment: Experiment,
    locks: LockSet,
    base: BaseImage,
    wheel_path: Callable[[LockedWheel], Path],
) -> BuildPlan:
    facility = project.facility
    templates = Templates(project.templates if project.templates.is_dir() else None)
    experiment_pins = _difference(locks.worker, locks.core, what=f"images/{experiment.name} worker")
    notebook_pins, singleuser_experiment_pins = _singleuser_sets(
        locks, experiment_pins, name=experiment.name
    )
    neutral = ["Generated by afenv from the facility lock; installed with --require-hashes."]

    runtime = [
        entry
        for package in RUNTIME_PACKAGES
        for entry in tree_entries(Path(str(resources.files(package))), f"runtime/{package}")
    ]
    grid_dir = experiment.directory / "grid"
    grid = tree_entries(grid_dir, "grid") if grid_dir.is_dir() else []
    # The build stages (stages.Dockerfile.j2) open both Dockerfiles with the same instructions
    # and files, and both final stages start FROM base-os with the same copy of the core venv,
    # so the second build finds all of that in the build cache and both images share it.
    shared_files = [
        inline_entry("lock/build.txt", render_requirements(locks.build.pins, header=neutral)),
        *_wheels(locks.build.pins, locks.facility, "wheels/build", wheel_path),
        inline_entry("lock/core.txt", render_requirements(locks.core.pins, header=neutral)),
        *_wheels(locks.core.pins, locks.facility, "wheels/core", wheel_path),
        *_bench_sources(),
    ]

    def experiment_files(pins: Mapping[str, tuple[str, str]]) -> list[ContextFile]:
        if not pins:
            return []
        return [
            inline_entry("lock/experiment.txt", render_requirements(pins, header=neutral)),
            *_wheels(pins, locks.facility, "wheels/experiment", wheel_path),
        ]

    def experiment_layer(pins: Mapping[str, tuple[str, str]]) -> Layer:
        """The experiment's layer of either image: its Debian packages, then the given pins."""
        return Layer(
            name="experiment",
            packages=(*_debian_pins(locks.debian_experiment), *_pins_list(pins)),
        )

    role_files = [
        *runtime,
        *grid,
        file_entry("bin/afenv-bench", templates.path("files/afenv-bench")),
        file_entry("bin/afenv-entrypoint", templates.path("files/afenv-entrypoint")),
        # The Dask operator's pods run `dask-scheduler` and `dask-worker`.
        file_entry("bin/dask-scheduler", templates.path("files/dask-scheduler")),
        file_entry("bin/dask-worker", templates.path("files/dask-worker")),
        inline_entry("site/afenv.pth", "/opt/afenv/lib\n"),
        inline_entry("dask-defaults/afenv-cluster.yaml", daskdefaults.cluster_yaml()),
    ]
    shared_data = {
        "base_image": base.reference,
        "mirror": locks.mirror,
        "suite": facility.debian.suite,
        "debian_pins": _debian_pins(locks.debian_base),
        "title": experiment.title,
        "afenv_version": __version__,
        "python_version": facility.python.version,
        "experiment_debian_pins": _debian_pins(locks.debian_experiment),
        "cvmfs": sorted(experiment.cvmfs),
        "experiment": experiment.name,
        "env": [list(pair) for pair in experiment.env],
        "grid": bool(grid),
    }
    worker_manifest = _manifest(locks.worker.pins, locks.facility)
    base_os = Layer(name="base-os", packages=tuple(_debian_pins(locks.debian_base)))
    core = Layer(name="core", packages=_pins_list(locks.core.pins))
    worker = _image_plan(
        project,
        experiment,
        templates,
        role="worker",
        data=shared_data | {"role": "worker", "experiment_packages": bool(experiment_pins)},
        files=[
            *shared_files,
            *experiment_files(experiment_pins),
            *role_files,
            inline_entry("manifest/python.json", json.dumps(worker_manifest, indent=1) + "\n"),
        ],
        parent=base.reference,
        parent_identity=base.image_id,
        lock=locks.worker,
        wheels=locks.facility.by_hash(),
        layers=(
            base_os,
            core,
            experiment_layer(experiment_pins),
            Layer(name="worker", packages=()),
        ),
    )

    singleuser_manifest = _manifest(locks.singleuser.pins, locks.facility)
    singleuser = _image_plan(
        project,
        experiment,
        templates,
        role="singleuser",
        data=shared_data
        | {
            "role": "singleuser",
            "experiment_packages": bool(singleuser_experiment_pins),
            "notebook_debian_pins": _debian_pins(locks.debian_notebook),
        },
        files=[
            *shared_files,
            *experiment_files(singleuser_experiment_pins),
            inline_entry("lock/notebook.txt", render_requirements(notebook_pins, header=neutral)),
            *_wheels(notebook_pins, locks.facility, "wheels/notebook", wheel_path),
            *role_files,
            file_entry("bin/afenv-start-notebook", templates.path("files/afenv-start-notebook")),
            file_entry("bin/afenv-healthcheck", templates.path("files/afenv-healthcheck")),
            file_entry("dask/afenv.yaml", templates.path("files/dask.yaml")),
            inline_entry("dask/afenv-pair.yaml", _pair_dask_config(experiment, worker)),
            file_entry(
                "jupyter/jupyter_server_config.json",
                templates.path("files/jupyter_server_config.json"),
            ),
            inline_entry("manifest/python.json", json.dumps(singleuser_manifest, indent=1) + "\n"),
            # Read at start-up by afenv_runtime.kernels (JSON: no value is ever a Dockerfile word).
            inline_entry(
                "afenv/kernels.json",
                json.dumps([offer.as_dict() for offer in experiment.kernels], indent=1) + "\n",
            ),
        ],
        parent=base.reference,
        parent_identity=base.image_id,
        lock=locks.singleuser,
        wheels=locks.facility.by_hash(),
        layers=(
            base_os,
            core,
            Layer(
                name="notebook",
                packages=(*_debian_pins(locks.debian_notebook), *_pins_list(notebook_pins)),
            ),
            experiment_layer(singleuser_experiment_pins),
            Layer(name="singleuser", packages=()),
        ),
        # The partner: the pair's Dask settings in this image name that worker image.
        extra_labels={"worker_hash": worker.content_hash},
    )
    return BuildPlan(base=base, images=(worker, singleuser))


def _debian_pins(pins: Mapping[str, str]) -> list[str]:
    """apt's ``name=version`` form, sorted: the order the Dockerfiles and layers list them."""
    return [f"{name}={version}" for name, version in sorted(pins.items())]


def _pair_dask_config(experiment: Experiment, worker: ImagePlan) -> str:
    """The singleuser image's Dask config for its pair: Dask clusters started from the notebook
    (the labextension's button, KubeCluster() in code) use this very worker image. JSON is
    YAML, and json.dumps quotes every value."""
    config = {
        "labextension": {
            "factory": {
                "module": "afenv_runtime.daskcluster",
                "class": "PairCluster",
                "args": [],
                "kwargs": {},
            }
        },
        # Pinned by content hash here; a hub profile sets DASK_KUBERNETES__IMAGE to the digest
        # the pair was pushed as.
        "kubernetes": {"image": worker.reference},
    }
    header = (
        f"# {experiment.title}: Dask clusters from this notebook image use its partner worker"
        " image. Generated by afenv.\n"
    )
    return header + json.dumps(config, indent=2, sort_keys=True) + "\n"

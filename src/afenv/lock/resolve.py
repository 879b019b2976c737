"""`afenv lock`: one facility-wide resolution, per-image subsets with identical pins.

Resolution happens once over every experiment and role (uv, target Python and manylinux platform
of the container), written as ``envs/lock/facility.pylock.toml`` (PEP 751, with every wheel's URL
and hash). Each image's lock is then the dependency closure of that image's requirements,
resolved again with the facility pins as constraints, and checked to be a subset. Every lock file
names the wheel it installs by its one sha256, so both roles install the very same files.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

from afenv.errors import FetchError, LockError
from afenv.hostnet import tool_env
from afenv.lock import debian
from afenv.lock.drift import digest, file_digest, input_digests
from afenv.lock.files import (
    BASE_DEBIAN_LOCK,
    BUILD_LOCK,
    CORE_LOCK,
    FACILITY_LOCK,
    INPUTS,
    NOTEBOOK_DEBIAN_LOCK,
    NOTEBOOK_LOCK,
    FacilityLock,
    experiment_lock_files,
    parse_pylock,
    render_debian,
    render_requirements,
    target_tags,
)
from afenv.spec import ROLES, Experiment, Facility, Project

__all__ = ["LockResult", "image_sets", "lock"]


# ---------------------------------------------------------------------------------------------
# Which requirement sets exist: pure functions of the configuration.


def image_sets(facility: Facility, experiment: Experiment) -> dict[str, tuple[str, ...]]:
    """Requirements whose closure forms each layer set, in layer order.

    ``core`` is the same for every experiment (its layer is shared byte for byte); ``worker``
    adds the experiment and worker role; ``singleuser`` adds the notebook role on top, so that
    core ⊂ worker ⊂ singleuser by construction.
    """
    core = facility.core
    worker = (*core, *experiment.pip, *facility.roles["worker"])
    singleuser = (*worker, *facility.roles["singleuser"])
    return {"core": core, "worker": worker, "singleuser": singleuser}


# ---------------------------------------------------------------------------------------------
# Resolution with uv.


# How uv says that it could not talk to the index at all (as opposed to "no solution").
_NETWORK_FAILURES = (
    "Failed to fetch",
    "error sending request",
    "Request failed after",
    "dns error",
)


def _uv(args: list[str], env: Mapping[str, str], *, what: str) -> str:
    command = ["uv", "pip", "compile", "--quiet", "--no-header", *args]
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, env=tool_env(env), timeout=600, check=False
        )
    except FileNotFoundError:
        raise LockError("uv is not installed; `pip install uv` (afenv depends on it)") from None
    if result.returncode != 0:
        reason = (
            " ".join(line.strip() for line in result.stderr.splitlines() if line.strip())
            or f"exit code {result.returncode}"
        )
        if any(sign in reason for sign in _NETWORK_FAILURES):
            raise FetchError(f"cannot reach the index while resolving {what}: {reason[:400]}")
        raise LockError(f"cannot resolve {what}: {reason[:1000]}")
    return result.stdout


def _target_args(facility: Facility) -> list[str]:
    return [
        "--python-version",
        facility.python.version,
        "--python-platform",
        facility.python.platform,
        "--only-binary",
        ":all:",
        "--index-url",
        facility.index_url,
        "--no-annotate",
        *(["--exclude-newer", facility.exclude_newer] if facility.exclude_newer else []),
    ]


def resolve_facility(project: Project, env: Mapping[str, str]) -> str:
    requirements = sorted(
        {
            *project.facility.core,
            *project.facility.build,
            *(r for role in ROLES for r in project.facility.roles[role]),
            *(r for e in project.experiments.values() for r in e.pip),
        }
    )
    with tempfile.TemporaryDirectory(prefix="afenv-lock-") as tmp:
        inputs = Path(tmp) / "facility.in"
        inputs.write_text("\n".join(requirements) + "\n")
        output = Path(tmp) / "pylock.toml"
        _uv(
            [str(inputs), *_target_args(project.facility), "-o", str(output)],
            env,
            what="the facility stack (envs/facility.toml + every images/*/experiment.toml)",
        )
        return output.read_text()


def resolve_subset(
    requirements: tuple[str, ...],
    facility_lock: FacilityLock,
    project: Project,
    env: Mapping[str, str],
    *,
    what: str,
) -> dict[str, tuple[str, str]]:
    """Closure of ``requirements`` with the facility pins as constraints."""
    with tempfile.TemporaryDirectory(prefix="afenv-lock-") as tmp:
        inputs = Path(tmp) / "image.in"
        inputs.write_text("\n".join(requirements) + "\n")
        constraints = Path(tmp) / "facility.txt"
        constraints.write_text(
            "".join(f"{w.name}=={w.version}\n" for w in facility_lock.wheels.values())
        )
        text = _uv(
            [str(inputs), "-c", str(constraints), *_target_args(project.facility)],
            env,
            what=what,
        )
    pins: dict[str, tuple[str, str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, version = line.partition("==")
        name = canonicalize_name(name)
        wheel = facility_lock.wheels.get(name)
        if wheel is None or wheel.version != version:
            raise LockError(
                f"{what}: {name}=={version} is not the facility pin; the per-image resolution "
                f"left the facility lock, report this as a bug"
            )
        pins[name] = (wheel.version, wheel.sha256)
    return pins


# ---------------------------------------------------------------------------------------------
# The command.


@dataclass(frozen=True, kw_only=True)
class LockResult:
    files: tuple[Path, ...]
    packages: int


def _header(what: str, sources: str, inputs_digest: str) -> list[str]:
    return [
        f"{what}. Generated by `afenv lock`; do not edit by hand.",
        f"From: {sources}",
        f"Inputs digest: {inputs_digest}",
    ]


def lock(project: Project, env: Mapping[str, str]) -> LockResult:
    root = project.root
    facility = project.facility
    digests = input_digests(project)
    all_digest = digest(digests)

    pylock_text = resolve_facility(project, env)
    facility_lock = parse_pylock(
        pylock_text,
        target_tags(facility.python.version, facility.python.glibc),
        source="uv output",
    )
    mirror = facility.debian.mirror or debian.host_mirror()
    versions = debian.package_versions(mirror, facility.debian.suite, env)

    outputs: dict[Path, str] = {FACILITY_LOCK: pylock_text}
    core_pins = resolve_subset(facility.core, facility_lock, project, env, what="[core] packages")
    outputs[CORE_LOCK] = render_requirements(
        core_pins,
        header=_header("Core layer lock (every image)", "envs/facility.toml [core]", all_digest),
    )
    build_pins = resolve_subset(
        facility.build, facility_lock, project, env, what="[build] packages"
    )
    outputs[BUILD_LOCK] = render_requirements(
        build_pins,
        header=_header(
            "Build-stage installers (never in an image)", "envs/facility.toml [build]", all_digest
        ),
    )
    notebook_pins = resolve_subset(
        (*facility.core, *facility.roles["singleuser"]),
        facility_lock,
        project,
        env,
        what="[core] + [roles.singleuser] packages",
    )
    missing = sorted(set(core_pins) - set(notebook_pins))
    if missing:
        raise LockError(f"envs/facility.toml [roles.singleuser]: lacks {missing} of the core")
    outputs[NOTEBOOK_LOCK] = render_requirements(
        notebook_pins,
        header=_header(
            "Notebook layer lock (every singleuser image, below the experiment's layer)",
            "envs/facility.toml [core, roles.singleuser]",
            all_digest,
        ),
    )
    suite = facility.debian.suite

    def debian_lock(packages: tuple[str, ...], *, where: str, what: str, source: str) -> str:
        """One Debian lock file: the packages pinned from the mirror's index, with its header."""
        return render_debian(
            debian.pin(packages, versions, where=where, suite=suite),
            header=_header(what, f"{mirror} + {source}", all_digest),
        )

    outputs[BASE_DEBIAN_LOCK] = debian_lock(
        facility.debian.packages,
        where="envs/facility.toml: debian.packages",
        what=f"Debian {suite} base packages",
        source="envs/facility.toml",
    )
    outputs[NOTEBOOK_DEBIAN_LOCK] = debian_lock(
        facility.notebook_debian,
        where="envs/facility.toml: roles.singleuser.debian",
        what=f"Debian {suite} notebook-layer packages",
        source="envs/facility.toml",
    )
    for name, experiment in sorted(project.experiments.items()):
        sets = image_sets(facility, experiment)
        lock_files = experiment_lock_files(name)
        previous: dict[str, tuple[str, str]] = core_pins
        for role in ROLES:
            pins = resolve_subset(
                sets[role], facility_lock, project, env, what=f"images/{name} {role} image"
            )
            missing = sorted(set(previous) - set(pins))
            if missing:
                raise LockError(f"images/{name} {role}: lacks {missing} of the layer below it")
            previous = pins
            outputs[lock_files[role]] = render_requirements(
                pins,
                header=_header(
                    f"{experiment.title} {role} image lock",
                    f"envs/facility.toml [core, roles.{role}] + images/{name}/experiment.toml",
                    all_digest,
                ),
            )
        outputs[lock_files["debian"]] = debian_lock(
            experiment.apt,
            where=f"{experiment.source}: packages.apt",
            what=f"{experiment.title} Debian packages",
            source=f"images/{name}/experiment.toml",
        )

    files_digest = {str(p): file_digest(text) for p, text in sorted(outputs.items())}
    outputs[INPUTS] = (
        json.dumps(
            {"inputs": digests, "files": files_digest, "mirror": mirror}, indent=2, sort_keys=True
        )
        + "\n"
    )
    for relative, text in outputs.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        # Readers (a build in another terminal) see the old file or the new one, never half.
        partial = path.with_name(f".{path.name}.partial")
        partial.write_text(text)
        partial.replace(path)
    return LockResult(files=tuple(sorted(outputs)), packages=len(facility_lock.wheels))

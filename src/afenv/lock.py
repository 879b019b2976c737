"""`afenv lock`: one facility-wide resolution, per-image subsets with identical pins.

Resolution happens once over every experiment and role (uv, target Python and manylinux platform
of the container), written as ``envs/lock/facility.pylock.toml`` (PEP 751, with every wheel's URL
and hash). Each image's lock is then the dependency closure of that image's requirements,
resolved again with the facility pins as constraints, and checked to be a subset. Every lock file
names the wheel it installs by its one sha256, so both roles install the very same files.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import tempfile
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import canonicalize_name, parse_wheel_filename

from afenv import debian
from afenv.config import ROLES, Experiment, Facility, Project
from afenv.errors import LockError
from afenv.hostnet import tool_env

__all__ = [
    "FacilityLock",
    "ImageLock",
    "LockedWheel",
    "check",
    "image_sets",
    "input_digests",
    "lock",
    "read_facility_lock",
    "read_image_lock",
]

LOCK_DIR = Path("envs/lock")
FACILITY_LOCK = LOCK_DIR / "facility.pylock.toml"
INPUTS = LOCK_DIR / "inputs.json"
CORE_LOCK = LOCK_DIR / "core.txt"
BASE_DEBIAN_LOCK = LOCK_DIR / "debian.txt"


@dataclass(frozen=True, kw_only=True)
class LockedWheel:
    name: str  # canonical
    version: str
    filename: str
    url: str
    sha256: str
    size: int


@dataclass(frozen=True, kw_only=True)
class FacilityLock:
    wheels: Mapping[str, LockedWheel]  # canonical name -> the one wheel chosen for the target

    def by_hash(self) -> dict[str, LockedWheel]:
        return {w.sha256: w for w in self.wheels.values()}


@dataclass(frozen=True, kw_only=True)
class ImageLock:
    """Pins of one image set: name -> (version, sha256)."""

    pins: Mapping[str, tuple[str, str]]

    def names(self) -> frozenset[str]:
        return frozenset(self.pins)


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


def _digest(value: object) -> str:
    blob = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    return "sha256:" + hashlib.sha256(blob).hexdigest()


def input_digests(project: Project) -> dict[str, str]:
    """One digest per input that a lock depends on, so drift can be named precisely."""
    facility = project.facility
    digests = {
        "facility.target": _digest(
            [facility.index_url, facility.python.version, facility.python.platform]
        ),
        "facility.core": _digest(sorted(facility.core)),
        "facility.debian": _digest([facility.debian.suite, sorted(facility.debian.packages)]),
    }
    for role in ROLES:
        digests[f"facility.roles.{role}"] = _digest(sorted(facility.roles[role]))
    for name, experiment in sorted(project.experiments.items()):
        digests[f"images/{name}.pip"] = _digest(sorted(experiment.pip))
        digests[f"images/{name}.apt"] = _digest(sorted(experiment.apt))
    return digests


def _input_label(key: str) -> str:
    if key.startswith("images/"):
        name, field = key.removeprefix("images/").split(".")
        return f"images/{name}/experiment.toml [packages] {field}"
    return "envs/facility.toml " + {
        "facility.target": "[facility] index-url / [python]",
        "facility.core": "[core] packages",
        "facility.debian": "[debian]",
    }.get(key, f"[{key.removeprefix('facility.')}] packages")


# ---------------------------------------------------------------------------------------------
# Wheel choice for the container's platform.


def target_tags(python_version: str, glibc: tuple[int, int]) -> list[Tag]:
    """Tags the container's interpreter accepts, most specific first (pip's own order)."""
    major, minor = (int(p) for p in python_version.split("."))
    platforms = [f"manylinux_2_{m}_x86_64" for m in range(glibc[1], 4, -1)]
    legacy = {17: "manylinux2014_x86_64", 12: "manylinux2010_x86_64", 5: "manylinux1_x86_64"}
    ordered: list[str] = []
    for platform in platforms:
        ordered.append(platform)
        minor_glibc = int(platform.split("_")[2])
        if minor_glibc in legacy:
            ordered.append(legacy[minor_glibc])
    abi = f"cp{major}{minor}"
    return [
        *cpython_tags((major, minor), abis=[abi, "abi3", "none"], platforms=ordered),
        *compatible_tags((major, minor), abi, ordered),
    ]


def choose_wheel(filenames: Iterable[str], tags: list[Tag]) -> str | None:
    rank = {tag: index for index, tag in enumerate(tags)}
    best: tuple[int, str] | None = None
    for filename in filenames:
        _, _, _, wheel_tags = parse_wheel_filename(filename)
        scores = [rank[t] for t in wheel_tags if t in rank]
        if scores and (best is None or min(scores) < best[0]):
            best = (min(scores), filename)
    return best[1] if best else None


def parse_pylock(text: str, tags: list[Tag], *, source: str) -> FacilityLock:
    data = tomllib.loads(text)
    wheels: dict[str, LockedWheel] = {}
    for package in data.get("packages", []):
        name = canonicalize_name(package["name"])
        candidates = {Path(w["url"]).name: w for w in package.get("wheels", [])}
        chosen = choose_wheel(candidates, tags)
        if chosen is None:
            raise LockError(
                f"{source}: {name} {package['version']} has no wheel for the container's platform; "
                f"pin a version with one, or drop the package"
            )
        wheel = candidates[chosen]
        wheels[name] = LockedWheel(
            name=name,
            version=str(package["version"]),
            filename=chosen,
            url=wheel["url"],
            sha256=wheel["hashes"]["sha256"],
            size=int(wheel.get("size", 0)),
        )
    return FacilityLock(wheels=wheels)


# ---------------------------------------------------------------------------------------------
# Lock files: writing and reading.

_PIN_RE = re.compile(r"^([A-Za-z0-9._-]+)==(\S+)\s+\\\n\s+--hash=sha256:([0-9a-f]{64})", re.M)


def render_requirements(pins: Mapping[str, tuple[str, str]], *, header: Iterable[str]) -> str:
    lines = [f"# {line}" for line in header]
    for name in sorted(pins):
        version, sha256 = pins[name]
        lines.append(f"{name}=={version} \\\n    --hash=sha256:{sha256}")
    return "\n".join(lines) + "\n"


def parse_requirements(text: str) -> ImageLock:
    return ImageLock(pins={m.group(1): (m.group(2), m.group(3)) for m in _PIN_RE.finditer(text)})


def read_image_lock(path: Path) -> ImageLock:
    try:
        return parse_requirements(path.read_text())
    except FileNotFoundError:
        raise LockError(f"{path}: lock file missing; run `afenv lock`") from None


def read_facility_lock(project: Project) -> FacilityLock:
    path = project.root / FACILITY_LOCK
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise LockError(f"{path}: no facility lock; run `afenv lock`") from None
    python = project.facility.python
    return parse_pylock(text, target_tags(python.version, python.glibc), source=str(path))


def render_debian(pins: Mapping[str, str], *, header: Iterable[str]) -> str:
    lines = [f"# {line}" for line in header]
    lines += [f"{name}={version}" for name, version in sorted(pins.items())]
    return "\n".join(lines) + "\n"


def parse_debian(text: str) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, version = line.partition("=")
            pins[name] = version
    return pins


# ---------------------------------------------------------------------------------------------
# Resolution with uv.


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
        raise LockError(f"cannot resolve {what}: {reason}")
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
    ]


def resolve_facility(project: Project, env: Mapping[str, str]) -> str:
    requirements = sorted(
        {
            *project.facility.core,
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


def _header(what: str, sources: str, digest: str) -> list[str]:
    return [
        f"{what}. Generated by `afenv lock`; do not edit by hand.",
        f"From: {sources}",
        f"Inputs digest: {digest}",
    ]


def lock(project: Project, env: Mapping[str, str]) -> LockResult:
    root = project.root
    facility = project.facility
    digests = input_digests(project)
    all_digest = _digest(digests)

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
    outputs[BASE_DEBIAN_LOCK] = render_debian(
        debian.pin(
            facility.debian.packages,
            versions,
            where="envs/facility.toml: debian.packages",
            suite=facility.debian.suite,
        ),
        header=_header(
            f"Debian {facility.debian.suite} base packages",
            f"{mirror} + envs/facility.toml",
            all_digest,
        ),
    )
    for name, experiment in sorted(project.experiments.items()):
        sets = image_sets(facility, experiment)
        previous: dict[str, tuple[str, str]] = core_pins
        for role in ROLES:
            pins = resolve_subset(
                sets[role], facility_lock, project, env, what=f"images/{name} {role} image"
            )
            missing = sorted(set(previous) - set(pins))
            if missing:
                raise LockError(f"images/{name} {role}: lacks {missing} of the layer below it")
            previous = pins
            outputs[Path("images") / name / "lock" / f"{role}.txt"] = render_requirements(
                pins,
                header=_header(
                    f"{experiment.title} {role} image lock",
                    f"envs/facility.toml [core, roles.{role}] + images/{name}/experiment.toml",
                    all_digest,
                ),
            )
        outputs[Path("images") / name / "lock" / "debian.txt"] = render_debian(
            debian.pin(
                experiment.apt,
                versions,
                where=f"{experiment.source}: packages.apt",
                suite=facility.debian.suite,
            ),
            header=_header(
                f"{experiment.title} Debian packages",
                f"{mirror} + images/{name}/experiment.toml",
                all_digest,
            ),
        )

    files_digest = {str(p): _file_digest(text) for p, text in sorted(outputs.items())}
    outputs[INPUTS] = (
        json.dumps(
            {"inputs": digests, "files": files_digest, "mirror": mirror}, indent=2, sort_keys=True
        )
        + "\n"
    )
    for relative, text in outputs.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return LockResult(files=tuple(sorted(outputs)), packages=len(facility_lock.wheels))


def _file_digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def check(project: Project) -> list[str]:
    """Reasons the lock is behind its inputs (empty: up to date). Reads files only."""
    path = project.root / INPUTS
    try:
        recorded = json.loads(path.read_text())
    except FileNotFoundError:
        return [f"{INPUTS} missing: the project was never locked"]
    problems: list[str] = []
    current = input_digests(project)
    old = recorded.get("inputs", {})
    for key in sorted(set(current) | set(old)):
        if key not in old:
            problems.append(f"{_input_label(key)}: new since the lock")
        elif key not in current:
            problems.append(f"{key}: removed since the lock")
        elif old[key] != current[key]:
            problems.append(f"{_input_label(key)}: changed since the lock")
    for relative, digest in sorted(recorded.get("files", {}).items()):
        file_path = project.root / relative
        if not file_path.is_file():
            problems.append(f"{relative}: missing")
        elif _file_digest(file_path.read_text()) != digest:
            problems.append(f"{relative}: edited by hand since the lock")
    return problems

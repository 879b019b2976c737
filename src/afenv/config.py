"""Spec files parsed once into frozen dataclasses.

``envs/facility.toml`` holds the facility-wide stack (Debian suite, Python, core packages, role
extras); ``images/<exp>/experiment.toml`` adds one experiment. Everything downstream (lock, plan,
render, build, validate) receives these objects and never re-reads the files. Unknown keys are
errors: a typo in a spec should not silently drop a package.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from afenv.errors import ConfigError

__all__ = [
    "ROLES",
    "BenchmarkSpec",
    "DebianSpec",
    "Experiment",
    "Facility",
    "Project",
    "PythonSpec",
    "load_project",
]

# Layer order: singleuser is built on top of worker, so worker comes first.
ROLES: tuple[str, ...] = ("worker", "singleuser")

# What Debian ships per suite: Python must be Debian's own python3, and the wheel platform must
# not ask for a newer glibc than the suite has.
KNOWN_SUITES: Mapping[str, tuple[str, tuple[int, int]]] = {
    "bookworm": ("3.11", (2, 36)),
    "trixie": ("3.13", (2, 41)),
}

_NAME_RE = re.compile(r"^[a-z][a-z0-9-]*$")
_DEB_RE = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")
_ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PLATFORM_RE = re.compile(r"^x86_64-manylinux_2_(\d+)$")


@dataclass(frozen=True, kw_only=True)
class DebianSpec:
    suite: str
    base_image: str
    packages: tuple[str, ...]
    mirror: str | None  # None: take the mirror from the host's apt sources


@dataclass(frozen=True, kw_only=True)
class PythonSpec:
    version: str  # major.minor of Debian's python3 in the suite
    platform: str  # uv's --python-platform, e.g. x86_64-manylinux_2_40

    @property
    def glibc(self) -> tuple[int, int]:
        match = _PLATFORM_RE.match(self.platform)
        assert match, self.platform  # checked at load time
        return (2, int(match.group(1)))


@dataclass(frozen=True, kw_only=True)
class Facility:
    name: str
    index_url: str
    debian: DebianSpec
    python: PythonSpec
    core: tuple[str, ...]
    roles: Mapping[str, tuple[str, ...]]
    source: Path


@dataclass(frozen=True, kw_only=True)
class BenchmarkSpec:
    events: int
    files: int
    seed: int


@dataclass(frozen=True, kw_only=True)
class Experiment:
    name: str
    title: str
    description: str
    vos: tuple[str, ...]
    cvmfs: tuple[str, ...]
    pip: tuple[str, ...]
    apt: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    benchmark: BenchmarkSpec
    directory: Path

    @property
    def source(self) -> Path:
        return self.directory / "experiment.toml"


@dataclass(frozen=True, kw_only=True)
class Project:
    root: Path
    facility: Facility
    experiments: Mapping[str, Experiment]

    def experiment(self, name: str) -> Experiment:
        try:
            return self.experiments[name]
        except KeyError:
            known = ", ".join(sorted(self.experiments)) or "none"
            raise ConfigError(
                f"unknown experiment {name!r}: known experiments are {known} "
                f"(each is a folder images/<name>/ with an experiment.toml)"
            ) from None


class _Table:
    """A TOML table being read, which knows where it came from for error messages."""

    def __init__(self, data: Mapping[str, Any], path: Path, prefix: str) -> None:
        self.data = data
        self.path = path
        self.prefix = prefix

    def where(self, key: str) -> str:
        return f"{self.path}: {self.prefix}{key}"

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.where(key)}: {problem}")

    def table(self, key: str, *, required: bool = True) -> _Table:
        value = self.data.get(key)
        if value is None and not required:
            value = {}
        if not isinstance(value, dict):
            raise self.fail(key, "missing table" if value is None else "must be a table")
        return _Table(value, self.path, f"{self.prefix}{key}.")

    def text(self, key: str, default: str | None = None) -> str:
        value = self.data.get(key, default)
        if not isinstance(value, str) or not value:
            raise self.fail(key, "must be a non-empty string")
        return value

    def optional_text(self, key: str) -> str | None:
        return None if key not in self.data else self.text(key)

    def integer(self, key: str, default: int, *, minimum: int = 0) -> int:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(key, f"must be an integer >= {minimum}")
        return value

    def strings(self, key: str, *, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        value = self.data.get(key, list(default))
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(key, 'must be a list of strings, e.g. ["a", "b"]')
        if len(set(value)) != len(value):
            raise self.fail(key, "lists an entry twice")
        return tuple(value)

    def only(self, *allowed: str) -> None:
        unknown = sorted(set(self.data) - set(allowed))
        if unknown:
            raise self.fail(unknown[0], f"unknown key; allowed here: {', '.join(allowed)}")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the syntax") from None


def _requirements(table: _Table, key: str) -> tuple[str, ...]:
    """Pip requirement strings, checked now so that uv never sees a malformed one."""
    values = table.strings(key)
    seen: dict[str, str] = {}
    for value in values:
        try:
            requirement = Requirement(value)
        except InvalidRequirement as exc:
            raise table.fail(key, f"{value!r} is not a valid requirement ({exc})") from None
        if requirement.url:
            raise table.fail(key, f"{value!r}: direct URLs cannot be locked by hash; use a name")
        name = _canonical(requirement.name)
        if name in seen:
            raise table.fail(key, f"{value!r} repeats {seen[name]!r}; keep one")
        seen[name] = value
    return values


def _debian_packages(table: _Table, key: str) -> tuple[str, ...]:
    values = table.strings(key)
    for value in values:
        if not _DEB_RE.match(value):
            raise table.fail(key, f"{value!r} is not a Debian package name (no versions here)")
    return values


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def load_facility(path: Path) -> Facility:
    top = _Table(_read_toml(path), path, "")
    top.only("facility", "debian", "python", "core", "roles")

    facility = top.table("facility")
    facility.only("name", "index-url")
    name = facility.text("name")

    debian = top.table("debian")
    debian.only("suite", "base-image", "packages", "mirror")
    suite = debian.text("suite")
    if suite not in KNOWN_SUITES:
        raise debian.fail("suite", f"{suite!r} is not supported; use one of {sorted(KNOWN_SUITES)}")
    debian_spec = DebianSpec(
        suite=suite,
        base_image=debian.text("base-image", f"debian:{suite}-slim"),
        packages=_debian_packages(debian, "packages"),
        mirror=debian.optional_text("mirror"),
    )

    python = top.table("python")
    python.only("version", "platform")
    expected_python, glibc = KNOWN_SUITES[suite]
    version = python.text("version", expected_python)
    if version != expected_python:
        raise python.fail(
            "version", f"Debian {suite} ships python3 {expected_python}, not {version}; set it"
        )
    platform = python.text("platform", f"x86_64-manylinux_2_{min(glibc[1], 40)}")
    match = _PLATFORM_RE.match(platform)
    if not match:
        raise python.fail("platform", f"{platform!r}: use x86_64-manylinux_2_NN")
    if (2, int(match.group(1))) > glibc:
        raise python.fail(
            "platform", f"{platform} needs a newer glibc than Debian {suite} has ({glibc[1]})"
        )

    core = top.table("core")
    core.only("packages")
    roles_table = top.table("roles")
    roles_table.only(*ROLES)
    roles: dict[str, tuple[str, ...]] = {}
    for role in ROLES:
        role_table = roles_table.table(role, required=False)
        role_table.only("packages")
        roles[role] = _requirements(role_table, "packages")

    return Facility(
        name=name,
        index_url=facility.text("index-url", "https://pypi.org/simple").rstrip("/"),
        debian=debian_spec,
        python=PythonSpec(version=version, platform=platform),
        core=_requirements(core, "packages"),
        roles=roles,
        source=path,
    )


def load_experiment(directory: Path) -> Experiment:
    path = directory / "experiment.toml"
    top = _Table(_read_toml(path), path, "")
    top.only("experiment", "packages", "env", "benchmark")

    meta = top.table("experiment")
    meta.only("name", "title", "description", "vos", "cvmfs")
    name = meta.text("name")
    if name != directory.name:
        raise meta.fail(
            "name", f"is {name!r} but the folder is {directory.name!r}; make them equal"
        )
    if not _NAME_RE.match(name):
        raise meta.fail("name", "use lower-case letters, digits and '-'")

    packages = top.table("packages", required=False)
    packages.only("pip", "apt")

    env_table = top.table("env", required=False)
    env: list[tuple[str, str]] = []
    for key, value in sorted(env_table.data.items()):
        if not _ENV_RE.match(key) or not isinstance(value, str):
            raise env_table.fail(key, 'environment entries are NAME = "string"')
        env.append((key, value))

    bench = top.table("benchmark", required=False)
    bench.only("events", "files", "seed")

    return Experiment(
        name=name,
        title=meta.text("title", name.upper()),
        description=meta.text("description", f"{name} analysis environment"),
        vos=meta.strings("vos"),
        cvmfs=meta.strings("cvmfs"),
        pip=_requirements(packages, "pip"),
        apt=_debian_packages(packages, "apt"),
        env=tuple(env),
        benchmark=BenchmarkSpec(
            events=bench.integer("events", 200_000, minimum=1000),
            files=bench.integer("files", 4, minimum=1),
            seed=bench.integer("seed", 1, minimum=0),
        ),
        directory=directory,
    )


def load_project(root: Path) -> Project:
    """Read envs/facility.toml and every images/<exp>/experiment.toml under ``root``."""
    root = root.resolve()
    facility_path = root / "envs" / "facility.toml"
    if not facility_path.is_file():
        raise ConfigError(
            f"{facility_path}: file not found; run afenv from the project folder or pass --project"
        )
    facility = load_facility(facility_path)
    experiments: dict[str, Experiment] = {}
    images = root / "images"
    for directory in sorted(images.iterdir()) if images.is_dir() else ():
        if (directory / "experiment.toml").is_file():
            experiment = load_experiment(directory)
            _check_no_overlap(facility, experiment)
            experiments[experiment.name] = experiment
    return Project(root=root, facility=facility, experiments=experiments)


def _check_no_overlap(facility: Facility, experiment: Experiment) -> None:
    """An experiment may add packages but not re-pin a facility one (that would fork the core)."""
    facility_names = {
        _canonical(Requirement(r).name)
        for r in (*facility.core, *facility.roles["worker"], *facility.roles["singleuser"])
    }
    for requirement in experiment.pip:
        if _canonical(Requirement(requirement).name) in facility_names:
            raise ConfigError(
                f"{experiment.source}: packages.pip: {requirement!r} is already in "
                f"{facility.source.name}; remove it here (the facility pins it for everyone)"
            )

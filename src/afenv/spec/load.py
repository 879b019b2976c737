"""Spec files parsed once into frozen dataclasses (:mod:`afenv.spec.model`).

``envs/facility.toml`` holds the facility-wide stack (Debian suite, Python, core packages, role
extras); ``images/<exp>/experiment.toml`` adds one experiment. Everything downstream (lock, plan,
render, build, validate) receives these objects and never re-reads the files. Unknown keys are
errors (a typo should not silently drop a package), and every value that later reaches a
Dockerfile, a shell or a path passes its grammar (:mod:`afenv.spec.grammar`) here.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from afenv.engine import check_reference
from afenv.errors import ConfigError
from afenv.spec.grammar import RULES, canonical_name, shown
from afenv.spec.model import (
    PLATFORM_RE,
    ROLES,
    BenchmarkSpec,
    DebianSpec,
    Experiment,
    Facility,
    KernelOffer,
    Project,
    PythonSpec,
    ResourcesSpec,
    memory_bytes,
)

__all__ = ["load_experiment", "load_facility", "load_project"]

# What Debian ships per suite: Python must be Debian's own python3, and the wheel platform must
# not ask for a newer glibc than the suite has.
KNOWN_SUITES: Mapping[str, tuple[str, tuple[int, int]]] = {
    "bookworm": ("3.11", (2, 36)),
    "trixie": ("3.13", (2, 41)),
}
_MAX_SPEC_BYTES = 1 << 20
_MAX_REQUIREMENT = 200
_MAX_CPUS = 256  # cores a notebook pod may ask for: a node's worth, not a typo's


_shown = shown


class _Table:
    """A TOML table being read, which knows where it came from for error messages."""

    def __init__(self, data: Mapping[str, Any], path: Path, prefix: str) -> None:
        self.data = data
        self.path = path
        self.prefix = prefix

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.path}: {self.prefix}{_key(key)}: {problem}")

    def table(self, key: str, *, required: bool = True) -> _Table:
        value = self.data.get(key)
        if value is None and not required:
            value = {}
        if not isinstance(value, dict):
            raise self.fail(key, "missing table" if value is None else "must be a table")
        return _Table(value, self.path, f"{self.prefix}{key}.")

    def text(self, key: str, default: str | None = None, *, rule: str = "text") -> str:
        value = self.data.get(key, default)
        if not isinstance(value, str) or not value:
            raise self.fail(key, "must be a non-empty string")
        return self.check(key, value, rule)

    def optional_text(self, key: str, *, rule: str) -> str | None:
        return None if key not in self.data else self.text(key, rule=rule)

    def check(self, key: str, value: str, rule: str) -> str:
        grammar = RULES[rule]
        if not grammar.accepts(value):
            raise self.fail(
                key, f"{_shown(value)} is not {grammar.says} (at most {grammar.max_length} chars)"
            )
        return value

    def integer(self, key: str, default: int, *, minimum: int, maximum: int) -> int:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
            raise self.fail(key, f"must be an integer from {minimum} to {maximum}")
        return value

    def positive_number(self, key: str, default: float, *, maximum: float) -> float:
        value = self.data.get(key, default)
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or not 0 < value <= maximum:  # TOML's nan and inf fail this too
            raise self.fail(key, f"must be a number above 0 and at most {maximum:g}")
        return float(value)

    def strings(self, key: str, *, rule: str | None = None) -> tuple[str, ...]:
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(key, 'must be a list of strings, e.g. ["a", "b"]')
        if len(set(value)) != len(value):
            raise self.fail(key, "lists an entry twice")
        if rule is not None:
            for item in value:
                self.check(key, item, rule)
        return tuple(value)

    def only(self, *allowed: str) -> None:
        unknown = sorted(set(self.data) - set(allowed))
        if unknown:
            raise self.fail(unknown[0], f"unknown key; allowed here: {', '.join(allowed)}")


def _key(key: str) -> str:
    return key if RULES["env_name"].accepts(key.replace("-", "_")) else _shown(key, 40)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        if path.is_symlink():
            raise ConfigError(f"{path}: is a symbolic link; spec files must be plain files")
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a TOML file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    if len(data) > _MAX_SPEC_BYTES:
        raise ConfigError(f"{path}: larger than {_MAX_SPEC_BYTES >> 10} KiB; not a spec file")
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; spec files are TOML") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a spec file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the syntax") from None


def _requirements(table: _Table, key: str) -> tuple[str, ...]:
    """Pip requirement strings, checked now so that uv never sees a malformed one."""
    values = table.strings(key)
    seen: dict[str, str] = {}
    for value in values:
        if len(value) > _MAX_REQUIREMENT:
            raise table.fail(key, f"{_shown(value)} is longer than {_MAX_REQUIREMENT} characters")
        try:
            requirement = Requirement(value)
        except InvalidRequirement:
            raise table.fail(
                key, f'{_shown(value)} is not a valid requirement (e.g. "numpy>=2")'
            ) from None
        if requirement.url:
            raise table.fail(key, f"{_shown(value)}: direct URLs cannot be locked by hash")
        name = canonical_name(requirement.name)
        if name in seen:
            raise table.fail(key, f"{_shown(value)} repeats {_shown(seen[name])}; keep one")
        seen[name] = value
    return values


def load_facility(path: Path) -> Facility:
    top = _Table(_read_toml(path), path, "")
    top.only("facility", "debian", "python", "core", "build", "roles")

    facility = top.table("facility")
    facility.only("name", "index-url", "exclude-newer")

    debian = top.table("debian")
    debian.only("suite", "base-image", "packages", "mirror")
    suite = debian.text("suite", rule="suite")
    if suite not in KNOWN_SUITES:
        raise debian.fail("suite", f"{suite!r} is not supported; use one of {sorted(KNOWN_SUITES)}")
    base_image = debian.text("base-image", f"debian:{suite}-slim")
    try:
        check_reference(base_image, what=f"{path}: debian.base-image")
    except ConfigError as exc:
        raise ConfigError(exc.message) from None
    debian_spec = DebianSpec(
        suite=suite,
        base_image=base_image,
        packages=debian.strings("packages", rule="debian_package"),
        mirror=_mirror(debian.optional_text("mirror", rule="url")),
    )

    python = top.table("python")
    python.only("version", "platform")
    expected_python, glibc = KNOWN_SUITES[suite]
    version = python.text("version", expected_python)
    if version != expected_python:
        raise python.fail(
            "version", f"Debian {suite} ships python3 {expected_python}, not {version[:20]}"
        )
    platform = python.text("platform", f"x86_64-manylinux_2_{min(glibc[1], 40)}")
    match = PLATFORM_RE.match(platform)
    if not match:
        raise python.fail("platform", f"{_shown(platform)}: use x86_64-manylinux_2_NN")
    if (2, int(match.group(1))) > glibc:
        raise python.fail(
            "platform", f"{platform} needs a newer glibc than Debian {suite} has ({glibc[1]})"
        )

    core = top.table("core")
    core.only("packages")
    build = top.table("build")
    build.only("packages")
    build_packages = _requirements(build, "packages")
    if not any(canonical_name(Requirement(r).name) == "uv" for r in build_packages):
        raise build.fail("packages", 'must name uv (the build stages install with it): ["uv"]')
    roles_table = top.table("roles")
    roles_table.only(*ROLES)
    roles: dict[str, tuple[str, ...]] = {}
    notebook_debian: tuple[str, ...] = ()
    for role in ROLES:
        role_table = roles_table.table(role, required=False)
        if role == "singleuser":
            role_table.only("packages", "debian")
            notebook_debian = role_table.strings("debian", rule="debian_package")
        elif "debian" in role_table.data:
            raise role_table.fail(
                "debian", "a Debian package every image needs belongs in [debian] packages"
            )
        else:
            role_table.only("packages")
        roles[role] = _requirements(role_table, "packages")

    return Facility(
        name=facility.text("name", rule="facility"),
        index_url=facility.text("index-url", "https://pypi.org/simple", rule="url").rstrip("/"),
        exclude_newer=_utc(facility.optional_text("exclude-newer", rule="timestamp")),
        debian=debian_spec,
        python=PythonSpec(version=version, platform=platform),
        core=_requirements(core, "packages"),
        build=build_packages,
        roles=roles,
        notebook_debian=notebook_debian,
        source=path,
    )


def _mirror(value: str | None) -> str | None:
    return None if value is None else value.rstrip("/")


def _utc(value: str | None) -> str | None:
    """A bare date means the end of nothing: the start of that day, UTC."""
    if value is None or "T" in value:
        return value
    return f"{value}T00:00:00Z"


def load_experiment(directory: Path) -> Experiment:
    path = directory / "experiment.toml"
    top = _Table(_read_toml(path), path, "")
    top.only("experiment", "packages", "env", "benchmark", "resources", "kernels")

    meta = top.table("experiment")
    meta.only("name", "title", "description", "vos", "cvmfs")
    name = meta.text("name", rule="experiment")
    if name != directory.name:
        raise meta.fail("name", f"is {name!r} but the folder is {_shown(directory.name)}")

    packages = top.table("packages", required=False)
    packages.only("pip", "apt")

    env_table = top.table("env", required=False)
    env: list[tuple[str, str]] = []
    for key, value in sorted(env_table.data.items()):
        if not RULES["env_name"].accepts(key):
            raise env_table.fail(key, f"is not {RULES['env_name'].says}")
        if not isinstance(value, str):
            raise env_table.fail(key, 'environment entries are NAME = "string"')
        env.append((key, env_table.check(key, value, "env_value")))

    bench = top.table("benchmark", required=False)
    bench.only("events", "files", "seed")
    defaults = BenchmarkSpec()
    cvmfs = meta.strings("cvmfs", rule="cvmfs")
    experiment = Experiment(
        name=name,
        title=meta.text("title", name.upper()),
        description=meta.text("description", f"{name} analysis environment"),
        vos=meta.strings("vos", rule="vo"),
        cvmfs=cvmfs,
        pip=_requirements(packages, "pip"),
        apt=packages.strings("apt", rule="debian_package"),
        env=tuple(env),
        benchmark=BenchmarkSpec(
            events=bench.integer("events", defaults.events, minimum=1000, maximum=100_000_000),
            files=bench.integer("files", defaults.files, minimum=1, maximum=1000),
            seed=bench.integer("seed", defaults.seed, minimum=0, maximum=2**31 - 1),
        ),
        resources=_resources(top.table("resources", required=False)),
        directory=directory,
        notebooks=notebook_files(sorted((directory / "notebooks").glob("*.ipynb"))),
        checks=_check_files(directory / "checks"),
        kernels=_kernels(top.table("kernels", required=False), cvmfs),
    )
    _refuse_links(directory)
    _check_vo_files(experiment)
    return experiment


def _resources(table: _Table) -> ResourcesSpec:
    """[resources]: what a notebook pod of this experiment is guaranteed and limited to."""
    table.only("cpu-guarantee", "cpu-limit", "mem-guarantee", "mem-limit")
    defaults = ResourcesSpec()
    resources = ResourcesSpec(
        cpu_guarantee=table.positive_number(
            "cpu-guarantee", defaults.cpu_guarantee, maximum=_MAX_CPUS
        ),
        cpu_limit=table.positive_number("cpu-limit", defaults.cpu_limit, maximum=_MAX_CPUS),
        mem_guarantee=table.text("mem-guarantee", defaults.mem_guarantee, rule="memory"),
        mem_limit=table.text("mem-limit", defaults.mem_limit, rule="memory"),
    )
    # Kubernetes refuses a pod whose request exceeds its limit: say so here, not at spawn time.
    if resources.cpu_guarantee > resources.cpu_limit:
        raise table.fail(
            "cpu-guarantee",
            f"{resources.cpu_guarantee:g} is more than {table.prefix}cpu-limit "
            f"({resources.cpu_limit:g}); lower the guarantee or raise the limit",
        )
    if memory_bytes(resources.mem_guarantee) > memory_bytes(resources.mem_limit):
        raise table.fail(
            "mem-guarantee",
            f"{resources.mem_guarantee} is more than {table.prefix}mem-limit "
            f"({resources.mem_limit}); lower the guarantee or raise the limit",
        )
    return resources


def notebook_files(paths: list[Path]) -> tuple[Path, ...]:
    """Notebooks validation may run: plain files whose names pass the notebook grammar."""
    rule = RULES["notebook"]
    for path in paths:
        if not rule.accepts(path.name):
            raise ConfigError(f"{path}: the notebook's name must be {rule.says}; rename it")
        if path.is_symlink() or not path.is_file():
            raise ConfigError(f"{path}: not a notebook file; give a plain .ipynb file")
    return tuple(path.resolve() for path in paths)


def _kernels(table: _Table, cvmfs: tuple[str, ...]) -> tuple[KernelOffer, ...]:
    """[kernels.NAME]: display-name and setup, the setup script on one of the experiment's own
    CVMFS repositories (the ones its pods mount)."""
    offers = []
    for name in sorted(table.data):
        if not RULES["kernel"].accepts(name):
            raise table.fail(name, f"is not {RULES['kernel'].says}")
        if name in _IMAGE_KERNELS:
            raise table.fail(name, "is a kernel the image has already; choose another name")
        offer = table.table(name)
        offer.only("display-name", "setup")
        setup = offer.text("setup", rule="cvmfs_file")
        repository = setup.split("/")[2]
        if repository not in cvmfs:
            raise offer.fail(
                "setup", f"is on {repository}, which is not in experiment.cvmfs; add it there"
            )
        offers.append(KernelOffer(name=name, display_name=offer.text("display-name"), setup=setup))
    return tuple(offers)


# Kernels every notebook image has (Python's and the ROOT wheel's C++ kernel).
_IMAGE_KERNELS = frozenset({"python3", "root"})


def _check_files(folder: Path) -> tuple[Path, ...]:
    """The experiment's in-image checks: plain pytest modules directly in ``checks/``, named
    by the check-file grammar (the names reach pytest's command line and the report)."""
    if not folder.exists():
        return ()
    if folder.is_symlink() or not folder.is_dir():
        raise ConfigError(f"{folder}: not a folder; checks/ holds the experiment's pytest files")
    rule = RULES["check_file"]
    files = []
    for path in sorted(folder.iterdir()):
        if path.name == "__pycache__" and path.is_dir() and not path.is_symlink():
            continue
        if not rule.accepts(path.name) or path.is_symlink() or not path.is_file():
            raise ConfigError(
                f"{path}: checks/ holds plain files named {rule.says}; rename or remove it"
            )
        files.append(path.resolve())
    return tuple(files)


def _refuse_links(directory: Path) -> None:
    """Nothing in an experiment folder may point elsewhere: a link in grid/ would put host files
    (``/etc/passwd``, the host's CA certificates) into a build context."""
    for path in sorted(directory.rglob("*")):
        if path.is_symlink():
            raise ConfigError(
                f"{path}: is a symbolic link; experiment folders hold plain files only (copy the "
                f"file in its place)"
            )


def _check_vo_files(experiment: Experiment) -> None:
    """Each VO has its vomses entry and LSC files under grid/, and grid/ has no other VO."""
    grid = experiment.directory / "grid"
    where = f"{experiment.source}: experiment.vos"
    for vo in experiment.vos:
        if not (grid / "vomses" / vo).is_file():
            raise ConfigError(f"{where}: VO {vo!r} has no grid/vomses/{vo}; add its vomses line")
        lsc = grid / "grid-security" / "vomsdir" / vo
        if not lsc.is_dir() or not any(p.suffix == ".lsc" for p in lsc.iterdir()):
            raise ConfigError(
                f"{where}: VO {vo!r} has no LSC file in grid/grid-security/vomsdir/{vo}/; add "
                f"one per VOMS server"
            )
    for path in sorted(grid.rglob("*")) if grid.is_dir() else ():
        if not path.is_file():
            continue
        relative = path.relative_to(grid)
        parts = relative.parts
        is_vomses = len(parts) == 2 and parts[0] == "vomses"
        is_lsc = (
            len(parts) == 4 and parts[:2] == ("grid-security", "vomsdir") and path.suffix == ".lsc"
        )
        name = f"grid/{relative.as_posix()}"
        name = name if name.isprintable() and len(name) < 120 else _shown(name, 120)
        if not (is_vomses or is_lsc):
            raise ConfigError(
                f"{experiment.source}: {name} is neither a vomses "
                f"entry nor an LSC file; grid/ holds only vomses/<vo> and "
                f"grid-security/vomsdir/<vo>/*.lsc (credentials never go into images)"
            )
        if b"PRIVATE KEY" in path.read_bytes():
            raise ConfigError(
                f"{experiment.source}: {name} holds a private key;"
                f" remove it (credentials never go into images)"
            )
    listed = set(experiment.vos)
    for folder in (grid / "vomses", grid / "grid-security" / "vomsdir"):
        for entry in sorted(folder.iterdir()) if folder.is_dir() else ():
            if entry.name not in listed:
                raise ConfigError(
                    f"{where}: grid/{entry.relative_to(grid)} is for a VO not listed; add "
                    f"{_shown(entry.name, 30)} to vos or remove the file"
                )


def load_project(root: Path) -> Project:
    """Read envs/facility.toml and every images/<exp>/experiment.toml under ``root``."""
    root = root.resolve()
    facility_path = root / "envs" / "facility.toml"
    if not facility_path.is_file():
        raise ConfigError(
            f"{facility_path}: file not found; run afenv in a facility repository (one made "
            f"by `afenv init DIR`) or pass --project"
        )
    facility = load_facility(facility_path)
    experiments: dict[str, Experiment] = {}
    images = root / "images"
    for directory in sorted(images.iterdir()) if images.is_dir() else ():
        if directory.is_symlink():
            raise ConfigError(f"{directory}: is a symbolic link; experiment folders are folders")
        spec = directory / "experiment.toml"
        if spec.exists() or spec.is_symlink():
            experiment = load_experiment(directory)
            _check_no_overlap(facility, experiment)
            experiments[experiment.name] = experiment
    return Project(root=root, facility=facility, experiments=experiments)


def _check_no_overlap(facility: Facility, experiment: Experiment) -> None:
    """An experiment may add packages but not re-pin a facility one (that would fork the core)."""
    facility_names = {
        canonical_name(Requirement(r).name)
        for r in (
            *facility.core,
            *facility.build,
            *(r for role in ROLES for r in facility.roles[role]),
        )
    }
    for requirement in experiment.pip:
        if canonical_name(Requirement(requirement).name) in facility_names:
            raise ConfigError(
                f"{experiment.source}: packages.pip: {requirement!r} is already in "
                f"{facility.source.name}; remove it here (the facility pins it for everyone)"
            )


def with_benchmark(spec: BenchmarkSpec, **overrides: int | None) -> BenchmarkSpec:
    """``spec`` with the given (non-None) fields replaced."""
    return dataclasses.replace(spec, **{k: v for k, v in overrides.items() if v is not None})

"""Lock files: their places, formats, and the wheel chosen for the container's platform.

Every reader goes through here, and every damaged or hand-edited file is one line naming it
and the fix (``afenv lock``), never a traceback.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from afenv.errors import LockError
from afenv.spec import Project
from afenv.spec.grammar import RULES

__all__ = [
    "BASE_DEBIAN_LOCK",
    "BUILD_LOCK",
    "CORE_LOCK",
    "FACILITY_LOCK",
    "INPUTS",
    "NOTEBOOK_DEBIAN_LOCK",
    "NOTEBOOK_LOCK",
    "FacilityLock",
    "ImageLock",
    "LockedWheel",
    "choose_wheel",
    "experiment_lock_files",
    "parse_debian",
    "parse_pylock",
    "parse_requirements",
    "read_debian",
    "read_facility_lock",
    "read_image_lock",
    "render_debian",
    "render_requirements",
    "target_tags",
]

LOCK_DIR = Path("envs/lock")
FACILITY_LOCK = LOCK_DIR / "facility.pylock.toml"
INPUTS = LOCK_DIR / "inputs.json"
CORE_LOCK = LOCK_DIR / "core.txt"
BUILD_LOCK = LOCK_DIR / "build.txt"  # the installers of the build stages (uv)
# The core and [roles.singleuser] alone, no experiment: the notebook layer every experiment's
# singleuser image shares, below that experiment's own layer.
NOTEBOOK_LOCK = LOCK_DIR / "notebook.txt"
BASE_DEBIAN_LOCK = LOCK_DIR / "debian.txt"
NOTEBOOK_DEBIAN_LOCK = LOCK_DIR / "debian-notebook.txt"  # [roles.singleuser] debian
FIX = "run `afenv lock` (lock files are generated, never edited by hand)"


def experiment_lock_files(name: str) -> dict[str, Path]:
    """The lock files of one experiment, relative to the project: role -> file, and debian."""
    folder = Path("images") / name / "lock"
    return {
        "worker": folder / "worker.txt",
        "singleuser": folder / "singleuser.txt",
        "debian": folder / "debian.txt",
    }


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


def _read(path: Path) -> str:
    try:
        if path.is_symlink():
            raise LockError(f"{path}: is a symbolic link; {FIX}")
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LockError(f"{path}: lock file missing; {FIX}") from None
    except (IsADirectoryError, UnicodeDecodeError):
        raise LockError(f"{path}: not a lock file; {FIX}") from None
    except OSError as exc:
        raise LockError(f"{path}: cannot read ({exc.strerror}); {FIX}") from None


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
        try:
            _, _, _, wheel_tags = parse_wheel_filename(filename)
        except InvalidWheelFilename:
            continue
        scores = [rank[t] for t in wheel_tags if t in rank]
        if scores and (best is None or min(scores) < best[0]):
            best = (min(scores), filename)
    return best[1] if best else None


_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


def parse_pylock(text: str, tags: list[Tag], *, source: str) -> FacilityLock:
    try:
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError):
        raise LockError(f"{source}: not valid TOML; {FIX}") from None
    wheels: dict[str, LockedWheel] = {}
    packages = data.get("packages", [])
    if not isinstance(packages, list):
        raise LockError(f"{source}: 'packages' is not a list; {FIX}")
    for index, package in enumerate(packages):
        try:
            name = str(canonicalize_name(package["name"]))
            version = str(package["version"])
            candidates = {Path(w["url"]).name: w for w in package.get("wheels", [])}
        except (KeyError, TypeError):
            raise LockError(
                f"{source}: packages[{index}] lacks name, version or wheels; {FIX}"
            ) from None
        chosen = choose_wheel(candidates, tags)
        if chosen is None:
            raise LockError(
                f"{source}: {name} {version} has no wheel for the container's platform; "
                f"pin a version with one, or drop the package"
            )
        wheel = candidates[chosen]
        sha256 = (wheel.get("hashes") or {}).get("sha256") if isinstance(wheel, dict) else None
        if not isinstance(sha256, str) or not _SHA256_RE.match(sha256):
            raise LockError(f"{source}: {name} {version} has no sha256 for {chosen}; {FIX}")
        url = str(wheel["url"])
        if not url.startswith(("https://", "http://")):
            raise LockError(f"{source}: {name} {version}: wheel URL is not http(s); {FIX}")
        wheels[name] = LockedWheel(
            name=name,
            version=version,
            filename=chosen,
            url=url,
            sha256=sha256,
            size=int(wheel.get("size", 0) or 0),
        )
    return FacilityLock(wheels=wheels)


def read_facility_lock(project: Project) -> FacilityLock:
    path = project.root / FACILITY_LOCK
    text = _read(path)
    python = project.facility.python
    return parse_pylock(text, target_tags(python.version, python.glibc), source=str(path))


# ---------------------------------------------------------------------------------------------
# Per-image requirement files (pip's hash-checking format).

_PIN_RE = re.compile(r"^([A-Za-z0-9._-]+)==(\S+)\s+\\\n\s+--hash=sha256:([0-9a-f]{64})", re.M)


def render_requirements(pins: Mapping[str, tuple[str, str]], *, header: Iterable[str]) -> str:
    lines = [f"# {line}" for line in header]
    for name in sorted(pins):
        version, sha256 = pins[name]
        lines.append(f"{name}=={version} \\\n    --hash=sha256:{sha256}")
    return "\n".join(lines) + "\n"


def parse_requirements(text: str, *, source: str = "requirements") -> ImageLock:
    pins = {m.group(1): (m.group(2), m.group(3)) for m in _PIN_RE.finditer(text)}
    stray = [
        line
        for line in _PIN_RE.sub("", text).splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if stray:
        raise LockError(f"{source}: a line is not a hashed pin ({stray[0][:60]!r}); {FIX}")
    return ImageLock(pins=pins)


def read_image_lock(path: Path) -> ImageLock:
    return parse_requirements(_read(path), source=str(path))


# ---------------------------------------------------------------------------------------------
# Debian pins.


def render_debian(pins: Mapping[str, str], *, header: Iterable[str]) -> str:
    lines = [f"# {line}" for line in header]
    lines += [f"{name}={version}" for name, version in sorted(pins.items())]
    return "\n".join(lines) + "\n"


def parse_debian(text: str, *, source: str = "debian pins") -> dict[str, str]:
    pins: dict[str, str] = {}
    name_rule, version_rule = RULES["debian_package"], RULES["debian_version"]
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, version = line.partition("=")
            if not name_rule.accepts(name) or not version_rule.accepts(version):
                raise LockError(f"{source}: {line[:60]!r} is not name=version of Debian; {FIX}")
            pins[name] = version
    return pins


def read_debian(path: Path) -> dict[str, str]:
    return parse_debian(_read(path), source=str(path))

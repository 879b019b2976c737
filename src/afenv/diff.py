"""`afenv diff A B`: the packages that change from A to B, Python and Debian, Dask's first.

A and B are each an image (its manifest: what afenv installed, Python and Debian) or a lock
file (`images/<exp>/lock/<role>.txt`, or a Debian pin file). Before an admin promotes a rebuild,
the diff says what users will see change; the packages distributed compares between client,
scheduler and workers come first, since a change there must reach every image of a pair.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from packaging.version import InvalidVersion, Version

from afenv.build.plan import MANIFEST_DIR
from afenv.engine import Engine, check_reference
from afenv.errors import ConfigError, LockError
from afenv.lock.files import parse_debian, parse_requirements
from afenv.spec import ROLES

__all__ = [
    "Change",
    "Contents",
    "RoleChanges",
    "compare",
    "contents",
    "counts",
    "debian_compare",
    "pair_changes",
    "summary",
]

# distributed.versions: the packages whose versions a Client compares with the scheduler's and
# the workers' (required, then optional), and the interpreter.
DASK_PACKAGES = (
    "python", "dask", "distributed", "msgpack", "cloudpickle", "tornado", "toolz",
    "numpy", "pandas", "lz4",
)  # fmt: skip

Kind = Literal["added", "removed", "upgraded", "downgraded", "changed"]


@dataclass(frozen=True)
class Contents:
    source: str  # what the user named
    python: Mapping[str, str]  # canonical name -> version
    debian: Mapping[str, str]


@dataclass(frozen=True)
class Change:
    ecosystem: Literal["python", "debian"]
    name: str
    kind: Kind
    old: str | None
    new: str | None

    @property
    def dask(self) -> bool:
        return self.ecosystem == "python" and self.name in DASK_PACKAGES

    def as_dict(self) -> dict[str, object]:
        return {
            "ecosystem": self.ecosystem,
            "name": self.name,
            "kind": self.kind,
            "old": self.old,
            "new": self.new,
            "dask": self.dask,
        }


# -- Debian's version order (Debian policy 5.6.12, as dpkg implements it) --------------------


def _order(char: str) -> int:
    if char == "~":
        return -1
    if char.isdigit() or not char:
        return 0
    return ord(char) if char.isalpha() else ord(char) + 256


def _compare_part(a: str, b: str) -> int:
    """dpkg's verrevcmp: non-digit runs by the modified ASCII order, digit runs by value."""
    i = j = 0
    while i < len(a) or j < len(b):
        first_diff = 0
        while (i < len(a) and not a[i].isdigit()) or (j < len(b) and not b[j].isdigit()):
            ac = _order(a[i]) if i < len(a) else 0
            bc = _order(b[j]) if j < len(b) else 0
            if ac != bc:
                return ac - bc
            i, j = i + 1, j + 1
        while i < len(a) and a[i] == "0":
            i += 1
        while j < len(b) and b[j] == "0":
            j += 1
        while i < len(a) and a[i].isdigit() and j < len(b) and b[j].isdigit():
            if not first_diff:
                first_diff = ord(a[i]) - ord(b[j])
            i, j = i + 1, j + 1
        if i < len(a) and a[i].isdigit():
            return 1
        if j < len(b) and b[j].isdigit():
            return -1
        if first_diff:
            return first_diff
    return 0


def _split(version: str) -> tuple[int, str, str]:
    epoch, colon, rest = version.partition(":")
    if not colon:
        epoch, rest = "0", version
    upstream, dash, revision = rest.rpartition("-")
    if not dash:
        upstream, revision = rest, ""
    return int(epoch), upstream, revision


def debian_compare(a: str, b: str) -> int:
    """<0, 0, >0 as Debian version ``a`` sorts before, with or after ``b``."""
    (ea, ua, ra), (eb, ub, rb) = _split(a), _split(b)
    if ea != eb:
        return ea - eb
    return _compare_part(ua, ub) or _compare_part(ra, rb)


def _python_compare(a: str, b: str) -> int | None:
    try:
        va, vb = Version(a), Version(b)
    except InvalidVersion:
        return None
    return (va > vb) - (va < vb)


# -- the comparison ---------------------------------------------------------------------------


def _changes(
    ecosystem: Literal["python", "debian"], old: Mapping[str, str], new: Mapping[str, str]
) -> list[Change]:
    changes = []
    for name in sorted(set(old) | set(new)):
        before, after = old.get(name), new.get(name)
        if before == after:
            continue
        if before is None or after is None:
            kind: Kind = "added" if before is None else "removed"
        else:
            order = (
                debian_compare(before, after)
                if ecosystem == "debian"
                else _python_compare(before, after)
            )
            kind = "changed" if order is None else "upgraded" if order < 0 else "downgraded"
        changes.append(Change(ecosystem, name, kind, before, after))
    return changes


def compare(a: Contents, b: Contents) -> list[Change]:
    """Every package that differs from ``a`` to ``b``: Dask's (in distributed's order) first,
    then the other Python packages, then Debian's, each by name."""
    python = _changes("python", a.python, b.python)
    dask = sorted((c for c in python if c.dask), key=lambda c: DASK_PACKAGES.index(c.name))
    return list(
        itertools.chain(
            dask, (c for c in python if not c.dask), _changes("debian", a.debian, b.debian)
        )
    )


KINDS: tuple[Kind, ...] = ("added", "removed", "upgraded", "downgraded", "changed")


@dataclass(frozen=True)
class RoleChanges:
    role: str
    old: str
    new: str
    changes: list[Change] | None  # None: the old image is gone from the engine


def pair_changes(old: Sequence[str], new: Sequence[str], docker: Engine) -> list[RoleChanges]:
    """What changes from pair ``old`` to pair ``new`` (worker, singleuser), role by role; an
    unchanged reference is no change, without reading either image."""
    found = []
    for role, before, after in zip(ROLES, old, new, strict=True):
        changes: list[Change] | None = []
        if before != after:
            changes = (
                None
                if docker.image(before) is None
                else compare(contents(before, docker), contents(after, docker))
            )
        found.append(RoleChanges(role=role, old=before, new=after, changes=changes))
    return found


def counts(changes: list[Change]) -> dict[str, int]:
    return {kind: sum(change.kind == kind for change in changes) for kind in KINDS}


def summary(changes: list[Change]) -> str:
    """``3 added, 1 upgraded``: the counts that are not zero."""
    return ", ".join(f"{n} {kind}" for kind, n in counts(changes).items() if n) or "no change"


# -- what A and B name ------------------------------------------------------------------------


def _lock_file(path: Path) -> Contents:
    text = path.read_text(encoding="utf-8")
    try:
        pins = parse_requirements(text, source=str(path)).pins
    except LockError:
        try:
            return Contents(str(path), {}, parse_debian(text, source=str(path)))
        except LockError:
            raise ConfigError(
                f"{path}: neither a Python lock (name==version --hash) nor Debian pins "
                f"(name=version); give a lock file or an image"
            ) from None
    return Contents(str(path), {name: version for name, (version, _) in pins.items()}, {})


def _image(reference: str, docker: Engine) -> Contents:
    check_reference(reference, what="afenv diff")
    docker.require_image(reference, hint="give a lock file, or an image this engine has")
    files = docker.read_from_image(reference, MANIFEST_DIR)
    try:
        python = {entry["name"]: entry["version"] for entry in json.loads(files["python.json"])}
        debian = parse_debian(files["debian.txt"].decode(), source=f"{reference} manifest")
    except (KeyError, ValueError, TypeError, LockError):
        raise ConfigError(
            f"image {reference}: no readable afenv manifest in {MANIFEST_DIR}; "
            f"`afenv diff` compares afenv images and lock files"
        ) from None
    return Contents(reference, python, debian)


def contents(argument: str, docker: Engine) -> Contents:
    """A lock file if ``argument`` is an existing file, else an image reference."""
    path = Path(argument)
    if path.is_file():
        return _lock_file(path)
    if "/" in argument and not any(c in argument for c in ":@") and not path.exists():
        raise ConfigError(f"{argument}: no such lock file; give a lock file or an image")
    return _image(argument, docker)

"""Is the lock behind its inputs? Digests per input section and per generated file.

``envs/lock/inputs.json`` records them when `afenv lock` writes the lock; `afenv lock --check`
recomputes them from the parsed spec and names each input that changed, and each lock file
edited by hand. Only the files afenv itself generates are ever read because of this record.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from afenv.errors import LockError
from afenv.lock.files import (
    BASE_DEBIAN_LOCK,
    BUILD_LOCK,
    CORE_LOCK,
    FACILITY_LOCK,
    FIX,
    INPUTS,
    NOTEBOOK_DEBIAN_LOCK,
    NOTEBOOK_LOCK,
    experiment_lock_files,
)
from afenv.spec import ROLES, Project

__all__ = [
    "Recorded",
    "check",
    "check_experiment",
    "digest",
    "file_digest",
    "generated_files",
    "input_digests",
    "read_recorded",
]


def digest(value: object) -> str:
    blob = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    return "sha256:" + hashlib.sha256(blob).hexdigest()


def file_digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def input_digests(project: Project) -> dict[str, str]:
    """One digest per input that a lock depends on, so drift can be named precisely."""
    facility = project.facility
    target: list[str] = [facility.index_url, facility.python.version, facility.python.platform]
    if facility.exclude_newer:
        target.append(facility.exclude_newer)
    digests = {
        "facility.target": digest(target),
        "facility.core": digest(sorted(facility.core)),
        "facility.build": digest(sorted(facility.build)),
        "facility.debian": digest([facility.debian.suite, sorted(facility.debian.packages)]),
    }
    for role in ROLES:
        digests[f"facility.roles.{role}"] = digest(sorted(facility.roles[role]))
    digests["facility.notebook_debian"] = digest(sorted(facility.notebook_debian))
    for name, experiment in sorted(project.experiments.items()):
        digests[f"images/{name}.pip"] = digest(sorted(experiment.pip))
        digests[f"images/{name}.apt"] = digest(sorted(experiment.apt))
    return digests


def generated_files(project: Project) -> set[str]:
    """Every lock file `afenv lock` writes for this project (relative paths)."""
    shared = (
        FACILITY_LOCK,
        CORE_LOCK,
        BUILD_LOCK,
        NOTEBOOK_LOCK,
        BASE_DEBIAN_LOCK,
        NOTEBOOK_DEBIAN_LOCK,
    )
    files = {str(path) for path in shared}
    for name in project.experiments:
        files |= {str(p) for p in experiment_lock_files(name).values()}
    return files


def _input_label(key: str) -> str:
    if key.startswith("images/"):
        name, _, field = key.removeprefix("images/").rpartition(".")
        return f"images/{name}/experiment.toml [packages] {field}"
    return "envs/facility.toml " + {
        "facility.target": "[facility] index-url / exclude-newer / [python]",
        "facility.core": "[core] packages",
        "facility.build": "[build] packages",
        "facility.debian": "[debian]",
        "facility.notebook_debian": "[roles.singleuser] debian",
    }.get(key, f"[{key.removeprefix('facility.')}] packages")


@dataclass(frozen=True, kw_only=True)
class Recorded:
    """What inputs.json says, checked for shape."""

    inputs: Mapping[str, str]
    files: Mapping[str, str]
    mirror: str | None


def read_recorded(project: Project) -> Recorded | None:
    path = project.root / INPUTS
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise LockError(f"{path}: damaged (not the JSON `afenv lock` writes); {FIX}") from None
    if not isinstance(data, dict):
        raise LockError(f"{path}: damaged (not a JSON object); {FIX}")
    inputs, files, mirror = data.get("inputs"), data.get("files"), data.get("mirror")
    if not (
        isinstance(inputs, dict)
        and isinstance(files, dict)
        and _str_map(inputs)
        and _str_map(files)
        and (mirror is None or isinstance(mirror, str))
    ):
        raise LockError(f"{path}: damaged (unexpected fields or types); {FIX}")
    return Recorded(inputs=inputs, files=files, mirror=mirror)


def _str_map(value: object) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )


def check(project: Project) -> list[str]:
    """Reasons the lock is behind its inputs (empty: up to date). Reads files only."""
    return [text for _, text in _problems(project)]


def check_experiment(project: Project, name: str) -> list[str]:
    """The reasons that concern experiment ``name``: its own inputs and lock files, and every
    facility-wide one (its images are built from those too)."""
    return [text for scope, text in _problems(project) if scope in (None, name)]


def _problems(project: Project) -> list[tuple[str | None, str]]:
    """(experiment the reason concerns, or None for the whole facility; the reason)."""
    recorded = read_recorded(project)
    if recorded is None:
        return [(None, f"{INPUTS} missing: the project was never locked")]
    problems: list[tuple[str | None, str]] = []
    current = input_digests(project)
    old = recorded.inputs
    for key in sorted(set(current) | set(old)):
        scope = _key_scope(key)
        if key not in old:
            problems.append((scope, f"{_input_label(key)}: new since the lock"))
        elif key not in current:
            problems.append((scope, f"{key[:60]}: removed since the lock"))
        elif old[key] != current[key]:
            problems.append((scope, f"{_input_label(key)}: changed since the lock"))
    known = generated_files(project)
    owners = {
        str(path): name
        for name in project.experiments
        for path in experiment_lock_files(name).values()
    }
    for relative, recorded_digest in sorted(recorded.files.items()):
        if relative not in known:
            # Never follow a path the record names unless afenv writes that file itself.
            problems.append((None, f"{INPUTS}: names {relative[:60]!r}, which is no lock file"))
            continue
        file_path = project.root / relative
        scope = owners.get(relative)
        if not file_path.is_file() or file_path.is_symlink():
            problems.append((scope, f"{relative}: missing"))
        elif file_digest(file_path.read_text(encoding="utf-8", errors="replace")) != (
            recorded_digest
        ):
            problems.append((scope, f"{relative}: edited by hand since the lock"))
    for relative in sorted(known - set(recorded.files)):
        problems.append((owners.get(relative), f"{relative}: not written by the last `afenv lock`"))
    return problems


def _key_scope(key: str) -> str | None:
    if key.startswith("images/"):
        return key.removeprefix("images/").rpartition(".")[0]
    return None

"""`afenv verify IMAGE`: an image (built here or pulled) against the lock it claims to be from.

Its labels name the experiment and role; the project's lock for them is compared with the
manifest inside the image, with what Python really has installed there, and with the Debian
packages installed. Any difference is named; nothing is written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from afenv import engine
from afenv.build.plan import MANIFEST_DIR, lock_digest
from afenv.engine import Engine, check_reference
from afenv.errors import ConfigError
from afenv.lock import LockSet, load_locks
from afenv.spec import Project

__all__ = ["Verification", "differences", "verify_image"]

# The versions probe prints every installed distribution when asked for "installed".
_PROBE = Path(str(resources.files("afenv.validate") / "probes" / "versions_probe.py"))


@dataclass(frozen=True, kw_only=True)
class Verification:
    reference: str
    experiment: str
    role: str
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, object]:
        return {
            "image": self.reference,
            "experiment": self.experiment,
            "role": self.role,
            "ok": self.ok,
            "problems": list(self.problems),
        }


def differences(
    *,
    locks: LockSet,
    role: str,
    label_digest: str | None,
    manifest: list[Mapping[str, str]],
    installed: Mapping[str, str],
    debian: Mapping[str, str],
) -> list[str]:
    """What differs between an image's contents and the lock (pure)."""
    pins = locks.role(role).pins
    problems = []
    expected_digest = lock_digest(locks.role(role))
    if label_digest != expected_digest:
        problems.append(f"built from another lock (label {label_digest}, lock {expected_digest})")
    listed = {e["name"]: (e["version"], e["sha256"]) for e in manifest}
    for name in sorted(set(pins) | set(listed)):
        if pins.get(name) != listed.get(name):
            problems.append(
                f"manifest {name}: {_pin(listed.get(name))} vs lock {_pin(pins.get(name))}"
            )
    # Debian's venv brings pip; the probe adds the interpreter's own version as "python".
    inside = {n: v for n, v in installed.items() if n not in {"pip", "python"}}
    for name in sorted(set(inside) | set(listed)):
        expected = listed.get(name, ("-", ""))[0]
        if inside.get(name, "-") != expected:
            problems.append(f"installed {name}: {inside.get(name, '-')} vs manifest {expected}")
    expected_debian = {**locks.debian_base, **locks.debian_experiment}
    if role == "singleuser":
        expected_debian |= locks.debian_notebook
    for name, version in sorted(expected_debian.items()):
        if debian.get(name) != version:
            problems.append(f"debian {name}: {debian.get(name, '-')} vs lock {version}")
    return problems


def _pin(pin: tuple[str, str] | None) -> str:
    return "-" if pin is None else f"{pin[0]} ({pin[1][:12]}…)"


def verify_image(project: Project, reference: str, docker: Engine) -> Verification:
    check_reference(reference, what="afenv verify")
    image = docker.require_image(reference, hint="build it, or pull it into this engine first")
    experiment_name = image.labels.get(engine.EXPERIMENT)
    role = image.labels.get(engine.ROLE)
    if not experiment_name or role not in {"worker", "singleuser"}:
        raise ConfigError(f"image {reference} has no afenv experiment and role labels")
    experiment = project.experiment(experiment_name)
    locks = load_locks(project, experiment)
    files = docker.read_from_image(reference, MANIFEST_DIR)
    try:
        manifest = json.loads(files["python.json"])
        debian = dict(
            line.split("=", 1) for line in files["debian.txt"].decode().splitlines() if "=" in line
        )
    except (KeyError, ValueError):
        return Verification(
            reference=reference,
            experiment=experiment_name,
            role=role,
            problems=(f"no readable manifest in {MANIFEST_DIR}",),
        )
    result = docker.run(
        reference,
        ["/opt/afenv/venv/bin/python", "-c", _PROBE.read_text(), "installed"],
        timeout=120,
        purpose="verify",
    )
    try:
        installed = json.loads(result.stdout)
    except json.JSONDecodeError:
        installed = {}
    problems = differences(
        locks=locks,
        role=role,
        label_digest=image.labels.get(engine.PREFIX + "lock-digest"),
        manifest=manifest,
        installed=installed,
        debian=debian,
    )
    return Verification(
        reference=reference, experiment=experiment_name, role=role, problems=tuple(problems)
    )

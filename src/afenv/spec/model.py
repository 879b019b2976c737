"""The parsed spec: frozen dataclasses that every later stage receives instead of the files."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from afenv.errors import ConfigError

__all__ = [
    "ROLES",
    "BenchmarkSpec",
    "DebianSpec",
    "Experiment",
    "Facility",
    "KernelOffer",
    "Project",
    "PythonSpec",
    "ResourcesSpec",
    "memory_bytes",
]

# Layer order: singleuser is built on top of worker, so worker comes first.
ROLES: tuple[str, ...] = ("worker", "singleuser")

PLATFORM_RE = re.compile(r"^x86_64-manylinux_2_(\d+)$")
# jupyterhub's ByteSpecification: the memory suffixes KubeSpawner accepts, powers of 1024.
MEMORY_UNITS: Mapping[str, int] = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


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
        match = PLATFORM_RE.match(self.platform)
        assert match, self.platform  # checked at load time
        return (2, int(match.group(1)))


@dataclass(frozen=True, kw_only=True)
class Facility:
    name: str
    index_url: str
    exclude_newer: str | None  # uv --exclude-newer: the lock is then a function of the spec
    debian: DebianSpec
    python: PythonSpec
    core: tuple[str, ...]
    build: tuple[str, ...]  # installers for the build stages only (uv), never in an image
    roles: Mapping[str, tuple[str, ...]]
    # Debian packages of the notebook layer only (pandoc for JupyterLab's exports): workers
    # never carry them; what every image needs is [debian] packages.
    notebook_debian: tuple[str, ...] = ()
    source: Path


@dataclass(frozen=True, kw_only=True)
class BenchmarkSpec:
    """Size of the Ds sample; these defaults serve experiments that set none and foreign pairs."""

    events: int = 200_000
    files: int = 4
    seed: int = 1


@dataclass(frozen=True, kw_only=True)
class KernelOffer:
    """A Jupyter kernel the notebook image offers only where CVMFS has the stack: at start-up,
    if ``setup`` exists, a kernel that sources it and runs the stack's own ``python3``."""

    name: str
    display_name: str
    setup: str  # /cvmfs/<repository>/…/setup.sh; the repository is one of the experiment's

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "display_name": self.display_name, "setup": self.setup}


@dataclass(frozen=True, kw_only=True)
class ResourcesSpec:
    """A notebook pod's share of a node, in KubeSpawner's units (cores; "2G" sizes); these
    defaults serve experiments that set none. Not a lock input: changing them rebuilds nothing."""

    cpu_guarantee: float = 1.0
    cpu_limit: float = 2.0
    mem_guarantee: str = "2G"
    mem_limit: str = "4G"


def memory_bytes(size: str) -> float:
    """A size the ``memory`` grammar accepted ("512M", "1.5G"), in bytes as KubeSpawner counts."""
    return float(size[:-1]) * MEMORY_UNITS[size[-1]]


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
    resources: ResourcesSpec
    directory: Path
    notebooks: tuple[Path, ...] = ()  # images/<exp>/notebooks/*.ipynb, run by validation
    checks: tuple[Path, ...] = ()  # images/<exp>/checks/*.py, pytest run by validation
    kernels: tuple[KernelOffer, ...] = ()  # [kernels.NAME]: offered where CVMFS has them

    @property
    def source(self) -> Path:
        return self.directory / "experiment.toml"

    @property
    def lock_dir(self) -> Path:
        return self.directory / "lock"


@dataclass(frozen=True, kw_only=True)
class Project:
    """A facility repository: envs/ and images/, optionally templates/ overriding afenv's."""

    root: Path
    facility: Facility
    experiments: Mapping[str, Experiment]

    @property
    def templates(self) -> Path:
        return self.root / "templates"

    @property
    def state_dir(self) -> Path:
        return self.root / ".afenv"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    def experiment(self, name: str) -> Experiment:
        try:
            return self.experiments[name]
        except KeyError:
            known = ", ".join(sorted(self.experiments)) or "none"
            shown = name if len(name) <= 40 else name[:37] + "..."
            raise ConfigError(
                f"unknown experiment {shown!r}: known experiments are {known} "
                f"(each is a folder images/<name>/ with an experiment.toml)"
            ) from None

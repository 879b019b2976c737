"""What each command can be asked, with every default defined once.

The CLI maps its arguments onto these frozen dataclasses and takes its help texts' defaults
from them; the pipeline receives them typed. Bounds are checked here, once, for every caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from afenv.errors import ConfigError
from afenv.spec.grammar import RULES

__all__ = [
    "MAX_CONTAINER_LIFETIME",
    "MODES",
    "BenchOptions",
    "BuildOptions",
    "ClusterOptions",
    "GridOptions",
]

# Every container afenv starts ends by itself after this long, even if afenv is killed outright.
MAX_CONTAINER_LIFETIME = 3 * 3600
# The Ds benchmark's modes, in the order they run.
MODES: tuple[str, ...] = ("local", "dask", "legacy")
MAX_WORKERS = 64  # this is one machine's engine, not a cluster
MAX_EVENTS = 1_000_000_000


def _bounded(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise ConfigError(f"{name}: {value} is out of range; use {low} to {high}")


def _host_directory(option: str, path: Path | None, hint: str) -> Path | None:
    if path is None:
        return None
    resolved = path.expanduser().resolve()
    if not resolved.is_dir():
        raise ConfigError(f"{option}: {path} is not a directory; {hint}")
    if not RULES["host_path"].accepts(str(resolved)):
        raise ConfigError(f"{option}: {resolved} must be {RULES['host_path'].says}")
    return resolved


@dataclass(frozen=True, kw_only=True)
class GridOptions:
    """Host grid resources given to every container of the cluster (all read-only)."""

    cvmfs: Path | None = None  # bound at /cvmfs
    ca_dir: Path | None = None  # bound at /etc/grid-security/certificates
    proxy: Path | None = None  # copied (0600, uid 1000) to the client's /tmp/x509up_u1000

    def __post_init__(self) -> None:
        from afenv_runtime.proxy import ProxyError, check_proxy

        cvmfs = _host_directory("--cvmfs", self.cvmfs, "give the host's CVMFS mount, e.g. /cvmfs")
        ca_dir = _host_directory(
            "--ca-dir",
            self.ca_dir,
            "give a hashed CA directory, e.g. /etc/grid-security/certificates",
        )
        object.__setattr__(self, "cvmfs", cvmfs)
        object.__setattr__(self, "ca_dir", ca_dir)
        if self.proxy is not None:
            try:
                check_proxy(self.proxy)
            except ProxyError as error:
                raise ConfigError(f"--proxy: {error}") from None


@dataclass(frozen=True, kw_only=True)
class ClusterOptions:
    """The container cluster of `afenv validate` and `afenv bench`."""

    workers: int = 2
    registration_timeout: int = 180  # seconds a worker may take to register
    # Validation phases at once (afenv.validate.schedule): two fill the idle time of two cores;
    # 1 runs them one after the other.
    lanes: int = 2
    grid: GridOptions = field(default_factory=GridOptions)

    def __post_init__(self) -> None:
        _bounded("--workers", self.workers, 1, MAX_WORKERS)
        _bounded("--registration-timeout", self.registration_timeout, 1, 3600)
        _bounded("--lanes", self.lanes, 1, 8)


@dataclass(frozen=True, kw_only=True)
class BuildOptions:
    refresh_base: bool = False
    validate: bool = True
    cluster: ClusterOptions = field(default_factory=ClusterOptions)


@dataclass(frozen=True, kw_only=True)
class BenchOptions:
    modes: tuple[str, ...] = MODES
    events: int | None = None  # None: the experiment's setting
    files: int | None = None
    seed: int | None = None
    report: Path | None = None  # None: reports/<exp>/bench-<time>
    cluster: ClusterOptions = field(default_factory=ClusterOptions)

    def __post_init__(self) -> None:
        unknown = [mode for mode in self.modes if mode not in MODES]
        if unknown or not self.modes:
            raise ConfigError(f"--modes: unknown mode(s) {unknown}; use {', '.join(MODES)}")
        if self.events is not None:
            _bounded("--events", self.events, 1000, MAX_EVENTS)
        if self.files is not None:
            _bounded("--files", self.files, 1, 1000)
        if self.seed is not None:
            _bounded("--seed", self.seed, 0, 2**31 - 1)

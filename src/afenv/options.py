"""What each command can be asked, with every default defined once.

The CLI maps its arguments onto these frozen dataclasses and takes its help texts' defaults
from them; the pipeline receives them typed. Bounds are checked here, once, for every caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from afenv.errors import ConfigError

__all__ = [
    "MAX_CONTAINER_LIFETIME",
    "MODES",
    "BenchOptions",
    "BuildOptions",
    "ClusterOptions",
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


@dataclass(frozen=True, kw_only=True)
class ClusterOptions:
    """The container cluster of `afenv validate` and `afenv bench`."""

    workers: int = 2
    registration_timeout: int = 180  # seconds a worker may take to register

    def __post_init__(self) -> None:
        _bounded("--workers", self.workers, 1, MAX_WORKERS)
        _bounded("--registration-timeout", self.registration_timeout, 1, 3600)


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

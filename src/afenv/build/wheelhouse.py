"""Host-side, content-addressed wheel cache.

Locked wheels are downloaded once, on the host (which trusts the site's TLS proxy), checked
against the sha256 the lock records, and stored under their hash. Build contexts take the files
from here, so the worker and singleuser images install the very same bytes and no build step
needs the network.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from afenv.hostnet import download
from afenv.lock import LockedWheel

__all__ = ["Wheelhouse"]

_PARALLEL_DOWNLOADS = 4


class Wheelhouse:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, wheel: LockedWheel) -> Path:
        return self.root / "sha256" / wheel.sha256[:2] / wheel.sha256 / wheel.filename

    def has(self, wheel: LockedWheel) -> bool:
        path = self.path(wheel)
        # Files only ever appear here after their hash was checked (see hostnet.download);
        # the size guards against a truncated copy made by other means.
        return path.is_file() and (wheel.size == 0 or path.stat().st_size == wheel.size)

    def ensure(
        self,
        wheels: Iterable[LockedWheel],
        env: Mapping[str, str],
        report: Callable[[str], None] = lambda _: None,
    ) -> dict[str, Path]:
        """Paths of every wheel by sha256, downloading the missing ones."""
        wanted = {w.sha256: w for w in wheels}
        missing = [w for w in wanted.values() if not self.has(w)]
        if missing:
            total = sum(w.size for w in missing)
            report(f"downloading {len(missing)} wheels ({total / 1e6:.0f} MB) into {self.root}")
            with ThreadPoolExecutor(_PARALLEL_DOWNLOADS) as pool:
                # list() re-raises the first download error here, in the caller's thread.
                list(pool.map(lambda w: download(w.url, self.path(w), w.sha256, env), missing))
        return {sha: self.path(w) for sha, w in wanted.items()}

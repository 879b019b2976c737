"""Host-side, content-addressed wheel cache.

Locked wheels are downloaded once, on the host (which trusts the site's TLS proxy), checked
against the sha256 the lock records, and stored under their hash. Build contexts take the files
from here, so the worker and singleuser images install the very same bytes and no build step
needs the network.
"""

from __future__ import annotations

import hashlib
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

    def intact(self, wheel: LockedWheel) -> bool:
        """The cached file is there and still has the locked hash.

        Files only ever appear here after their hash was checked (see hostnet.download), but a
        disk, a backup tool or a person can still truncate or damage one later: a build reads
        every byte it sends anyway, so it checks them here once more.
        """
        path = self.path(wheel)
        if not path.is_file() or path.is_symlink():
            return False
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
        return digest.hexdigest() == wheel.sha256

    def ensure(
        self,
        wheels: Iterable[LockedWheel],
        env: Mapping[str, str],
        report: Callable[[str], None] = lambda _: None,
    ) -> dict[str, Path]:
        """Paths of every wheel by sha256, intact: missing or damaged ones are downloaded."""
        wanted = {w.sha256: w for w in wheels}
        missing = []
        for wheel in wanted.values():
            if self.intact(wheel):
                continue
            if self.path(wheel).exists():
                report(f"cached {wheel.filename} does not match its sha256; downloading it again")
                self.path(wheel).unlink()
            missing.append(wheel)
        if missing:
            total = sum(w.size for w in missing)
            report(f"downloading {len(missing)} wheels ({total / 1e6:.0f} MB) into {self.root}")
            with ThreadPoolExecutor(_PARALLEL_DOWNLOADS) as pool:
                # list() re-raises the first download error here, in the caller's thread.
                list(pool.map(lambda w: download(w.url, self.path(w), w.sha256, env), missing))
        return {sha: self.path(w) for sha, w in wanted.items()}

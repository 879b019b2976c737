"""afenv's small on-disk state: built and validated images, promoted tags, pushed digests.

A Docker label cannot change after a build, so what we learn later (validation results,
promotion) lives here, in ``<project>/.afenv/state.json``, written atomically. A damaged file
is one line naming it and the fix, never a traceback.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from afenv.errors import ConfigError

__all__ = ["State"]

# previous: experiment -> the pair promoted before the current one (the catalogue's diff).
_SECTIONS = ("images", "promoted", "pairs", "pushed", "previous")


class State:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / "state.json"

    def load(self) -> dict[str, Any]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {section: {} for section in _SECTIONS}
        except (OSError, UnicodeDecodeError):
            raise self._damaged("cannot be read") from None
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, RecursionError):
            raise self._damaged("is not JSON") from None
        if not isinstance(data, dict):
            raise self._damaged("is not a JSON object")
        for section in _SECTIONS:
            data.setdefault(section, {})
            if not isinstance(data[section], dict) or not all(
                isinstance(v, (dict, list)) for v in data[section].values()
            ):
                raise self._damaged(f"has a malformed {section!r} section")
        return data

    def _damaged(self, problem: str) -> ConfigError:
        return ConfigError(
            f"{self.path}: {problem}; delete it (afenv forgets validation results and promotions, "
            f"images stay) or restore it from a backup"
        )

    def save(self, data: dict[str, Any]) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise ConfigError(f"{self.directory}: is not a folder; remove it") from None
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed by the with below)
            "w", dir=self.directory, prefix=".state-", suffix=".json", delete=False
        )
        with handle:
            json.dump(data, handle, indent=2, sort_keys=True)
        Path(handle.name).replace(self.path)  # readers see the old or the new state, never half

    @contextlib.contextmanager
    def update(self) -> Iterator[dict[str, Any]]:
        """Load, let the caller change, save: one process at a time (a build and a validation
        in two terminals both record results), so no update is lost."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise ConfigError(f"{self.directory}: is not a folder; remove it") from None
        with (self.directory / "state.lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                data = self.load()
                yield data
                self.save(data)
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def record_image(self, reference: str, **fields: Any) -> None:
        with self.update() as data:
            entry = data["images"].setdefault(reference, {})
            if not isinstance(entry, dict):
                raise self._damaged(f"has a malformed entry for {reference}")
            entry.update(fields)

"""afenv's small on-disk state: built and validated images, promoted tags.

A Docker label cannot change after a build, so what we learn later (validation results,
promotion) lives here, in ``<project>/.afenv/state.json``, written atomically.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["State"]


class State:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / "state.json"

    def load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {"images": {}, "promoted": {}}
        data.setdefault("images", {})
        data.setdefault("promoted", {})
        return data

    def save(self, data: dict[str, Any]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed by the with below)
            "w", dir=self.directory, prefix=".state-", suffix=".json", delete=False
        )
        with handle:
            json.dump(data, handle, indent=2, sort_keys=True)
        Path(handle.name).replace(self.path)  # readers see the old or the new state, never half

    def record_image(self, reference: str, **fields: Any) -> None:
        data = self.load()
        data["images"].setdefault(reference, {}).update(fields)
        self.save(data)

    def image(self, reference: str) -> dict[str, Any]:
        return self.load()["images"].get(reference, {})

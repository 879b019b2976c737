"""Shared fixtures and the opt-in tiers.

Unit tests (tests/unit) need neither Docker nor network. Image tests (tests/images, marker
``docker``) need a Docker engine and build real images; they are sorted last and run in CI.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Image tests are slow: let the fast tiers fail first. Hub tests last: the hub offers every
    # pair validated by then, and validating fcc earlier would change what the push tests see
    # (they push fcc's pair before it was ever validated).
    items.sort(
        key=lambda item: (
            item.get_closest_marker("docker") is not None,
            item.get_closest_marker("hub") is not None,
        )
    )


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """A writable copy of the reference facility repository (spec and lock files)."""
    for name in ("envs", "images"):
        shutil.copytree(ROOT / name, tmp_path / name)
    return tmp_path

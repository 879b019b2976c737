"""`afenv verify IMAGE`: the built pair matches its lock; a changed image is named with what
changed."""

from __future__ import annotations

import json

import pytest

from .conftest import afenv

pytestmark = pytest.mark.docker


def test_the_built_pair_matches_its_lock(cms_images) -> None:  # type: ignore[no-untyped-def]
    references = [cms_images[role]["reference"] for role in ("worker", "singleuser")]
    result = afenv("verify", *references, "--json")
    assert result.returncode == 0, result.stderr
    assert [r["ok"] for r in json.loads(result.stdout)] == [True, True]


def test_an_image_with_another_package_differs(mismatched_worker: str) -> None:
    result = afenv("verify", mismatched_worker)
    assert result.returncode == 7, result.stdout + result.stderr
    assert "installed toolz: 1.1.0 vs manifest" in result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"afenv: error: {mismatched_worker} differs from its lock")

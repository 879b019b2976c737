"""`afenv verify IMAGE`: the built pair matches its lock; a changed image is named with what
changed."""

from __future__ import annotations

import json

import pytest

from .conftest import ROOT, afenv

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


def test_diff_of_the_pairs_images_is_the_notebook_layer(cms_images) -> None:  # type: ignore[no-untyped-def]
    """Worker to singleuser: only additions (the notebook layer), pandoc among Debian's; the
    image's manifest says the same as the locks."""
    worker, singleuser = cms_images["worker"]["reference"], cms_images["singleuser"]["reference"]
    images = afenv("diff", worker, singleuser, "--json")
    assert images.returncode == 0, images.stderr
    changes = json.loads(images.stdout)["changes"]
    kinds = {change["kind"] for change in changes}
    assert kinds == {"added"}
    added = {(change["ecosystem"], change["name"]) for change in changes}
    assert {("python", "jupyterlab"), ("python", "dask-kubernetes"), ("debian", "pandoc")} <= added
    lock = ROOT / "images/cms/lock"
    locks = afenv("diff", str(lock / "worker.txt"), str(lock / "singleuser.txt"), "--json")
    python = {c["name"] for c in json.loads(locks.stdout)["changes"]}
    assert python == {name for ecosystem, name in added if ecosystem == "python"}

"""Two `afenv build cms` at once on one engine (two terminals, two CI jobs), and a validation
beside them: one consistent pair, an intact wheelhouse, nothing left half-done."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import docker
import pytest

from afenv.build import Wheelhouse
from afenv.build.render import PACKAGED
from afenv.lock import load_locks
from afenv.pipeline import cache_dir
from afenv.spec import load_project

from .conftest import ROOT

pytestmark = pytest.mark.docker


def _start(project: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "afenv.cli", "--project", str(project), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _remove_pair(client: docker.DockerClient, references: dict[str, str]) -> None:
    for role in ("singleuser", "worker"):  # the notebook image sits on the worker image
        if role in references and client.images.list(name=references[role]):
            for tag in client.images.get(references[role]).tags:
                client.images.remove(tag)


@pytest.mark.usefixtures("cms_images")
def test_two_builds_and_a_validation_at_once(
    client: docker.DockerClient, project_copy: Path
) -> None:
    # A changed worker file: both builds have real work to do (the worker's role layer and
    # the notebook layer above it), not a no-op.
    overrides = project_copy / "templates/files"
    overrides.mkdir(parents=True)
    (overrides / "afenv-bench").write_text(
        (PACKAGED / "files/afenv-bench").read_text() + "# concurrency test\n"
    )
    builds = [_start(project_copy, "build", "cms", "--no-validate", "--json") for _ in range(2)]
    validation = _start(ROOT, "validate", "cms", "--json")
    outputs = [process.communicate(timeout=3000) for process in (*builds, validation)]
    results = [json.loads(out) if out else {} for out, _ in outputs]
    references = {i["role"]: i["reference"] for r in results[:2] for i in r.get("images", [])}
    try:
        for process, (_, stderr) in zip((*builds, validation), outputs, strict=True):
            assert process.returncode == 0, stderr[-2000:]
        by_role = [{i["role"]: i for i in r["images"]} for r in results[:2]]
        for role in ("worker", "singleuser"):
            assert by_role[0][role]["reference"] == by_role[1][role]["reference"]
            assert by_role[0][role]["id"] == by_role[1][role]["id"]
        # One built the pair; the other waited its turn and found it built.
        assert sorted(i["built"] for r in results[:2] for i in r["images"]) == [
            False,
            False,
            True,
            True,
        ]
        assert not client.images.list(name="afenv-staging/*")
        assert results[2]["passed"] is True
        # The wheelhouse both used is intact: every wheel still has its locked hash.
        project = load_project(ROOT)
        locks = load_locks(project, project.experiment("cms"))
        house = Wheelhouse(cache_dir(os.environ) / "wheels")
        by_hash = locks.facility.by_hash()
        assert all(house.intact(by_hash[sha]) for _, sha in locks.singleuser.pins.values())
    finally:
        _remove_pair(client, references)

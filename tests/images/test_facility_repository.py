"""afenv as a facility admin gets it: a plain install of the built wheel (not this checkout) and
a facility repository scaffolded by `afenv init` outside the checkout. `afenv lock` and
`afenv build` run there and the pair validates; then, with the wheel cache emptied and the
network closed, `afenv validate` still runs: it needs no download."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from afenv.testing.xrootd import free_port

from .conftest import ROOT

pytestmark = pytest.mark.docker


def _run(command: list[str], *, env: dict[str, str] | None = None, timeout: float = 3600) -> str:
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, check=False, env=env
    )
    assert result.returncode == 0, f"{command}: {result.stderr[-3000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def installed_afenv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`afenv` from a wheel built from this checkout, installed into a fresh venv."""
    work = tmp_path_factory.mktemp("wheel")
    uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    _run([uv, "build", "--wheel", "--out-dir", str(work / "dist"), str(ROOT)])
    (wheel,) = (work / "dist").glob("afenv-*.whl")
    _run([uv, "venv", "--quiet", "--python", sys.executable, str(work / "venv")])
    _run([uv, "pip", "install", "--quiet", "--python", str(work / "venv/bin/python"), str(wheel)])
    afenv = work / "venv/bin/afenv"
    # The install is a plain one: its code lives in the venv, not in this checkout.
    located = _run(
        [str(work / "venv/bin/python"), "-c", "import afenv, afenv_bench; print(afenv.__file__)"]
    )
    assert str(ROOT) not in located
    assert str(work / "venv") in located
    return afenv


@pytest.fixture(scope="module")
def facility(
    installed_afenv: Path, tmp_path_factory: pytest.TempPathFactory, client: docker.DockerClient
) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("facility") / "test-af"
    _run([str(installed_afenv), "init", str(root), "--experiment", "demo"])
    yield root
    # The notebook image sits on the worker image: remove it first.
    for repository in ("afenv/demo-singleuser", "afenv/demo-worker"):
        for image in client.images.list(name=repository):
            for tag in image.tags:
                client.images.remove(tag)


def test_a_scaffolded_repository_locks_builds_and_validates(
    installed_afenv: Path, facility: Path
) -> None:
    assert sorted(p.name for p in facility.iterdir()) == [
        ".gitignore",
        "README.md",
        "envs",
        "images",
    ]
    afenv = [str(installed_afenv), "--project", str(facility)]
    _run([*afenv, "lock", "-q"])
    assert (facility / "images/demo/lock/singleuser.txt").is_file()
    _run([*afenv, "lock", "--check"])

    document = json.loads(_run([*afenv, "build", "demo", "--json"]))
    assert {image["role"] for image in document["images"]} == {"worker", "singleuser"}
    validation = document["validation"]
    assert validation["passed"] is True
    assert validation["experiment"] == "demo"
    assert validation["checks"]["image.test_manifest_equals_lock[singleuser]"]["status"] == "passed"

    # With no wheel cache and every HTTP(S) connection sent to a closed port, validation runs
    # all the same: the pair's identity comes from the lock, the templates and the base image.
    empty_cache = facility.parent / "empty-cache"
    empty_cache.mkdir()
    closed = f"http://127.0.0.1:{free_port()}"
    offline = {k: v for k, v in os.environ.items() if k.lower() != "no_proxy"}
    offline |= {
        "AFENV_CACHE": str(empty_cache),
        **{name: closed for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")},
        **{name.lower(): closed for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")},
    }
    # The premise: afenv reaches no index like this (uv, as the wheel downloads, goes through
    # the proxies that the environment names).
    blocked = subprocess.run(
        [*afenv, "lock"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=offline,
    )
    assert blocked.returncode == 4, blocked.stderr
    assert "cannot reach the index" in blocked.stderr

    again = json.loads(_run([*afenv, "validate", "demo", "--json"], env=offline))
    assert again["passed"] is True
    assert again["images"] == validation["images"]
    assert list(empty_cache.iterdir()) == []

"""Image tests: the real engine, real images, real containers.

The cms pair is built once per session through the real CLI (a no-op when the content-hash tags
exist already). Every container a test starts is labelled, wrapped in `timeout`, and removed even
when the test fails; the session ends by checking that nothing afenv-labelled is left running.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest

from afenv import engine
from afenv.cluster import Cluster, start_cluster
from afenv.engine import Engine
from afenv.hostnet import download
from afenv.hub.pairs import Pair, collect_pairs
from afenv.spec import load_project
from afenv.state import State
from afenv.testing import gsi

ROOT = Path(__file__).resolve().parents[2]
# The tests' own containers carry run labels like afenv's, so the leak check covers them too.
LABELS = {engine.RUN: "tests", engine.OWNER: "afenv tests", engine.PURPOSE: "test"}
# Images the tests build: like every image, never a run label.
IMAGE_LABELS = {"io.afenv.test-image": "true"}


@dataclass(frozen=True)
class Result:
    exit_code: int
    stdout: str
    stderr: str


def afenv(
    *args: str, timeout: float = 3600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The real CLI on the repository's project; ``env`` adds to this process's environment."""
    return subprocess.run(
        [sys.executable, "-m", "afenv.cli", "--project", str(ROOT), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="session")
def client() -> Iterator[docker.DockerClient]:
    client = docker.from_env(timeout=600)
    yield client
    leaked = client.containers.list(all=True, filters={"label": engine.RUN})
    networks = client.networks.list(filters={"label": engine.RUN})
    client.close()
    assert not leaked, f"afenv containers left behind: {[c.name for c in leaked]}"
    assert not networks, f"afenv networks left behind: {[n.name for n in networks]}"


@pytest.fixture(scope="session")
def cms_images(client: docker.DockerClient) -> dict[str, dict[str, object]]:  # noqa: ARG001
    # (client: so that the leak check runs after every test that uses the images)
    """role -> build result of `afenv build cms` (built for real on the first run)."""
    result = afenv("build", "cms", "--no-validate", "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    return {image["role"]: image for image in json.loads(result.stdout)["images"]}


@dataclass(frozen=True)
class Validation:
    summary: dict[str, Any]  # what `afenv validate cms --json` printed
    written: dict[str, Any]  # its summary.json right after it (later validations rewrite it)


@pytest.fixture(scope="session")
def cms_validation(cms_images) -> Validation:  # type: ignore[no-untyped-def]
    """`afenv validate cms` on the session's pair (it records the result)."""
    result = afenv("validate", "cms", "--json")
    summary = json.loads(result.stdout)
    assert result.returncode == 0, json.dumps(
        {n: c for n, c in summary["checks"].items() if c["status"] == "failed"}, indent=1
    )
    key = cms_images["singleuser"]["reference"].rsplit(":", 1)[1]
    written = json.loads((ROOT / "reports" / "cms" / key / "summary.json").read_text())
    return Validation(summary=summary, written=written)


@pytest.fixture(scope="session")
def cms_validated(cms_validation: Validation) -> dict[str, Any]:
    """The summary of the session's `afenv validate cms`."""
    return cms_validation.summary


def validated_pairs() -> list[Pair]:
    """Every validated pair of the project, as `afenv hub up` offers them."""
    project = load_project(ROOT)
    state = State(project.state_dir).load()
    return collect_pairs(project, state, registry=None, include_unvalidated=False, local=True)


@pytest.fixture(scope="session")
def fcc_validated(cms_images: dict[str, Any]) -> dict[str, str]:  # noqa: ARG001 (cms's layers first)
    """A second validated pair (role -> reference): the one fcc's lock describes, validated now
    unless it already is. CI's matrix validates it before the tests; run alone, the suite must
    not depend on that (validation itself is test_validate's)."""
    built = afenv("build", "fcc", "--no-validate", "--json")
    assert built.returncode == 0, built.stderr[-3000:]
    pair = {image["role"]: image["reference"] for image in json.loads(built.stdout)["images"]}
    validated = {p.experiment: p for p in validated_pairs()}.get("fcc")
    if validated is None or (validated.worker, validated.singleuser) != (
        pair["worker"], pair["singleuser"],
    ):  # fmt: skip
        result = afenv("validate", "fcc", "--json")
        assert result.returncode == 0, result.stdout[-3000:]
    return pair


@pytest.fixture(scope="session", autouse=True)
def users_notebook(
    request: pytest.FixtureRequest, client: docker.DockerClient
) -> Iterator[str | None]:
    """A notebook server a user started from the afenv image with plain `docker run` (no
    labels of ours): nothing afenv or the suite does may touch it, and it must still run at the
    end of the session. Started once the cms pair exists."""
    if not any(item.get_closest_marker("docker") for item in request.session.items):
        yield None
        return
    images = request.getfixturevalue("cms_images")
    container = client.containers.run(images["singleuser"]["reference"], detach=True)
    try:
        yield container.id
        container.reload()
        assert container.status == "running", "a user's container from an afenv image was hit"
    finally:
        container.remove(force=True)


def run(
    client: docker.DockerClient,
    image: str,
    command: list[str],
    *,
    timeout: int = 300,
    user: str | None = None,
    binds: dict[str, str] | None = None,
    environment: dict[str, str] | None = None,
) -> Result:
    """Run ``command`` in a fresh container of ``image``; the container never outlives this.
    ``binds`` maps host directories to read-only mount points."""
    container = client.containers.run(
        image,
        ["timeout", str(timeout), *command],
        detach=True,
        labels=LABELS,
        user=user or "",
        volumes={host: {"bind": inside, "mode": "ro"} for host, inside in (binds or {}).items()},
        environment=environment or {},
    )
    try:
        status = container.wait(timeout=timeout + 30)
        stdout = container.logs(stdout=True, stderr=False).decode()
        stderr = container.logs(stdout=False, stderr=True).decode()
    finally:
        container.remove(force=True)
    return Result(status["StatusCode"], stdout, stderr)


def notebook(cells: list[str], *, kernel: str = "python3", language: str = "python") -> dict:
    """An unexecuted nbformat-4 notebook of code cells, for the kernel named."""
    return {
        "cells": [
            {"cell_type": "code", "execution_count": None, "id": f"c{index}", "metadata": {},
             "outputs": [], "source": source}
            for index, source in enumerate(cells)
        ],
        "metadata": {"kernelspec": {"name": kernel, "display_name": kernel,
                                    "language": language}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }  # fmt: skip


def build_test_image(
    client: docker.DockerClient, tag: str, dockerfile: str, files: dict[str, tuple[bytes, int]]
) -> str:
    """Build a labelled test image from a Dockerfile and a few files; returns its ID."""
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, (data, mode) in {"Dockerfile": (dockerfile.encode(), 0o644), **files}.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    image, _ = client.images.build(
        fileobj=context, custom_context=True, tag=tag, labels=IMAGE_LABELS, rm=True, forcerm=True
    )
    return str(image.id)


# The lock pins toolz 1.2.0; the mismatched worker gets this real older release.
OLD_TOOLZ = "1.1.0"


def _older_toolz_wheel(target: Path) -> Path:
    """A real, different toolz release, fetched on the host like every afenv download."""

    request = urllib.request.Request(
        "https://pypi.org/simple/toolz/",
        headers={"Accept": "application/vnd.pypi.simple.v1+json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        files = json.load(response)["files"]
    wheel = next(f for f in files if f["filename"] == f"toolz-{OLD_TOOLZ}-py3-none-any.whl")
    path = target / wheel["filename"]
    download(wheel["url"], path, wheel["hashes"]["sha256"], os.environ)
    return path


@pytest.fixture
def mismatched_worker(client: docker.DockerClient, cms_images) -> str:  # type: ignore[no-untyped-def]
    tag = "afenv-test/cms-worker-old-toolz:test"
    with tempfile.TemporaryDirectory() as tmp:
        wheel = _older_toolz_wheel(Path(tmp))
        dockerfile = (
            f"FROM {cms_images['worker']['reference']}\nUSER root\nCOPY {wheel.name} /tmp/\n"
            f"RUN /opt/afenv/venv/bin/pip install --quiet --no-index --no-deps /tmp/{wheel.name} "
            f"&& rm /tmp/{wheel.name}\nUSER 1000:100\n"
        )
        image_id = build_test_image(
            client, tag, dockerfile, {wheel.name: (wheel.read_bytes(), 0o644)}
        )
    yield tag
    client.images.remove(image_id, force=True)


@pytest.fixture
def cms_cluster(
    client: docker.DockerClient, cms_images: dict[str, dict[str, Any]], tmp_path: Path
) -> Callable[[], contextlib.AbstractContextManager[Cluster]]:
    """Starts a cluster of the built cms pair (2 workers), removed on exit, logs in tmp_path."""
    return functools.partial(
        start_cluster,
        Engine(client),
        worker_image=str(cms_images["worker"]["reference"]),
        singleuser_image=str(cms_images["singleuser"]["reference"]),
        workers=2,
        logs=tmp_path / "logs",
        purpose="test",
    )


@pytest.fixture(scope="session")
def storage_image(client: docker.DockerClient, cms_images) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The cms worker image plus Debian's XRootD server and its GSI plugin (from the mirror the
    image already uses): the facility's storage, in a container."""
    tag = "afenv-test/xrootd:test"
    dockerfile = gsi.storage_dockerfile(cms_images["worker"]["reference"])
    image_id = build_test_image(client, tag, dockerfile, {})
    yield tag
    client.images.remove(image_id, force=True)

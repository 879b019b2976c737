"""Image tests: the real engine, real images, real containers.

The cms pair is built once per session through the real CLI (a no-op when the content-hash tags
exist already). Every container a test starts is labelled, wrapped in `timeout`, and removed even
when the test fails; the session ends by checking that nothing afenv-labelled is left running.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from afenv import engine

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


def afenv(*args: str, timeout: float = 3600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "afenv.cli", "--project", str(ROOT), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
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


def run(
    client: docker.DockerClient,
    image: str,
    command: list[str],
    *,
    timeout: int = 300,
    user: str | None = None,
) -> Result:
    """Run ``command`` in a fresh container of ``image``; the container never outlives this."""
    container = client.containers.run(
        image,
        ["timeout", str(timeout), *command],
        detach=True,
        labels=LABELS,
        user=user or "",
    )
    try:
        status = container.wait(timeout=timeout + 30)
        stdout = container.logs(stdout=True, stderr=False).decode()
        stderr = container.logs(stdout=False, stderr=True).decode()
    finally:
        container.remove(force=True)
    return Result(status["StatusCode"], stdout, stderr)


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

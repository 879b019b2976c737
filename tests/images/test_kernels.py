"""fcc's Key4hep kernel as a user meets it: the notebook server of the real fcc image, started
by its own start-up script, offers the kernel exactly when /cvmfs/sw.hsf.org has the stack's
setup script, and the kernel runs with the stack's environment and its python3.

The stack is a stand-in tree (CVMFS itself cannot be mounted here): a setup script that exports
a release variable and puts the stack's bin/ first on PATH, and a python3 there that marks
itself and then runs the image's Python (the real Key4hep ships its own Python and ipykernel).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from afenv.testing.credentials import readable
from afenv.testing.kernel import execute, rest

from .conftest import LABELS, afenv

pytestmark = pytest.mark.docker

READY_WITHIN_S = 180
RELEASE = "/cvmfs/sw.hsf.org/key4hep/releases/2026-11-30/x86_64-test"
SETUP = f"""# a stand-in for Key4hep's setup script
export KEY4HEP_STACK={RELEASE}
export PATH=/cvmfs/sw.hsf.org/key4hep/bin:$PATH
echo "key4hep stand-in set up"
"""
PYTHON3 = """#!/bin/sh
export AFENV_STACK_PYTHON=yes
exec python "$@"
"""
PROBE = (
    "import os, shutil; environ = os.environ.get;"
    "print(environ('KEY4HEP_STACK'), environ('AFENV_STACK_PYTHON'), shutil.which('python3'))"
)


@pytest.fixture(scope="module")
def fcc_singleuser(client: docker.DockerClient) -> str:  # noqa: ARG001 (the leak check)
    result = afenv("build", "fcc", "--no-validate", "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    (image,) = [i for i in json.loads(result.stdout)["images"] if i["role"] == "singleuser"]
    return str(image["reference"])


def _fake_stack(root: Path) -> Path:
    key4hep = root / "sw.hsf.org" / "key4hep"
    (key4hep / "bin").mkdir(parents=True)
    (key4hep / "setup.sh").write_text(SETUP)
    (key4hep / "bin" / "python3").write_text(PYTHON3)
    readable(root)
    (key4hep / "bin" / "python3").chmod(0o755)
    return root


def _server(client: docker.DockerClient, image: str, cvmfs: Path | None) -> Iterator[Any]:
    volumes = {str(cvmfs): {"bind": "/cvmfs", "mode": "ro"}} if cvmfs else {}
    container = client.containers.run(
        image, detach=True, labels=LABELS, user="1000:100", volumes=volumes
    )
    try:
        yield container
    finally:
        container.remove(force=True)


def _connect(container: Any) -> tuple[str, str]:
    """The server's URL on the bridge network and its token, once its runtime file exists."""
    deadline = time.monotonic() + READY_WITHIN_S
    while time.monotonic() < deadline:
        container.reload()
        assert container.status != "exited", container.logs().decode(errors="replace")[-3000:]
        health = container.attrs["State"].get("Health", {}).get("Status")
        if health == "healthy":
            break
        time.sleep(0.5)  # polling the engine's health status: a condition, not a delay
    found = container.exec_run(
        ["sh", "-c", "cat /home/jovyan/.local/share/jupyter/runtime/jpserver-*.json"]
    )
    assert found.exit_code == 0, found.output
    server = json.loads(found.output)
    address = container.attrs["NetworkSettings"]["IPAddress"]
    return f"http://{address}:{server['port']}", server["token"]


@pytest.fixture
def with_stack(client: docker.DockerClient, fcc_singleuser: str, tmp_path: Path) -> Iterator[Any]:
    yield from _server(client, fcc_singleuser, _fake_stack(tmp_path / "cvmfs"))


@pytest.fixture
def without_stack(
    client: docker.DockerClient, fcc_singleuser: str, tmp_path: Path
) -> Iterator[Any]:
    empty = tmp_path / "cvmfs"
    (empty / "sw.hsf.org").mkdir(parents=True)  # the repository mounted, no Key4hep in it
    yield from _server(client, fcc_singleuser, readable(empty))


def test_key4hep_kernel_runs_in_the_stack_where_cvmfs_has_it(with_stack: Any) -> None:
    base, token = _connect(with_stack)
    specs = rest("GET", f"{base}/api/kernelspecs", token)["kernelspecs"]
    assert sorted(specs) == ["key4hep", "python3", "root"]
    assert specs["key4hep"]["spec"]["display_name"] == "Key4hep (CVMFS sw.hsf.org)"
    output = execute(base, token, PROBE, kernel_name="key4hep", timeout=300)
    assert output.ok, output.error
    assert output.stdout.split() == [RELEASE, "yes", "/cvmfs/sw.hsf.org/key4hep/bin/python3"]
    logs = with_stack.logs().decode(errors="replace")
    assert "afenv: offering the 'Key4hep (CVMFS sw.hsf.org)' kernel" in logs
    assert "key4hep stand-in set up" in logs  # the setup's chatter is in the server's log
    # The image's own kernel is untouched by the stack.
    plain = execute(base, token, PROBE, timeout=300)
    assert plain.ok, plain.error
    assert plain.stdout.split()[:2] == ["None", "None"]


def test_no_key4hep_kernel_without_the_stack(without_stack: Any) -> None:
    base, token = _connect(without_stack)
    specs = rest("GET", f"{base}/api/kernelspecs", token)["kernelspecs"]
    assert sorted(specs) == ["python3", "root"]
    assert "offering" not in without_stack.logs().decode(errors="replace")

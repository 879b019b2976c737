"""afenv removes only what it created: a user's container from an afenv image survives."""

from __future__ import annotations

import json

import docker
import pytest

from afenv import engine

from .conftest import afenv

pytestmark = pytest.mark.docker


def test_clean_leaves_a_users_container_from_an_afenv_image(
    client: docker.DockerClient, users_notebook: str
) -> None:
    container = client.containers.get(users_notebook)
    # It looks like an afenv container by its image's labels...
    assert container.labels[engine.EXPERIMENT] == "cms"
    # ...but it carries none of the run labels afenv sets on what it creates.
    assert not {engine.RUN, engine.OWNER, engine.PURPOSE} & set(container.labels)
    result = afenv("clean", "--json")
    assert result.returncode == 0, result.stderr
    assert container.name not in json.loads(result.stdout)["containers"]
    container.reload()
    assert container.status == "running"

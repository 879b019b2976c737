"""Fixtures for the image checks: testinfra hosts of the running validation containers."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

import pytest
import testinfra

ROLES = ("worker", "singleuser")


@functools.cache  # read once: every test function's parametrisation asks for it
def _context() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(os.environ["AFENV_CHECK_CONTEXT"]).read_text())
    return data


@pytest.fixture(scope="session")
def context() -> dict[str, Any]:
    return _context()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every check that needs a role runs once per role the context holds (afenv runs one
    process per role, so that the roles' checks run at the same time)."""
    if "role" in metafunc.fixturenames:
        roles = [role for role in ROLES if role in _context()["images"]]
        metafunc.parametrize("role", roles, scope="session")


@pytest.fixture(scope="session")
def image(context: dict[str, Any], role: str) -> dict[str, Any]:
    found: dict[str, Any] = context["images"][role]
    return found


@pytest.fixture(scope="session")
def host(image: dict[str, Any]) -> testinfra.host.Host:
    return testinfra.get_host(f"docker://{image['container']}")


def run(host: testinfra.host.Host, command: str, timeout: int = 180) -> Any:
    """Every command in a container is bounded in time."""
    return host.run(f"timeout {timeout} {command}")

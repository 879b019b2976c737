"""`afenv ci`: the project's CI pipeline, planned once (plan) and written for GitHub Actions
(github) or GitLab CI (gitlab). The jobs run only afenv's own commands."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from afenv.ci import github, gitlab
from afenv.ci.plan import Plan, make_plan
from afenv.errors import ConfigError

__all__ = ["PLATFORMS", "Plan", "Platform", "Target", "make_plan", "write"]

Platform = Literal["github", "gitlab"]


@dataclass(frozen=True)
class Target:
    """A CI platform: what its file is, where the platform looks for it, how it is written."""

    what: str
    default_out: Path  # relative to the repository
    render: Callable[[Plan], str]


PLATFORMS: dict[Platform, Target] = {
    "github": Target(
        "a GitHub Actions workflow", Path(".github/workflows/afenv.yml"), github.render
    ),
    "gitlab": Target("a GitLab CI pipeline", Path(".gitlab-ci.yml"), gitlab.render),
}


def write(path: Path, text: str) -> Path:
    """Write ``text`` at ``path`` (its folders made as needed): a CI platform or a reader sees
    the old file or the new one, never half of one."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    except OSError as exc:
        raise ConfigError(f"--out: cannot write {path}: {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
    return path

"""Templates: afenv's own (package data), overridden file by file by the facility's templates/.

Jinja2 receives plain, validated data only; values are quoted in the templates (``tojson``).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from afenv.errors import ConfigError

__all__ = ["PACKAGED", "Templates", "docker_string"]

PACKAGED = Path(str(resources.files("afenv") / "templates"))


@dataclass(frozen=True)
class Templates:
    """Where each template comes from: ``override`` (the facility's templates/) first."""

    override: Path | None

    def path(self, name: str) -> Path:
        """The file that serves ``name`` (e.g. ``worker.Dockerfile.j2``, ``files/afenv-bench``)."""
        if self.override is not None:
            candidate = self.override / name
            if candidate.is_symlink():
                raise ConfigError(f"{candidate}: is a symbolic link; templates must be files")
            if candidate.is_file():
                return candidate
        packaged = PACKAGED / name
        if not packaged.is_file():
            raise ConfigError(f"template {name} not found in {self.override or PACKAGED}")
        return packaged

    def source(self, name: str) -> str:
        try:
            return self.path(name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{self.path(name)}: cannot read the template ({exc})") from None

    def render(self, name: str, data: Mapping[str, Any]) -> str:
        environment = jinja2.Environment(
            # {% include %} resolves like the template itself: the facility's file first.
            loader=jinja2.FunctionLoader(self.source),
            undefined=jinja2.StrictUndefined,  # a missing value is a bug, never an empty string
            keep_trailing_newline=True,
            autoescape=False,  # Dockerfiles, not HTML
        )
        environment.filters["sh"] = shlex.quote
        environment.filters["dockerstr"] = docker_string
        try:
            return environment.from_string(self.source(name)).render(**data)
        except jinja2.TemplateError as exc:
            raise ConfigError(f"{self.path(name)}: template error: {exc}") from None


def docker_string(value: str) -> str:
    """A double-quoted Dockerfile word (ENV, LABEL) that stays one literal value: backslash,
    quote and ``$`` (Docker's own substitution) escaped, control characters refused."""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise ConfigError(f"{value[:40]!r}: control characters cannot go into a Dockerfile")
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{escaped}"'

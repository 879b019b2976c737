"""Jinja2 rendering of templates/: plain data in, text out."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

__all__ = ["render"]


def render(templates: Path, name: str, data: Mapping[str, Any]) -> str:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates),
        undefined=jinja2.StrictUndefined,  # a missing value is a bug, never an empty string
        keep_trailing_newline=True,
        autoescape=False,  # Dockerfiles, not HTML
    )
    try:
        return environment.get_template(name).render(**data)
    except jinja2.TemplateNotFound:
        from afenv.errors import ConfigError

        raise ConfigError(f"{templates / name}: template not found") from None

"""Labels on everything afenv creates in Docker, so cleanup and leak checks can find it."""

from __future__ import annotations

from afenv import __version__

__all__ = ["MANAGED", "afenv_labels"]

MANAGED = "io.afenv.managed"


def afenv_labels(**fields: str) -> dict[str, str]:
    """``io.afenv.*`` labels: managed marker, afenv version, plus the given fields."""
    labels = {MANAGED: "true", "io.afenv.version": __version__}
    labels.update({f"io.afenv.{key.replace('_', '-')}": value for key, value in fields.items()})
    return labels

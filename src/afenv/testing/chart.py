"""The zero-to-jupyterhub chart's own check of a values file, as Helm makes it.

Helm validates the merged values (the chart's defaults, then the values file laid over them:
maps merged key by key, anything else replaced), not the file alone; see ../shared/data/README.
Tests and the profile benchmark use this one check.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

__all__ = ["SHARED_DATA", "check_values", "helm_merge"]

# The chart's schema and defaults; CI clones the repository with ../shared beside it.
SHARED_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"


def helm_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = helm_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def check_values(values: Mapping[str, Any] | Path, data: Path = SHARED_DATA) -> None:
    """Raise jsonschema.ValidationError when Helm would refuse ``values`` (a mapping or a
    values file)."""
    import jsonschema

    document = yaml.safe_load(values.read_text()) if isinstance(values, Path) else values
    schema = yaml.safe_load((data / "z2jh-values.schema.yaml").read_text())
    defaults = yaml.safe_load((data / "z2jh-values.defaults.yaml").read_text())
    jsonschema.validate(helm_merge(defaults, document), schema)

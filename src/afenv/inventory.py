"""What afenv has built: images found by their labels, joined with the state file."""

from __future__ import annotations

from typing import Any

from afenv import engine
from afenv.engine import Engine
from afenv.spec import ROLES
from afenv.state import State

__all__ = ["list_images"]


def list_images(docker: Engine, state: State) -> list[dict[str, Any]]:
    """One row per built image (its content-hash tag), with its other tags as aliases."""
    data = state.load()
    promoted = {ref for refs in data["promoted"].values() for ref in refs}
    rows = []
    for image in docker.images(engine.CONTENT_HASH):
        labels = image.labels
        role = labels.get(engine.ROLE, "")
        experiment = labels.get(engine.EXPERIMENT, "")
        reference = f"{engine.image_repository(experiment, role)}:{labels[engine.CONTENT_HASH]}"
        # Variants built FROM an afenv image inherit its labels but not its content-hash tag.
        if role not in ROLES or reference not in image.tags:
            continue
        info = data["images"].get(reference, {})
        validated = info.get("validation", {}).get("passed") if isinstance(info, dict) else None
        if reference in promoted:
            status = "promoted"
        elif validated is True:
            status = "validated"
        elif validated is False:
            status = "failed validation"
        else:
            status = "built"
        rows.append(
            {
                "reference": reference,
                "experiment": experiment,
                "role": role,
                "hash": labels[engine.CONTENT_HASH],
                # Other tags of the same repository (latest, the promotion day); a registry's
                # copy is listed under pushed, by the digest it was pushed as.
                "aliases": sorted(
                    tag.rpartition(":")[2]
                    for tag in image.tags
                    if tag != reference and tag.rpartition(":")[0] == reference.rpartition(":")[0]
                ),
                "pushed": list(info.get("pushed", [])) if isinstance(info, dict) else [],
                "size": image.size,
                "created": image.created,
                "state": status,
            }
        )
    rows.sort(key=lambda r: (r["experiment"], r["role"], r["created"]))
    return rows

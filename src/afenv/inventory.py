"""What afenv has built: images found by label, joined with the state file."""

from __future__ import annotations

from typing import Any

import docker

from afenv.config import Project
from afenv.labels import MANAGED
from afenv.state import State

__all__ = ["list_images"]


def list_images(client: docker.DockerClient, project: Project) -> list[dict[str, Any]]:
    """One row per built image (its content-hash tag), with its other tags as aliases."""
    state = State(project.root / ".afenv").load()
    promoted = {ref for refs in state["promoted"].values() for ref in refs}
    rows = []
    for image in client.images.list(filters={"label": f"{MANAGED}=true"}):
        labels = image.labels
        role = labels.get("io.afenv.role", "")
        content_hash = labels.get("io.afenv.content-hash", "")
        repository = f"afenv/{labels.get('io.afenv.experiment', '')}-{role}"
        reference = f"{repository}:{content_hash}"
        # Variants built FROM an afenv image inherit its labels but not its content-hash tag.
        if role not in {"worker", "singleuser"} or reference not in image.tags:
            continue
        info = state["images"].get(reference, {})
        validated = info.get("validation", {}).get("passed")
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
                "experiment": labels.get("io.afenv.experiment", ""),
                "role": role,
                "hash": content_hash,
                "aliases": sorted(t.split(":", 1)[1] for t in image.tags if t != reference),
                "size": int(image.attrs["Size"]),
                "created": image.attrs.get("Created", ""),
                "state": status,
            }
        )
    rows.sort(key=lambda r: (r["experiment"], r["role"], r["created"]))
    return rows


def clean(client: docker.DockerClient) -> dict[str, list[str]]:
    """Remove every afenv-labelled container, network and volume (never images)."""
    selector = {"label": f"{MANAGED}=true"}
    removed: dict[str, list[str]] = {"containers": [], "networks": [], "volumes": []}
    for container in client.containers.list(all=True, filters=selector):
        container.remove(force=True)
        removed["containers"].append(container.name)
    for network in client.networks.list(filters=selector):
        network.remove()
        removed["networks"].append(network.name)
    for volume in client.volumes.list(filters=selector):
        volume.remove(force=True)
        removed["volumes"].append(volume.name)
    return removed

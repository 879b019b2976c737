"""What afenv has built: images found by label, joined with the state file."""

from __future__ import annotations

from typing import Any

import docker

from afenv.config import Project
from afenv.labels import MANAGED
from afenv.state import State

__all__ = ["list_images"]


def list_images(client: docker.DockerClient, project: Project) -> list[dict[str, Any]]:
    state = State(project.root / ".afenv").load()
    promoted = {ref for refs in state["promoted"].values() for ref in refs}
    rows = []
    for image in client.images.list(filters={"label": f"{MANAGED}=true"}):
        labels = image.labels
        role = labels.get("io.afenv.role", "")
        if role not in {"worker", "singleuser"}:
            continue
        for reference in image.tags:
            if reference.startswith("afenv-staging/"):
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
                    "hash": labels.get("io.afenv.content-hash", ""),
                    "size": int(image.attrs["Size"]),
                    "created": image.attrs.get("Created", ""),
                    "state": status,
                }
            )
    rows.sort(key=lambda r: (r["experiment"], r["role"], r["created"]), reverse=False)
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

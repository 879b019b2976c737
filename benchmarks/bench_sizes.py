"""What the images cost on disk and on the wire: each image alone, and all of them together.

    .venv/bin/python benchmarks/bench_sizes.py

For every experiment's pair as the lock describes it (built: `afenv matrix`): the engine's size
of each image, and the bytes of `docker save` of each image alone and of all of them in one
archive. One archive holds each shared layer once (base, core, role layers are the same in
every experiment's images), so the ratio of all together to the largest alone says how much
the facility layers are shared: 1.0 would be perfect sharing, the number of images none.
The archives are counted as they stream, never written. Writes
``benchmarks/results/sizes.json`` and prints Markdown.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import docker
from bench_ds import machine, machine_line
from common import RESULTS, ROOT

from afenv.build import pair_references
from afenv.engine import Engine
from afenv.pipeline import cache_dir
from afenv.spec import load_project

_CHUNK = 1 << 20


def saved_bytes(references: list[str]) -> int:
    """Bytes of ``docker save REFERENCES…``, counted as they stream."""
    process = subprocess.Popen(["docker", "save", *references], stdout=subprocess.PIPE)
    assert process.stdout is not None
    total = 0
    while chunk := process.stdout.read(_CHUNK):
        total += len(chunk)
    if process.wait() != 0:
        raise SystemExit(f"docker save {' '.join(references)} failed")
    return total


def layers(client: docker.DockerClient, reference: str) -> list[str]:
    return list(client.images.get(reference).attrs["RootFS"]["Layers"])


def main() -> None:
    import os

    project = load_project(ROOT)
    engine = Engine.connect()
    client = docker.from_env()
    images: list[dict[str, Any]] = []
    for name in sorted(project.experiments):
        pair = pair_references(
            project, project.experiments[name], docker=engine, cache=cache_dir(os.environ)
        )
        for role, reference in pair.items():
            if engine.image(reference) is None:
                raise SystemExit(f"{reference} is not built; run `afenv matrix` first")
            images.append(
                {
                    "experiment": name,
                    "role": role,
                    "reference": reference,
                    "engine_size": client.images.get(reference).attrs["Size"],
                    "layers": len(layers(client, reference)),
                    "saved_alone": saved_bytes([reference]),
                }
            )
    together = saved_bytes([image["reference"] for image in images])
    largest = max(images, key=lambda image: image["saved_alone"])
    distinct = {layer for image in images for layer in layers(client, image["reference"])}
    result = {
        "machine": machine(),
        "images": images,
        "saved_together": together,
        "saved_sum_alone": sum(image["saved_alone"] for image in images),
        "largest": largest["reference"],
        "ratio_together_to_largest": round(together / largest["saved_alone"], 3),
        "distinct_layers": len(distinct),
        "layers_summed": sum(image["layers"] for image in images),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "sizes.json").write_text(json.dumps(result, indent=2) + "\n")
    print(machine_line(result))
    print("\n| image | engine size | `docker save` alone | layers |\n|---|---:|---:|---:|")
    for image in images:
        print(
            f"| `{image['reference']}` | {image['engine_size'] / 1e9:.2f} GB | "
            f"{image['saved_alone'] / 1e9:.2f} GB | {image['layers']} |"
        )
    print(
        f"\nAll {len(images)} in one `docker save`: {together / 1e9:.2f} GB "
        f"({result['saved_sum_alone'] / 1e9:.2f} GB saved one by one); the largest alone, "
        f"{largest['reference']}: {largest['saved_alone'] / 1e9:.2f} GB; ratio "
        f"{result['ratio_together_to_largest']} (target <= 1.3). Distinct layers: "
        f"{len(distinct)} of {result['layers_summed']}."
    )


if __name__ == "__main__":
    main()

"""Reproducibility: two cold builds of cms from the same lock, each with an empty wheel cache,
no Docker build cache and a freshly bootstrapped base. Compares what the images contain.

    .venv/bin/python benchmarks/bench_reproducible.py

Destructive for afenv's images (like bench_build.py). Writes benchmarks/results/reproducible.json
and prints the README's comparison: Python and Debian package lists and manifests (must be
identical), layer digests (reported), and for layers that differ, whether their files differ
in content or only in metadata (mtimes, as debootstrap, apt and pip write them).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import docker
from bench_build import ROOT, remove_images
from bench_ds import machine_description

RESULTS = Path(__file__).resolve().parent / "results"
ROLES = ("worker", "singleuser")


def cold_build(client: docker.DockerClient, cache: Path) -> dict[str, dict[str, object]]:
    remove_images(client, base_too=True)
    env = dict(os.environ, AFENV_CACHE=str(cache))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "afenv.cli",
            "--project",
            str(ROOT),
            "build",
            "cms",
            "--no-validate",
            "--refresh-base",
            "--json",
        ],
        check=True,
        env=env,
        capture_output=True,
        text=True,
    )
    built = {}
    for image in json.loads(result.stdout)["images"]:
        manifest = Path(image["manifest"])
        docker_image = client.images.get(image["id"])
        built[image["role"]] = {
            "reference": image["reference"],
            "id": image["id"],
            "python": json.loads((manifest / "python.json").read_text()),
            "debian": (manifest / "debian.txt").read_text().splitlines(),
            "layers": docker_image.attrs["RootFS"]["Layers"],
            "files": layer_files(docker_image),
        }
    return built


def layer_files(image: docker.models.images.Image) -> list[dict[str, str]]:
    """Per layer: path -> content digest (metadata left out)."""
    layers: dict[str, dict[str, str]] = {}
    order: list[str] = []
    with tempfile.TemporaryFile() as saved:
        for chunk in image.save(chunk_size=1 << 20):
            saved.write(chunk)
        saved.seek(0)
        with tarfile.open(fileobj=saved) as outer:
            manifest = json.load(outer.extractfile("manifest.json"))  # type: ignore[arg-type]
            order = manifest[0]["Layers"]
            for name in order:
                blob = outer.extractfile(name)
                assert blob is not None
                files = {}
                with tarfile.open(fileobj=blob, mode="r:") as layer:
                    for entry in layer:
                        if entry.isfile():
                            handle = layer.extractfile(entry)
                            assert handle is not None
                            files[entry.name] = hashlib.sha256(handle.read()).hexdigest()
                        elif entry.issym():
                            files[entry.name] = "-> " + entry.linkname
                layers[name] = files
    return [layers[name] for name in order]


def compare(first: dict, second: dict) -> dict[str, object]:
    report: dict[str, object] = {}
    for role in ROLES:
        a, b = first[role], second[role]
        layers = []
        for index, (digest_a, digest_b) in enumerate(zip(a["layers"], b["layers"], strict=False)):
            files_a, files_b = a["files"][index], b["files"][index]
            differing = sorted(
                path
                for path in set(files_a) | set(files_b)
                if files_a.get(path) != files_b.get(path)
            )
            layers.append(
                {
                    "index": index,
                    "digest_equal": digest_a == digest_b,
                    "files": len(files_a),
                    "content_differs": len(differing),
                    "examples": differing[:8],
                }
            )
        report[role] = {
            "python_identical": a["python"] == b["python"],
            "debian_identical": a["debian"] == b["debian"],
            "same_layer_count": len(a["layers"]) == len(b["layers"]),
            "layers": layers,
        }
    return report


def main() -> int:
    client = docker.from_env(timeout=1800)
    with tempfile.TemporaryDirectory() as first_cache, tempfile.TemporaryDirectory() as second:
        first = cold_build(client, Path(first_cache))
        again = cold_build(client, Path(second))
    comparison = compare(first, again)
    results = {
        "machine": machine_description(),
        "date": dt.date.today().isoformat(),
        "comparison": comparison,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "reproducible.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"Two cold builds of cms, {results['machine']}, {results['date']}:\n")
    print(
        "| image | Python packages | Debian packages | layers with equal digest | "
        "layers whose file contents differ |"
    )
    print("|---|---|---|---|---|")
    for role in ROLES:
        entry = comparison[role]
        layers = entry["layers"]  # type: ignore[index]
        equal = sum(1 for layer in layers if layer["digest_equal"])
        differ = [
            f"{layer['index']} ({layer['content_differs']})"
            for layer in layers
            if layer["content_differs"]
        ]
        print(
            f"| {role} | {'identical' if entry['python_identical'] else 'DIFFER'} | "  # type: ignore[index]
            f"{'identical' if entry['debian_identical'] else 'DIFFER'} | "  # type: ignore[index]
            f"{equal}/{len(layers)} | {', '.join(differ) or 'none'} |"
        )
    for role in ROLES:
        for layer in comparison[role]["layers"]:  # type: ignore[index]
            if layer["content_differs"]:
                print(f"{role} layer {layer['index']}: {', '.join(layer['examples'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

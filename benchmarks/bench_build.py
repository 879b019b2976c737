"""Measure `afenv build cms`: cold (with and without base bootstrap), no-op rebuild, sizes.

    .venv/bin/python benchmarks/bench_build.py [--noop-runs 5]

AFENV_PROJECT=DIR builds the project in DIR (a frozen copy, so edits made meanwhile do not count).

Destructive for afenv's Docker images (it removes them to build cold) — run it on a machine where
that is fine. Writes benchmarks/results/build.json and prints a Markdown table for the README.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docker
from bench_ds import machine_description

from afenv.build.render import PACKAGED

ROOT = Path(os.environ.get("AFENV_PROJECT", Path(__file__).resolve().parents[1]))
RESULTS = Path(__file__).resolve().parent / "results"


def build(cache: Path, project: Path = ROOT) -> float:
    env = dict(os.environ, AFENV_CACHE=str(cache))
    started = time.monotonic()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "afenv.cli",
            "--project",
            str(project),
            "build",
            "cms",
            "-q",
            "--no-validate",
        ],
        check=True,
        env=env,
    )
    return time.monotonic() - started


def remove_images(client: docker.DockerClient, *, base_too: bool) -> None:
    for image in client.images.list(filters={"label": "io.afenv.version"}):
        is_base = any(t.startswith("afenv/debian:") for t in image.tags)
        if is_base and not base_too:
            continue
        for tag in image.tags:
            if not (is_base and not base_too):
                client.images.remove(tag, force=True)
    client.images.prune(filters={"dangling": True})


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--noop-runs", type=int, default=5)
    args = parser.parse_args()
    client = docker.from_env(timeout=900)
    results: dict[str, object] = {
        "machine": machine_description(),
        "date": dt.date.today().isoformat(),
    }
    with tempfile.TemporaryDirectory(prefix="afenv-bench-cache-") as cache_dir:
        cache = Path(cache_dir)
        remove_images(client, base_too=True)
        results["cold_with_bootstrap_and_downloads_s"] = round(build(cache), 1)
        remove_images(client, base_too=False)
        results["cold_without_bootstrap_s"] = round(build(cache), 1)
        noop = [build(cache) for _ in range(args.noop_runs)]
        results["noop_runs_s"] = [round(t, 2) for t in noop]
        results["noop_median_s"] = round(statistics.median(noop), 2)
        with tempfile.TemporaryDirectory(prefix="afenv-bench-project-") as copy:
            project = Path(copy)
            for name in ("envs", "images"):
                shutil.copytree(ROOT / name, project / name)
            # A runtime-only change: a file of the worker's role layer (a facility override).
            (project / "templates/files").mkdir(parents=True)
            (project / "templates/files/afenv-bench").write_text(
                (PACKAGED / "files/afenv-bench").read_text() + "# runtime change\n"
            )
            results["runtime_only_change_s"] = round(build(cache, project), 1)
            # An experiment-only change: one pip package more for cms (locked first, untimed).
            spec = project / "images/cms/experiment.toml"
            spec.write_text(spec.read_text().replace('"coffea",', '"coffea", "pyhf",', 1))
            subprocess.run(
                [sys.executable, "-m", "afenv.cli", "--project", str(project), "lock", "-q"],
                check=True,
            )
            results["experiment_only_change_s"] = round(build(cache, project), 1)
            check = [sys.executable, "-m", "afenv.cli", "--project", str(project), "lock"]
            subprocess.run([*check, "--check"], check=True)

    rows = json.loads(
        subprocess.run(
            [sys.executable, "-m", "afenv.cli", "--project", str(ROOT), "list", "--json"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    latest = {}
    for row in rows:
        if row["experiment"] == "cms":
            latest[row["role"]] = row  # sorted by creation: the last one is the newest
    worker = client.images.get(latest["worker"]["reference"])
    singleuser = client.images.get(latest["singleuser"]["reference"])
    worker_layers = worker.attrs["RootFS"]["Layers"]
    shared = singleuser.attrs["RootFS"]["Layers"][: len(worker_layers)] == worker_layers
    results["worker_size_bytes"] = int(worker.attrs["Size"])
    results["singleuser_size_bytes"] = int(singleuser.attrs["Size"])
    # All worker layers are the singleuser's first layers: what it shares is the whole worker.
    results["shared_bytes"] = int(worker.attrs["Size"]) if shared else 0
    results["shared_fraction_of_worker"] = 1.0 if shared else 0.0
    results["singleuser_extra_bytes"] = results["singleuser_size_bytes"] - results["shared_bytes"]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "build.json").write_text(json.dumps(results, indent=2) + "\n")

    gb = 1e9
    table = [
        (
            "cold `afenv build cms`, base bootstrap + wheel downloads included",
            f"{results['cold_with_bootstrap_and_downloads_s']:.0f} s",
        ),
        (
            "cold `afenv build cms`, base image and wheelhouse present",
            f"{results['cold_without_bootstrap_s']:.0f} s",
        ),
        (f"no-op rebuild (median of {args.noop_runs})", f"{results['noop_median_s']:.1f} s"),
        (
            "runtime-only change (a role-layer file), both images",
            f"{results['runtime_only_change_s']:.0f} s",
        ),
        (
            "experiment-only change (pyhf added to cms), both images",
            f"{results['experiment_only_change_s']:.0f} s",
        ),
        ("worker image", f"{results['worker_size_bytes'] / gb:.2f} GB"),
        ("singleuser image", f"{results['singleuser_size_bytes'] / gb:.2f} GB"),
        (
            "bytes the singleuser shares with the worker",
            f"{results['shared_bytes'] / gb:.2f} GB "
            f"({results['shared_fraction_of_worker']:.0%} of the worker)",
        ),
    ]
    print(f"Measured on {results['machine']}, {results['date']} (`benchmarks/bench_build.py`):\n")
    print("| measure | value |\n|---|---|")
    for measure, value in table:
        print(f"| {measure} | {value} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

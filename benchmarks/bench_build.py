"""Measure `afenv build cms`: cold (with and without base bootstrap), the same cold build with
pip instead of uv (the installer before issue 10, as a template override), no-op rebuild,
incremental rebuilds (a role-layer file, the benchmark's Python code, one experiment package)
and the bytes the pair shares.

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
from importlib import resources
from pathlib import Path

import docker
from bench_ds import machine_description

from afenv.build.render import PACKAGED
from afenv.engine import Engine, shared_layers

ROOT = Path(os.environ.get("AFENV_PROJECT", Path(__file__).resolve().parents[1]))
RESULTS = Path(__file__).resolve().parent / "results"


# The installer of every build stage, and what the old path ran instead: pip from the venv, with
# the same wheels, hashes and --prefix overlays (pip compiles bytecode by default too).
UV_INSTALL = (
    "/opt/afenv/build/bin/uv pip install --quiet --offline --no-index --no-deps --require-hashes"
    " --no-cache --compile-bytecode --link-mode=hardlink --python /opt/afenv/venv/bin/python"
)
PIP_INSTALL = (
    "/opt/afenv/venv/bin/pip install --quiet --no-index --no-deps --require-hashes"
    " --no-cache-dir --disable-pip-version-check"
)


def project_copy(directory: Path) -> Path:
    for name in ("envs", "images"):
        shutil.copytree(ROOT / name, directory / name)
    return directory


def pip_templates(project: Path) -> None:
    """The facility's template override that installs with pip where afenv uses uv."""
    overrides = project / "templates"
    overrides.mkdir(exist_ok=True)
    for name in ("stages.Dockerfile.j2", "singleuser.Dockerfile.j2"):
        text = (PACKAGED / name).read_text()
        if UV_INSTALL not in text:
            raise SystemExit(f"{name}: the uv command changed; update UV_INSTALL")
        (overrides / name).write_text(text.replace(UV_INSTALL, PIP_INSTALL))


def changed_runtime(directory: Path) -> dict[str, str]:
    """An environment whose afenv_bench (copied into ``directory``) has one Python line more:
    what a change to the benchmark's code sends to the build."""
    package = Path(str(resources.files("afenv_bench")))
    copy = directory / "afenv_bench"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    with (copy / "analysis.py").open("a") as handle:
        handle.write("\n# a runtime change\n")
    return {"PYTHONPATH": str(directory)}


def build(cache: Path, project: Path = ROOT, extra_env: dict[str, str] | None = None) -> float:
    env = dict(os.environ, AFENV_CACHE=str(cache), **(extra_env or {}))
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
        # The old path and the new one side by side, each cold above the same base image.
        with tempfile.TemporaryDirectory(prefix="afenv-bench-pip-") as copy:
            pip_project = project_copy(Path(copy))
            pip_templates(pip_project)
            remove_images(client, base_too=False)
            results["cold_without_bootstrap_pip_s"] = round(build(cache, pip_project), 1)
        remove_images(client, base_too=False)
        results["cold_without_bootstrap_s"] = round(build(cache), 1)
        results["cold_uv_vs_pip"] = round(
            results["cold_without_bootstrap_s"] / results["cold_without_bootstrap_pip_s"], 2
        )
        noop = [build(cache) for _ in range(args.noop_runs)]
        results["noop_runs_s"] = [round(t, 2) for t in noop]
        results["noop_median_s"] = round(statistics.median(noop), 2)
        with tempfile.TemporaryDirectory(prefix="afenv-bench-project-") as copy:
            project = project_copy(Path(copy))
            # A change to the benchmark's Python code (afenv_bench, in both images' role layer).
            with tempfile.TemporaryDirectory(prefix="afenv-bench-runtime-") as runtime:
                results["runtime_code_change_s"] = round(
                    build(cache, project, changed_runtime(Path(runtime))), 1
                )
            # A runtime-only change: a file of the role layer (a facility override).
            (project / "templates/files").mkdir(parents=True)
            (project / "templates/files/afenv-bench").write_text(
                (PACKAGED / "files/afenv-bench").read_text() + "# runtime change\n"
            )
            results["runtime_only_change_s"] = round(build(cache, project), 1)
            # An experiment-only change: one pip package more for cms (locked first, untimed).
            spec = project / "images/cms/experiment.toml"
            text = spec.read_text()
            if 'pip = ["correctionlib"]' not in text:
                raise SystemExit(f"{spec}: cms's pip list changed; update this benchmark")
            spec.write_text(
                text.replace('pip = ["correctionlib"]', 'pip = ["correctionlib", "pyhf"]')
            )
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
    docker_engine = Engine(client)
    worker = client.images.get(latest["worker"]["reference"])
    singleuser = client.images.get(latest["singleuser"]["reference"])
    shared = shared_layers(
        docker_engine.layer_steps(worker.id), docker_engine.layer_steps(singleuser.id)
    )
    results["worker_size_bytes"] = int(worker.attrs["Size"])
    results["singleuser_size_bytes"] = int(singleuser.attrs["Size"])
    # The first layers both images have: base, its Debian packages and the core venv.
    results["shared_bytes"] = sum(step.size for step in shared)
    results["shared_fraction_of_worker"] = round(
        results["shared_bytes"] / results["worker_size_bytes"], 3
    )
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
        (
            "the same with pip instead of uv (the old path, one run before it)",
            f"{results['cold_without_bootstrap_pip_s']:.0f} s "
            f"(uv / pip = {results['cold_uv_vs_pip']:.2f})",
        ),
        (f"no-op rebuild (median of {args.noop_runs})", f"{results['noop_median_s']:.1f} s"),
        (
            "benchmark code change (a line of afenv_bench/analysis.py), both images",
            f"{results['runtime_code_change_s']:.0f} s",
        ),
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

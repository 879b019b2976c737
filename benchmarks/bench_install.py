"""Installing the core lock into a fresh venv inside the worker image: pip against uv, the same
wheels offline, alternating, side by side in one run.

    .venv/bin/python benchmarks/bench_install.py [--runs 3]

Needs the built cms pair and the wheelhouse (`afenv build cms` first). Writes
benchmarks/results/install.json and prints the README's table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

import docker
from bench_ds import machine_description

from afenv.build import Wheelhouse
from afenv.lock import load_locks
from afenv.lock.files import render_requirements
from afenv.pipeline import cache_dir
from afenv.spec import load_project

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
COMMON = "--no-index --no-deps --require-hashes --find-links /wheels -r /wheels/core.txt"
# Both installers start from the same state: an empty target venv, and uv in a venv of its own
# (as the build's /opt/afenv/build, installed in an earlier step). Only the install command is
# timed, inside the container, so neither container start nor uv's own set-up is counted.
PREPARE = (
    "python3 -m venv /tmp/v && python3 -m venv /tmp/b && /tmp/b/bin/pip install --quiet "
    "--no-index --no-deps --find-links /wheels/build uv"
)
UV = "/tmp/b/bin/uv pip install --quiet --offline --no-cache --python /tmp/v/bin/python"
INSTALLERS = {
    # pip compiles bytecode as it installs; so does the build's uv (--compile-bytecode), so
    # that no process in the images compiles what it imports: that is the like-for-like pair.
    "pip": f"/tmp/v/bin/pip install --quiet --no-cache-dir --disable-pip-version-check {COMMON}",
    "uv": f"{UV} --link-mode=hardlink --compile-bytecode {COMMON}",
    # Before 2026-12-02 the build copied each file out of uv's cache instead of linking it.
    "uv, copied": f"{UV} --link-mode=copy --compile-bytecode {COMMON}",
    "uv, no bytecode": f"{UV} --link-mode=hardlink {COMMON}",
}
TIMED = (
    "{prepare} && started=$(date +%s.%N) && {install} && ended=$(date +%s.%N) && "
    'python3 -c "print($ended - $started)"'
)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    project = load_project(ROOT)
    experiment = project.experiment("cms")
    locks = load_locks(project, experiment)
    house = Wheelhouse(cache_dir(os.environ) / "wheels")
    by_hash = locks.facility.by_hash()
    client = docker.from_env(timeout=1800)
    image = "afenv/cms-worker:latest"  # the promoted pair: python3 and venv, as in core-build
    times: dict[str, list[float]] = {name: [] for name in INSTALLERS}
    with tempfile.TemporaryDirectory() as tmp:
        wheels = Path(tmp)
        (wheels / "build").mkdir()
        for _, sha in locks.core.pins.values():
            os.link(house.path(by_hash[sha]), wheels / by_hash[sha].filename)
        for _, sha in locks.build.pins.values():
            os.link(house.path(by_hash[sha]), wheels / "build" / by_hash[sha].filename)
        (wheels / "core.txt").write_text(render_requirements(locks.core.pins, header=["core"]))
        size = sum(p.stat().st_size for p in wheels.glob("*.whl"))
        for _ in range(args.runs):
            for name, command in INSTALLERS.items():
                output = client.containers.run(
                    image,
                    ["sh", "-c", TIMED.format(prepare=PREPARE, install=command)],
                    user="0",
                    entrypoint=[],
                    volumes={str(wheels): {"bind": "/wheels", "mode": "ro"}},
                    remove=True,
                    labels={"io.afenv.run": "bench-install", "io.afenv.purpose": "bench"},
                )
                times[name].append(float(output.decode().split()[-1]))
    medians = {name: statistics.median(values) for name, values in times.items()}
    results = {
        "machine": machine_description(),
        "wheels": len(locks.core.pins),
        "bytes": size,
        "runs": times,
        "median_s": medians,
        "uv_over_pip": medians["uv"] / medians["pip"],
        "uv_copied_over_pip": medians["uv, copied"] / medians["pip"],
        "uv_no_bytecode_over_pip": medians["uv, no bytecode"] / medians["pip"],
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "install.json").write_text(json.dumps(results, indent=2) + "\n")
    print(
        f"Core lock ({results['wheels']} wheels, {size / 1e6:.0f} MB) into a fresh venv in the "
        f"worker image, offline; {results['machine']}; medians of {args.runs}, alternating:\n"
    )
    print("| installer | median [s] | runs [s] |\n|---|---:|---|")
    for name in INSTALLERS:
        print(f"| {name} | {medians[name]:.1f} | {', '.join(f'{t:.1f}' for t in times[name])} |")
    print(
        f"\nuv / pip = {results['uv_over_pip']:.2f}; "
        f"uv copying / pip = {results['uv_copied_over_pip']:.2f}; "
        f"uv without bytecode / pip = {results['uv_no_bytecode_over_pip']:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

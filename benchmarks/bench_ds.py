"""Measure the Ds benchmark on this machine: the three modes side by side, and wall time vs size.

    python benchmarks/bench_ds.py [--events 2000000] [--files 8] [--repeats 3] [--work DIR]
    python benchmarks/bench_ds.py --from-json     # redo table and plot from results/ds.json

Generates ``--events`` once in ``--files`` equal files; datasets of 1, 2, 4, … files give the
sizes. Every run is a fresh ``afenv-bench ds run`` process, so times include what users pay
(RDataFrame JIT, Dask task start-up) except process start, cluster start and ACLiC compilation.
Writes ``benchmarks/results/ds.json`` and ``ds_scaling.png`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
MODES = ("local", "dask", "legacy")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work", type=Path, help="scratch directory (default: a temporary one)")
    parser.add_argument("--from-json", action="store_true", help="only re-render results/ds.json")
    args = parser.parse_args()
    if args.from_json:
        results = json.loads((RESULTS / "ds.json").read_text())
        plot(results, RESULTS / "ds_scaling.png")
        print(markdown(results))
        return 0
    with tempfile.TemporaryDirectory(prefix="afenv-bench-ds-") as scratch:
        work = args.work or Path(scratch)
        results = measure(work, events=args.events, files=args.files, repeats=args.repeats)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ds.json").write_text(json.dumps(results, indent=2) + "\n")
    plot(results, RESULTS / "ds_scaling.png")
    print(markdown(results))
    return 0


def measure(work: Path, *, events: int, files: int, repeats: int) -> dict:
    from afenv_bench.generator import generate

    summary = generate(work / "input", events=events, files=files, seed=2024)
    paths = [str(p) for p in summary.files]
    subsets = [n for n in (1, 2, 4, 8, 16, 32) if n <= files]
    side_by_side_files = subsets[-2] if len(subsets) > 1 else subsets[-1]

    side_by_side = {}
    for mode in MODES:
        runs = [run(work, mode, paths[:side_by_side_files]) for _ in range(repeats)]
        side_by_side[mode] = summarise(runs)
        print(f"# {mode}: {side_by_side[mode]['events_per_s']:,.0f} events/s", file=sys.stderr)
    scaling = {mode: [] for mode in MODES}
    for n in subsets:
        for mode in MODES:
            if n == side_by_side_files:
                scaling[mode].append(side_by_side[mode])
                continue
            scaling[mode].append(summarise([run(work, mode, paths[:n])]))
    return {
        "machine": machine(),
        "generator": {
            "events": summary.events,
            "seconds": summary.seconds,
            "events_per_min": summary.events / summary.seconds * 60,
        },
        "repeats": repeats,
        "side_by_side": side_by_side,
        "scaling": scaling,
    }


def machine() -> dict:
    from afenv_bench.report import cpu_model

    return {"nproc": os.cpu_count(), "cpu": cpu_model(), "date": dt.date.today().isoformat()}


def machine_description() -> str:
    """The machine as the build and validation tables name it."""
    return f"{os.cpu_count()} cores, {machine()['cpu']}"


def machine_line(results: dict) -> str:
    machine = results["machine"]
    return f"Machine: {machine['nproc']} cores ({machine['cpu']}), {machine['date']}"


def run(work: Path, mode: str, inputs: list[str]) -> dict:
    report_dir = work / f"report-{mode}-{len(inputs)}"
    command = [sys.executable, "-m", "afenv_bench", "ds", "run", "--input", *inputs, "--mode", mode]
    command += ["--report", str(report_dir)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    report = json.loads((report_dir / "report.json").read_text())
    return {"events": report["events"], "cutflow": report["cutflow"], **report["timing"]}


def summarise(runs: list[dict]) -> dict:
    first = runs[0]
    assert all(r["cutflow"] == first["cutflow"] for r in runs)
    wall = statistics.median(r["wall_s"] for r in runs)
    return {
        "events": first["events"],
        "cores": first["cores"],
        "wall_s": wall,
        "wall_s_runs": [r["wall_s"] for r in runs],
        "events_per_s": first["events"] / wall,
        "events_per_s_per_core": first["events"] / wall / first["cores"],
        "mb_per_s": first["input_mb"] / wall,
        "cutflow": first["cutflow"],
    }


def linear_fit(points: list[dict]) -> tuple[float, float]:
    """(fixed overhead in s, marginal events/s) from wall = overhead + events / rate."""
    x = [p["events"] for p in points]
    y = [p["wall_s"] for p in points]
    mean_x, mean_y = statistics.fmean(x), statistics.fmean(y)
    slope = sum((a - mean_x) * (b - mean_y) for a, b in zip(x, y, strict=True)) / sum(
        (a - mean_x) ** 2 for a in x
    )
    return mean_y - slope * mean_x, 1.0 / slope if slope > 0 else float("inf")


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.5), dpi=120)
    for mode, points in results["scaling"].items():
        x = [p["events"] / 1e6 for p in points]
        y = [p["wall_s"] for p in points]
        overhead, rate = linear_fit(points)
        label = f"{mode} ({points[0]['cores']} cores): {overhead:.1f} s + N / {rate / 1e3:,.0f}k/s"
        ax.plot(x, y, "o-", label=label)
    ax.set_xlabel("events [millions]")
    ax.set_ylabel("wall time of the event loop [s]")
    machine = results["machine"]
    ax.set_title(f"Ds benchmark scaling — {machine['nproc']} × {machine['cpu']}", fontsize=9)
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.legend(frameon=False, loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def markdown(results: dict) -> str:
    rows = [
        f"{machine_line(results)}; medians of {results['repeats']} runs. "
        f"Generator: {results['generator']['events_per_min'] / 1e6:.2f} M events/min on one core.",
        "",
        "| mode | events | cores | wall [s] | events/s | events/s per core | MB/s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for mode, s in results["side_by_side"].items():
        rows.append(
            f"| {mode} | {s['events']:,} | {s['cores']} | {s['wall_s']:.1f} "
            f"| {s['events_per_s']:,.0f} "
            f"| {s['events_per_s_per_core']:,.0f} | {s['mb_per_s']:.1f} |"
        )
    rows += [
        "",
        "| mode | fixed overhead [s] | marginal events/s | per core |",
        "|---|---:|---:|---:|",
    ]
    for mode, points in results["scaling"].items():
        overhead, rate = linear_fit(points)
        cores = points[0]["cores"]
        rows.append(f"| {mode} | {overhead:.1f} | {rate:,.0f} | {rate / cores:,.0f} |")
    rows += ["", "| events | " + " | ".join(f"{m} wall [s]" for m in MODES) + " |"]
    rows.append("|---:|" + "---:|" * len(MODES))
    sizes = [p["events"] for p in results["scaling"][MODES[0]]]
    for i, size in enumerate(sizes):
        cells = " | ".join(f"{results['scaling'][m][i]['wall_s']:.1f}" for m in MODES)
        rows.append(f"| {size:,} | {cells} |")
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())

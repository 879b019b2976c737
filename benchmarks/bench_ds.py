"""Measure the Ds benchmark on this machine: the three modes and the I/O ceiling side by side,
and wall time vs size from 0.25 to 10 M events.

    python benchmarks/bench_ds.py [--events 2000000] [--files 8] [--repeats 3] [--work DIR]
    python benchmarks/bench_ds.py --from-json     # redo table and plot from results/ds.json

Generates ``--events`` once in ``--files`` equal files. The side-by-side rows use them all;
the scaling series uses 1, 2, 4, … of them and then the whole set repeated (a chain may list a
file twice), up to ``--max-events``, so 10 M events need 2 M generated. Every run is a fresh
``afenv-bench ds run`` process, so times include what users pay (RDataFrame JIT, Dask task
start-up) except process start, cluster start and the one-off C++ compilation. ``read`` is one
thread reading every branch the selection uses, for every event (``read_branches.C``): the
ceiling for a reader that is not lazy. ``legacy-parallel`` runs one legacy process per core at
once, each on its share of the files: what this machine gives serial code on all its cores, the
ceiling for the per-core comparison (on a virtual machine two vCPUs need not give twice one).
``dask-warm`` is the dask series again on ONE cluster kept between computations, as a notebook
keeps it, after one warm-up computation: every worker has imported ROOT and JIT-compiled the
graph before the timed runs, so its slope is the marginal rate without the noise of each fresh
cluster's start-up (which the fresh series' intercept carries). Each of its computations is
followed by a local-mode run on the same files (``local-beside``), so the warm-cluster / local
ratio compares runs seconds apart, not series up to a quarter of an hour apart: this machine's
speed drifts by up to 1.5x within an hour. The idle cluster's CPU during those local runs is
recorded. Writes ``benchmarks/results/ds.json`` and ``ds_scaling.png`` and prints Markdown
tables.
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
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
MODES = ("local", "dask", "legacy")
READ = "read"  # the I/O ceiling, measured beside the modes
PARALLEL = "legacy-parallel"  # one legacy process per core at once: the machine's own scaling
WARM = "dask-warm"  # the dask series on one cluster kept between computations
BESIDE = "local-beside"  # local mode run after each warm computation, on the same files
HERE = Path(__file__).resolve().parent
# Every branch the selection reads (the I/O ceiling reads them all, for every event).
BRANCHES = [
    "Trigger_hltname",
    "Trigger_hltdecision",
    "Trigger_l1name",
    "Trigger_l1decision",
    "Triplet2_Mass",
    "RefittedPV2_NTracks",
    "FlightDistBS_SV_Significance",
    "TripletVtx2_Chi2",
    "Mu01_Pt",
    "Mu01_Eta",
    "Mu01_Phi",
    "Mu02_Pt",
    "Mu02_Eta",
    "Mu02_Phi",
    "Tr_Pt",
    "Tr_Eta",
    "Tr_Phi",
    "RefTrack1_Pt",
    "RefTrack1_Eta",
    "RefTrack1_Phi",
    "RefTrack2_Pt",
    "RefTrack2_Eta",
    "RefTrack2_Phi",
    "MuonPt",
    "Muon_isGlobal",
    "Muon_isPF",
    "TrackPt",
    "Track_dz",
    "Track_dxy",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work", type=Path, help="scratch directory (default: a temporary one)")
    parser.add_argument("--max-events", type=int, default=10_000_000)
    parser.add_argument("--from-json", action="store_true", help="only re-render results/ds.json")
    parser.add_argument("--read-only", nargs="+", metavar="FILE", help=argparse.SUPPRESS)
    parser.add_argument("--dask-warm", type=Path, metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.read_only:
        print(json.dumps(read_only(args.read_only)))
        return 0
    if args.dask_warm:
        subsets = json.loads((args.dask_warm / "subsets.json").read_text())
        series = warm_series(args.dask_warm, subsets, passes=args.repeats)
        (args.dask_warm / "warm.json").write_text(json.dumps(series))
        return 0
    if args.from_json:
        results = json.loads((RESULTS / "ds.json").read_text())
        plot(results, RESULTS / "ds_scaling.png")
        print(markdown(results))
        return 0
    with tempfile.TemporaryDirectory(prefix="afenv-bench-ds-") as scratch:
        work = args.work or Path(scratch)
        results = measure(
            work,
            events=args.events,
            files=args.files,
            repeats=args.repeats,
            max_events=args.max_events,
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ds.json").write_text(json.dumps(results, indent=2) + "\n")
    plot(results, RESULTS / "ds_scaling.png")
    print(markdown(results))
    return 0


def measure(work: Path, *, events: int, files: int, repeats: int, max_events: int) -> dict:
    from afenv_bench.generator import generate

    summary = generate(work / "input", events=events, files=files, seed=2024)
    paths = [str(p) for p in summary.files]
    per_file = summary.events // files
    subsets = [paths[:n] for n in (1, 2, 4, 8, 16, 32) if n < files] + [paths]
    for copies in (2.5, 5):  # the whole set listed again: 5 and 10 M events from 2 M generated
        n = round(files * copies)
        if n * per_file <= max_events:
            subsets.append([paths[i % files] for i in range(n)])

    side_by_side = {}
    for mode in (*MODES, PARALLEL, READ):
        runs = [run(work, mode, paths) for _ in range(repeats)]
        side_by_side[mode] = summarise(runs)
        print(f"# {mode}: {side_by_side[mode]['events_per_s']:,.0f} events/s", file=sys.stderr)
    # The processes' cutflows add up to the one process's: every file was read once.
    assert side_by_side[PARALLEL]["cutflow"] == side_by_side["legacy"]["cutflow"]
    scaling: dict[str, list[dict]] = {mode: [] for mode in MODES}
    for inputs in subsets:
        for mode in MODES:
            if inputs == paths:
                scaling[mode].append(side_by_side[mode])
                continue
            scaling[mode].append(summarise([run(work, mode, inputs)]))
        print(f"# scaling: {len(inputs)} files done", file=sys.stderr)
    warm = run_warm(work, subsets, passes=min(repeats, 2))
    for fresh, kept in zip(scaling["dask"], warm["points"], strict=True):
        assert fresh["cutflow"] == kept["cutflow"]
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
        "warm": warm,
    }


def run_warm(work: Path, subsets: list[list[str]], *, passes: int) -> dict[str, Any]:
    """The dask series on one cluster, in a process of its own (``--dask-warm``)."""
    folder = work / WARM
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "subsets.json").write_text(json.dumps(subsets))
    command = [sys.executable, str(Path(__file__).resolve()), "--dask-warm", str(folder)]
    subprocess.run([*command, "--repeats", str(passes)], check=True, stdout=subprocess.DEVNULL)
    series: dict[str, Any] = json.loads((folder / "warm.json").read_text())
    return series


def warm_series(work: Path, subsets: list[list[str]], *, passes: int) -> dict[str, Any]:
    """One cluster as ``--mode dask`` starts it: a warm-up computation on one file, then
    ``passes`` rounds over the subsets, each computation followed by a local-mode run on the
    same files (in ``work``); each size's median wall time, for both."""
    from afenv_bench import analysis
    from afenv_bench.inputs import resolve

    datasets = [resolve(inputs) for inputs in subsets]
    rounds: list[list[Any]] = [[] for _ in range(passes)]
    beside: list[list[dict[str, Any]]] = [[] for _ in range(passes)]
    idle_cpu_s = local_elapsed_s = 0.0
    with analysis._dask_client(None, 0, 10.0) as client:
        warm_up = analysis.run_on_client(resolve(subsets[0][:1]), client)
        for done, local_runs in zip(rounds, beside, strict=True):
            for inputs, dataset in zip(subsets, datasets, strict=True):
                done.append(analysis.run_on_client(dataset, client))
                before, started = _workers_cpu_s(client), time.perf_counter()
                local_runs.append(run(work, "local", inputs))
                idle_cpu_s += _workers_cpu_s(client) - before
                local_elapsed_s += time.perf_counter() - started
    points, local_points = [], []
    for i, dataset in enumerate(datasets):
        runs = [r[i] for r in rounds]
        assert all(r.cutflow == runs[0].cutflow for r in runs)
        wall = statistics.median(r.wall_s for r in runs)
        points.append(
            {
                "events": runs[0].events,
                "cores": runs[0].cores,
                "wall_s": wall,
                "wall_s_runs": [r.wall_s for r in runs],
                "events_per_s": runs[0].events / wall,
                "mb_per_s": dataset.size_bytes / 1e6 / wall,
                "cutflow": runs[0].cutflow,
            }
        )
        local_points.append(summarise([r[i] for r in beside]))
        assert local_points[-1]["cutflow"] == runs[0].cutflow
    return {
        "warm_up_s": warm_up.wall_s,
        "warm_up_events": warm_up.events,
        "points": points,
        BESIDE: local_points,
        # What the idle cluster took from the machine while the local processes ran.
        "idle_workers_cpu_s": idle_cpu_s,
        "local_beside_elapsed_s": local_elapsed_s,
    }


def _workers_cpu_s(client: Any) -> float:
    """CPU seconds the cluster's worker processes have used so far."""

    def own_cpu() -> float:
        import resource

        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    return float(sum(client.run(own_cpu).values()))


def read_only(files: list[str]) -> dict:
    """The I/O ceiling in this process: compile read_branches.C, time one pass."""
    from afenv_bench import _root

    ROOT = _root.root()
    _root.compile_macro(HERE / "read_branches.C")
    started = time.perf_counter()
    events = int(ROOT.read_branches(files, "Tree3Mu/ntuple", BRANCHES))
    wall = time.perf_counter() - started
    mb = sum(Path(f).stat().st_size for f in files) / 1e6
    return {"events": events, "cutflow": [events], "wall_s": wall, "cores": 1, "input_mb": mb}


def machine() -> dict:
    from afenv_bench.report import cpu_model

    return {"nproc": os.cpu_count(), "cpu": cpu_model(), "date": dt.date.today().isoformat()}


def machine_description() -> str:
    """The machine as the build and validation tables name it."""
    return f"{os.cpu_count()} cores, {machine()['cpu']}"


def machine_line(results: dict) -> str:
    machine = results["machine"]
    return f"Machine: {machine['nproc']} cores ({machine['cpu']}), {machine['date']}"


def run_parallel(work: Path, inputs: list[str]) -> dict:
    """One legacy process per core, started together, each on every n-th file; the wall time
    is the slowest process's event loop, the cutflow the sum (it must equal one process's)."""
    cores = os.cpu_count() or 1
    processes = []
    for i in range(cores):
        report_dir = work / f"report-{PARALLEL}-{i}"
        command = [sys.executable, "-m", "afenv_bench", "ds", "run", "--mode", "legacy"]
        command += ["--input", *inputs[i::cores], "--report", str(report_dir)]
        processes.append((subprocess.Popen(command, stdout=subprocess.DEVNULL), report_dir))
    reports = []
    for process, report_dir in processes:
        if process.wait() != 0:
            raise SystemExit(f"{PARALLEL}: a legacy process failed ({process.returncode})")
        reports.append(json.loads((report_dir / "report.json").read_text()))
    return {
        "events": sum(r["events"] for r in reports),
        "cutflow": [sum(step) for step in zip(*(r["cutflow"] for r in reports), strict=True)],
        "wall_s": max(r["timing"]["wall_s"] for r in reports),
        "cores": cores,
        "input_mb": sum(r["timing"]["input_mb"] for r in reports),
    }


def run(work: Path, mode: str, inputs: list[str]) -> dict:
    if mode == PARALLEL:
        return run_parallel(work, inputs)
    if mode == READ:
        command = [sys.executable, str(Path(__file__).resolve()), "--read-only", *inputs]
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        return json.loads(done.stdout.strip().splitlines()[-1])
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


def linear_fit(points: list[dict]) -> tuple[float, float, float]:
    """(fixed overhead in s, marginal events/s, R²) from wall = overhead + events / rate."""
    x = [p["events"] for p in points]
    y = [p["wall_s"] for p in points]
    mean_x, mean_y = statistics.fmean(x), statistics.fmean(y)
    slope = sum((a - mean_x) * (b - mean_y) for a, b in zip(x, y, strict=True)) / sum(
        (a - mean_x) ** 2 for a in x
    )
    overhead = mean_y - slope * mean_x
    residual = sum((b - (overhead + slope * a)) ** 2 for a, b in zip(x, y, strict=True))
    total = sum((b - mean_y) ** 2 for b in y)
    r2 = 1 - residual / total if total > 0 else 1.0
    return overhead, (1.0 / slope if slope > 0 else float("inf")), r2


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.5), dpi=120)
    series = dict(results["scaling"])
    if "warm" in results:
        series[WARM] = results["warm"]["points"]
        if BESIDE in results["warm"]:
            series[BESIDE] = results["warm"][BESIDE]
    for mode, points in series.items():
        x = [p["events"] / 1e6 for p in points]
        y = [p["wall_s"] for p in points]
        overhead, rate, r2 = linear_fit(points)
        label = (
            f"{mode} ({points[0]['cores']} cores): {overhead:.1f} s + N / {rate / 1e3:,.0f}k/s"
            f" (R² {r2:.4f})"
        )
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
    side = results["side_by_side"]
    rows = [
        f"{machine_line(results)}; medians of {results['repeats']} runs. "
        f"Generator: {results['generator']['events_per_min'] / 1e6:.2f} M events/min on one core.",
        "",
        "| mode | events | cores | wall [s] | events/s | events/s per core | MB/s | wall / read |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for mode, s in side.items():
        ratio = s["wall_s"] / side[READ]["wall_s"] if READ in side else float("nan")
        rows.append(
            f"| {mode} | {s['events']:,} | {s['cores']} | {s['wall_s']:.2f} "
            f"| {s['events_per_s']:,.0f} | {s['events_per_s_per_core']:,.0f} "
            f"| {s['mb_per_s']:.1f} | {ratio:.2f} |"
        )
    rows += [
        "",
        "| mode | fixed overhead [s] | marginal events/s | per core | R² |",
        "|---|---:|---:|---:|---:|",
    ]
    fits = {}
    for mode, points in results["scaling"].items():
        overhead, rate, r2 = fits[mode] = linear_fit(points)
        cores = points[0]["cores"]
        rows.append(f"| {mode} | {overhead:.2f} | {rate:,.0f} | {rate / cores:,.0f} | {r2:.4f} |")
    if "warm" in results:
        overhead, rate, r2 = fits[WARM] = linear_fit(results["warm"]["points"])
        cores = results["warm"]["points"][0]["cores"]
        rows.append(
            f"| {WARM} (one cluster) | {overhead:.2f} | {rate:,.0f} | {rate / cores:,.0f} "
            f"| {r2:.4f} |"
        )
        if BESIDE in results["warm"]:
            beside = results["warm"][BESIDE]
            overhead, rate, r2 = fits[BESIDE] = linear_fit(beside)
            rows.append(
                f"| {BESIDE} (after each warm computation) | {overhead:.2f} | {rate:,.0f} "
                f"| {rate / beside[0]['cores']:,.0f} | {r2:.4f} |"
            )
    per_core = {m: fits[m][1] / results["scaling"][m][0]["cores"] for m in results["scaling"]}
    rows += [
        "",
        "| ratio (targets of issue 10) | measured | target |",
        "|---|---:|---:|",
        f"| local wall / legacy wall, {side['local']['events']:,} events "
        f"| {side['local']['wall_s'] / side['legacy']['wall_s']:.2f} | ≤ 0.6 |",
        f"| local marginal rate per core / legacy per core "
        f"| {per_core['local'] / per_core['legacy']:.2f} | ≥ 0.9 |",
        f"| local fixed overhead [s] | {fits['local'][0]:.2f} | ≤ 2 |",
        f"| dask marginal rate (a fresh cluster for every point) / local marginal rate "
        # Not the target's figure: every point carries a new cluster's start-up (see the R²).
        f"| {fits['dask'][1] / fits['local'][1]:.2f} | |",
    ]
    if WARM in fits:
        warm = results["warm"]
        if BESIDE in fits:
            rows.append(
                f"| dask marginal rate on one warm cluster / local marginal rate, each "
                f"computation followed by a local run on the same files "
                f"| {fits[WARM][1] / fits[BESIDE][1]:.2f} | ≥ 0.8 |"
            )
        rows += [
            f"| dask marginal rate on one warm cluster / local marginal rate of the scaling "
            f"series (measured earlier in the run) "
            f"| {fits[WARM][1] / fits['local'][1]:.2f} | |",
            f"| dask on fresh workers, first computation ({warm['warm_up_events']:,} events) "
            f"[s] | {warm['warm_up_s']:.2f} | |",
        ]
        if BESIDE in warm:
            idle = warm["idle_workers_cpu_s"] / warm["local_beside_elapsed_s"]
            rows.append(
                "| the idle cluster's CPU while the local processes ran beside it, "
                f"core-seconds per second | {idle:.3f} | |"
            )
    if PARALLEL in side:
        parallel = side[PARALLEL]
        scaling = parallel["events_per_s_per_core"] / side["legacy"]["events_per_s"]
        rows += [
            f"| (this machine) {parallel['cores']} legacy processes at once, events/s per core "
            f"/ one alone | {scaling:.2f} | |",
            f"| local events/s per core / {parallel['cores']} legacy processes' per core, "
            f"{side['local']['events']:,} events "
            f"| {side['local']['events_per_s_per_core'] / parallel['events_per_s_per_core']:.2f}"
            " | |",
        ]
    columns = {m: results["scaling"][m] for m in MODES}
    if "warm" in results:
        columns[WARM] = results["warm"]["points"]
        if BESIDE in results["warm"]:
            columns[BESIDE] = results["warm"][BESIDE]
    rows += ["", "| events | " + " | ".join(f"{m} wall [s]" for m in columns) + " |"]
    rows.append("|---:|" + "---:|" * len(columns))
    sizes = [p["events"] for p in results["scaling"][MODES[0]]]
    for i, size in enumerate(sizes):
        cells = " | ".join(f"{points[i]['wall_s']:.2f}" for points in columns.values())
        rows.append(f"| {size:,} | {cells} |")
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())

"""The run report: ``report.json``, the fitted mass plot ``mass_fit.png`` and ``report.html``.

``report.json`` (schema 1) holds at least ``mode``, ``events``, ``cutflow`` (7 integers: events
read, then events with a candidate passing steps 1..6), ``histogram`` (``bins``, ``low``,
``high``, ``counts`` without under/overflow), ``selected``, ``fit``, ``timing`` and ``versions``.
The plot and page are rendered from the JSON alone, so ``afenv-bench ds report`` can redo them
anywhere matplotlib is installed.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import platform
import socket
from pathlib import Path

import numpy as np

from afenv_bench import fit as fitting

__all__ = ["CUTFLOW_STEPS", "build", "load", "render", "write"]

SCHEMA = 1
REPORT_JSON = "report.json"
PLOT_PNG = "mass_fit.png"
REPORT_HTML = "report.html"
DASK_REPORT = "dask-report.html"
CUTFLOW_STEPS = (
    "events read",
    "trigger",
    "triplet mass, PV tracks, flight significance",
    "muon and track acceptance",
    "ΔR of the three pairs",
    "muon ID and track quality",
    "φ(μμ) mass window",
)


def build(
    result, *, fit_result: dict, truth: dict | None, dataset, settings: dict, total_s: float
) -> dict:
    """The report as plain data, from an AnalysisResult, the fit and the checked Dataset."""
    from afenv_bench.analysis import HISTOGRAM

    events_per_s = result.events / result.wall_s if result.wall_s > 0 else 0.0
    megabytes = dataset.size_bytes / 1e6
    return {
        "schema": SCHEMA,
        "benchmark": "ds",
        "mode": result.mode,
        "events": result.events,
        "cutflow": result.cutflow,
        "cutflow_steps": list(CUTFLOW_STEPS),
        "histogram": {**HISTOGRAM, "counts": result.counts},
        "selected": result.cutflow[-1],
        "fit": {**fit_result, "truth_check": truth},
        "timing": {
            "wall_s": round(result.wall_s, 4),
            "total_s": round(total_s, 4),
            "cores": result.cores,
            "events_per_s": round(events_per_s, 1),
            "events_per_s_per_core": round(events_per_s / result.cores, 1),
            "input_mb": round(megabytes, 3),
            "mb_per_s": round(megabytes / result.wall_s, 3) if result.wall_s > 0 else 0.0,
            "note": "wall_s: the event loop, with RDataFrame JIT, without ACLiC compilation",
        },
        "settings": {
            "inputs": dataset.files,
            "tree": dataset.tree,
            "files": len(dataset.files),
            **settings,
            **result.settings,
        },
        "outputs": {
            "harvest": str(result.harvest) if result.harvest else None,
            "plot": PLOT_PNG,
            "html": REPORT_HTML,
            "dask_report": DASK_REPORT if result.settings.get("dask_report") else None,
        },
        "versions": versions(),
        "host": {
            "hostname": socket.gethostname(),
            "nproc": os.cpu_count(),
            "cpu": cpu_model(),
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        },
    }


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    from afenv_bench import _root

    found = {"root": str(_root.root().gROOT.GetVersion()), "python": platform.python_version()}
    for package in ("dask", "distributed", "numpy", "matplotlib"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "absent"
    return found


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def write(report: dict, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / REPORT_JSON
    path.write_text(json.dumps(report, indent=2) + "\n")
    render(directory)
    return path


def load(directory: Path) -> dict:
    from afenv_bench.errors import InputError

    path = directory / REPORT_JSON
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise InputError(
            f"cannot read {path}: {error} — run `afenv-bench ds run --report {directory}` first"
        ) from error


def render(directory: Path) -> None:
    """(Re)write the PNG and HTML from ``report.json`` in ``directory``."""
    report = load(directory)
    _plot(report, directory / PLOT_PNG)
    (directory / REPORT_HTML).write_text(_html(report))


def _plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hist = report["histogram"]
    edges = np.linspace(hist["low"], hist["high"], hist["bins"] + 1)
    centres = 0.5 * (edges[1:] + edges[:-1])
    counts = np.asarray(hist["counts"], dtype=float)
    width = edges[1] - edges[0]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    ax.errorbar(
        centres, counts, yerr=np.sqrt(counts), fmt="o", ms=3, color="black", label="selected"
    )
    fit_result = report["fit"]
    if fit_result.get("parameters"):
        low, high = fit_result["range"]
        x = np.linspace(low, high, 400)
        parts = fitting.curve(fit_result, x, width)
        ax.plot(x, parts["total"], color="tab:blue", label="fit")
        ax.plot(x, parts["background"], "--", color="tab:gray", label="combinatorial")
        y = fit_result["yields"]
        ax.plot(x, parts["ds"] + parts["background"], ":", color="tab:red",
                label=f"Ds⁺ {y['ds']['value']:.0f} ± {y['ds']['error']:.0f}")  # fmt: skip
        ax.plot(x, parts["dplus"] + parts["background"], ":", color="tab:green",
                label=f"D⁺ {y['dplus']['value']:.0f} ± {y['dplus']['error']:.0f}")  # fmt: skip
    ax.set_xlabel("m(μμπ) [GeV]")
    ax.set_ylabel(f"candidates / {1000 * width:.2f} MeV")
    ax.set_title(f"Ds⁺ → φ(μμ)π⁺, {report['mode']} mode, {report['events']:,} events")
    ax.set_xlim(hist["low"], hist["high"])
    ax.legend(frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _html(report: dict) -> str:
    e = html.escape
    timing = report["timing"]
    rows = "".join(
        f"<tr><td>{k}</td><td>{e(step)}</td><td>{n:,}</td></tr>"
        for k, (step, n) in enumerate(
            zip(report.get("cutflow_steps", CUTFLOW_STEPS), report["cutflow"], strict=True)
        )
    )
    yields = "".join(
        f"<tr><td>{e(name)}</td><td>{v['value']:.1f} ± {v['error']:.1f}</td></tr>"
        for name, v in report["fit"].get("yields", {}).items()
    )
    links = [f'<a href="{REPORT_JSON}">report.json</a>']
    if report.get("outputs", {}).get("dask_report"):
        links.append(f'<a href="{DASK_REPORT}">Dask performance report</a>')
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>afenv Ds benchmark — {e(report["mode"])}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}
td{{padding:0 1em}}</style></head>
<body>
<h1>Ds⁺ → φ(μμ)π⁺ benchmark, {e(report["mode"])} mode</h1>
<p>{report["events"]:,} events in {timing["wall_s"]:.2f} s: {timing["events_per_s"]:,.0f} events/s,
{timing["events_per_s_per_core"]:,.0f} events/s per core on {timing["cores"]} cores,
{timing["mb_per_s"]:.1f} MB/s.</p>
<img src="{PLOT_PNG}" alt="fitted BestTriplet_mass">
<h2>Cutflow</h2><table><tr><th>step</th><th>cut</th><th>events</th></tr>{rows}</table>
<h2>Fit (status {report["fit"].get("status")})</h2><table>{yields}</table>
<h2>Versions</h2><p>{e(", ".join(f"{k} {v}" for k, v in report["versions"].items()))}</p>
<p>{" · ".join(links)}</p>
</body></html>
"""

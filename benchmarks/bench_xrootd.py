"""What reading through XRootD costs: the Ds benchmark over local paths and over root:// URLs.

    .venv/bin/python benchmarks/bench_xrootd.py [--events 1000000] [--files 4] [--repeats 3]

The same generated files are read as local paths and as ``root://`` URLs of a real XRootD server
(Debian's ``xrootd``, started here on a loopback address ROOT treats as another host, so every
byte goes through the XRootD protocol). Path and URL runs alternate within each repeat, so both
see the same machine load. Loopback has no network latency or bandwidth limit: the ratio is the
protocol's own cost on this machine, not what a facility's storage network delivers.
Writes ``benchmarks/results/xrootd.json`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

# The repository root goes on the path: the server helper lives with the tests. bench_ds is
# found as this script's neighbour.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_ds import MODES, machine, machine_line, run, summarise

from afenv.testing import xrootd as xrootd_server

RESULTS = Path(__file__).resolve().parent / "results"
SOURCES = ("path", "root://")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--from-json", action="store_true", help="only re-render the table")
    args = parser.parse_args()
    if not args.from_json:
        with tempfile.TemporaryDirectory(prefix="afenv-bench-xrootd-") as scratch:
            results = measure(Path(scratch), args.events, args.files, args.repeats)
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "xrootd.json").write_text(json.dumps(results, indent=2) + "\n")
    print(markdown(json.loads((RESULTS / "xrootd.json").read_text())))
    return 0


def measure(work: Path, events: int, files: int, repeats: int) -> dict:
    from afenv_bench.generator import generate

    paths = generate(work / "input", events=events, files=files, seed=2026).files
    _, remote_host = xrootd_server.hosts()
    runs: dict[str, dict[str, list[dict]]] = {m: {s: [] for s in SOURCES} for m in MODES}
    with xrootd_server.serve(paths) as (port, served):
        inputs = {
            "path": [str(p) for p in paths],
            "root://": [f"root://{remote_host}:{port}/{p}" for p in served],
        }
        for repeat in range(repeats):
            for mode in MODES:
                for source in SOURCES:
                    runs[mode][source].append(run(work, mode, inputs[source]))
                    print(f"# {repeat + 1}/{repeats} {mode} {source}", file=sys.stderr)
    summary = {}
    for mode in MODES:
        by_source = {source: summarise(runs[mode][source]) for source in SOURCES}
        path, url = by_source["path"], by_source["root://"]
        if path["cutflow"] != url["cutflow"]:
            raise SystemExit(f"{mode}: root:// and path runs disagree on the cutflow")
        summary[mode] = {**by_source, "url_over_path_wall": url["wall_s"] / path["wall_s"]}
    return {
        "machine": machine(),
        "events": events,
        "files": files,
        "repeats": repeats,
        "server": f"xrootd on {remote_host} (loopback)",
        "modes": summary,
    }


def markdown(results: dict) -> str:
    rows = [
        f"{machine_line(results)}; {results['events']:,} events in {results['files']} files; "
        f"medians of {results['repeats']} runs, path and root:// alternating; "
        f"{results['server']}.",
        "",
        "| mode | path: events/s | root://: events/s | path: MB/s | root://: MB/s "
        "| root:// wall / path wall |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for mode, s in results["modes"].items():
        path, url = s["path"], s["root://"]
        rows.append(
            f"| {mode} | {path['events_per_s']:,.0f} | {url['events_per_s']:,.0f} "
            f"| {path['mb_per_s']:.1f} | {url['mb_per_s']:.1f} | {s['url_over_path_wall']:.2f} |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())

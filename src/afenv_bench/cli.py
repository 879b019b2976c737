"""``afenv-bench``: generate Ds ntuples, run the benchmark in one of three modes, render its report.

    afenv-bench ds generate --out DIR --events N --files K --seed S
    afenv-bench ds run --input PATH|GLOB|URL [more…] --mode local|dask|legacy
                       [--scheduler tcp://HOST:PORT] [--threads N] [--harvest OUT.root] --report DIR
    afenv-bench ds report --report DIR

Failures print one line, ``afenv-bench: error: <what> — <what to do>``, and exit non-zero
(see ``afenv_bench.errors`` for the codes).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import time
from pathlib import Path

from afenv_bench.errors import BenchError, InputError

__all__ = ["main"]

PROG = "afenv-bench"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.handler(args)
    except BenchError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print(f"{PROG}: error: interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="The afenv analysis-facility benchmarks."
    )
    benchmarks = parser.add_subparsers(dest="benchmark", required=True, metavar="BENCHMARK")
    ds = benchmarks.add_parser("ds", help="Ds+ -> phi(mumu) pi+ selection and mass fit")
    commands = ds.add_subparsers(dest="command", required=True, metavar="COMMAND")

    generate = commands.add_parser(
        "generate", help="write synthetic Tree3Mu/ntuple files and truth.json"
    )
    generate.add_argument("--out", type=Path, required=True, help="output directory")
    generate.add_argument(
        "--events", type=int, default=100_000, help="events in total (default 100000)"
    )
    generate.add_argument("--files", type=int, default=4, help="number of files (default 4)")
    generate.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    generate.set_defaults(handler=_generate)

    run = commands.add_parser("run", help="run the selection and fit, write a report")
    run.add_argument(
        "--input", nargs="+", required=True, metavar="PATH|GLOB|URL", help="input ROOT files"
    )
    run.add_argument("--mode", choices=("local", "dask", "legacy"), default="local")
    run.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="Dask scheduler (dask mode; default: local cluster)",
    )
    run.add_argument(
        "--threads",
        type=int,
        default=0,
        help="local: implicit-MT threads; dask without --scheduler: worker processes;"
        " 0 = all cores",
    )
    run.add_argument(
        "--harvest", type=Path, metavar="OUT.root", help="write the selected events to this file"
    )
    run.add_argument("--report", type=Path, required=True, metavar="DIR", help="report directory")
    run.add_argument(
        "--tree", default="Tree3Mu/ntuple", help="tree path in the files (default Tree3Mu/ntuple)"
    )
    run.add_argument(
        "--npartitions", type=int, help="dask: number of tasks (default: 2 per worker core)"
    )
    run.add_argument(
        "--timeout", type=float, default=10.0, help="dask: seconds to wait for the scheduler"
    )
    run.set_defaults(handler=_run)

    report = commands.add_parser(
        "report", help="re-render mass_fit.png and report.html from report.json"
    )
    report.add_argument(
        "--report", type=Path, required=True, metavar="DIR", help="report directory"
    )
    report.set_defaults(handler=_report)

    prepare = commands.add_parser(
        "prepare",
        help="compile the RDataFrame selection libraries into DIR (images do this at build"
        " time and set AFENV_BENCH_PREBUILT=DIR)",
    )
    prepare.add_argument("--out", type=Path, required=True, metavar="DIR")
    prepare.set_defaults(handler=_prepare)
    return parser


def _generate(args: argparse.Namespace) -> int:
    from afenv_bench.generator import generate

    summary = generate(args.out, events=args.events, files=args.files, seed=args.seed)
    rate = summary.events / summary.seconds * 60 if summary.seconds > 0 else 0.0
    print(
        f"generated {summary.events:,} events in {len(summary.files)} files under {args.out} "
        f"({summary.ds:,} Ds+, {summary.dplus:,} D+; {summary.seconds:.1f} s,"
        f" {rate / 1e6:.2f} M events/min)"
    )
    return 0


def _run(args: argparse.Namespace) -> int:
    from afenv_bench import analysis, fit, inputs, report

    if args.threads < 0:
        raise InputError(
            f"--threads {args.threads} is negative — use 0 for all cores or a positive number"
        )
    if args.scheduler and args.mode != "dask":
        raise InputError(
            f"--scheduler is only used with --mode dask, not {args.mode}"
            " — drop it or add --mode dask"
        )
    started = time.perf_counter()
    dataset = inputs.resolve(args.input, args.tree)
    args.report.mkdir(parents=True, exist_ok=True)
    harvest = args.harvest.resolve() if args.harvest else None
    # Distributed RDataFrame draws a text progress bar on stdout; it would bury the summary.
    with contextlib.redirect_stdout(io.StringIO()):
        result = analysis.run(
            dataset,
            args.mode,
            threads=args.threads,
            scheduler=args.scheduler,
            harvest=harvest,
            dask_report=args.report / report.DASK_REPORT if args.mode == "dask" else None,
            npartitions=args.npartitions,
            timeout=args.timeout,
        )
    hist = analysis.HISTOGRAM
    fit_result = fit.fit(result.counts, bins=hist["bins"], low=hist["low"], high=hist["high"])
    truth = None
    if result.truth is not None:
        fit_bins = fit.fit_range(hist["bins"], hist["low"], hist["high"])[2]
        truth = fit.truth_check(fit_result, result.truth, fit_bins=fit_bins)
        generated = _generated_truth(dataset.files)
        if generated is not None:
            truth["generated"] = generated
    document = report.build(
        result,
        fit_result=fit_result,
        truth=truth,
        dataset=dataset,
        settings={"mode_option_threads": args.threads},
        total_s=time.perf_counter() - started,
    )
    path = report.write(document, args.report)
    _print_summary(document, path)
    return 0


def _prepare(args: argparse.Namespace) -> int:
    from afenv_bench import prepare

    return prepare.main([str(args.out)])


def _report(args: argparse.Namespace) -> int:
    from afenv_bench import report

    report.render(args.report)
    _print_summary(report.load(args.report), args.report / report.REPORT_JSON)
    return 0


def _generated_truth(files: list[str]) -> dict | None:
    """Numbers generated, from the generator's truth.json beside the (local) inputs, if any."""
    from afenv_bench.generator import TRUTH_FILE

    directories = {Path(f).parent for f in files if "://" not in f}
    if len(directories) != 1:
        return None
    path = directories.pop() / TRUTH_FILE
    try:
        return json.loads(path.read_text()).get("generated")
    except (OSError, json.JSONDecodeError):
        return None


def _print_summary(document: dict, path: Path) -> None:
    timing = document["timing"]
    yields = document["fit"].get("yields", {})
    ds, dplus = yields.get("ds", {}), yields.get("dplus", {})
    print(
        f"{document['mode']}: {document['events']:,} events, {document['selected']:,} selected, "
        f"{timing['events_per_s']:,.0f} events/s ({timing['events_per_s_per_core']:,.0f}/core, "
        f"{timing['cores']} cores); Ds+ {ds.get('value', 0):.0f} ± {ds.get('error', 0):.0f}, "
        f"D+ {dplus.get('value', 0):.0f} ± {dplus.get('error', 0):.0f}; report {path}"
    )

"""Command line: parse, call, print. Errors become one line and an exit code."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from afenv import __version__
from afenv.config import Project, load_project
from afenv.errors import AfenvError, Interrupted, LockError
from afenv.ui import UI

if TYPE_CHECKING:
    from docker import DockerClient

    from afenv.validate import Pair

__all__ = ["main"]


def _cache_dir(env: Mapping[str, str]) -> Path:
    if env.get("AFENV_CACHE"):
        return Path(env["AFENV_CACHE"])
    base = env.get("XDG_CACHE_HOME") or str(Path(env.get("HOME", "/root")) / ".cache")
    return Path(base) / "afenv"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="afenv", description="Reproducible, validated analysis-facility images."
    )
    parser.add_argument("--version", action="version", version=f"afenv {__version__}")
    parser.add_argument(
        "--project",
        type=Path,
        default=Path.cwd(),
        help="project folder holding envs/ and images/ (default: current folder)",
    )
    output = argparse.ArgumentParser(add_help=False)
    group = output.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", action="store_const", dest="mode", const="quiet")
    group.add_argument("-v", "--verbose", action="store_const", dest="mode", const="verbose")
    group.add_argument(
        "--json",
        action="store_const",
        dest="mode",
        const="json",
        help="print the result as JSON on stdout (progress as JSON lines on stderr)",
    )
    output.set_defaults(mode="normal")

    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    lock = commands.add_parser("lock", parents=[output], help="resolve the facility lock")
    lock.add_argument(
        "--check", action="store_true", help="exit 3 if the lock is behind its inputs"
    )

    build = commands.add_parser("build", parents=[output], help="build an experiment's image pair")
    build.add_argument("experiment")
    build.add_argument("--refresh-base", action="store_true", help="bootstrap the base anew")
    build.add_argument("--no-validate", action="store_true", help="build only, skip validation")

    build.add_argument("--workers", type=int, default=2, help="Dask workers for validation")

    validate = commands.add_parser(
        "validate", parents=[output], help="prove an image pair in a cluster of containers"
    )
    validate.add_argument("experiment", nargs="?", help="validate this experiment's built pair")
    validate.add_argument("--worker-image", help="any worker image (with --singleuser-image)")
    validate.add_argument("--singleuser-image", help="any notebook image (with --worker-image)")
    validate.add_argument("--workers", type=int, default=2, help="Dask workers (default 2)")
    validate.add_argument(
        "--registration-timeout",
        type=int,
        default=180,
        metavar="SECONDS",
        help="how long workers may take to register (default 180)",
    )

    bench = commands.add_parser(
        "bench", parents=[output], help="run a benchmark inside an experiment's built images"
    )
    bench.add_argument("benchmark", choices=["ds"], help="ds: the Ds -> phi(mumu) pi benchmark")
    bench.add_argument("experiment")
    bench.add_argument("--events", type=int, help="events (default: the experiment's setting)")
    bench.add_argument("--files", type=int, help="files (default: the experiment's setting)")
    bench.add_argument("--seed", type=int, help="seed (default: the experiment's setting)")
    bench.add_argument(
        "--modes", default="local,dask,legacy", help="comma-separated: local, dask, legacy"
    )
    bench.add_argument("--workers", type=int, default=2, help="Dask workers (default 2)")
    bench.add_argument("--report", type=Path, help="report folder (default: reports/<exp>/bench-…)")

    commands.add_parser("list", parents=[output], help="show the images afenv built")
    commands.add_parser(
        "clean", parents=[output], help="remove afenv containers, networks and volumes"
    )
    return parser


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    args = _parser().parse_args(argv)
    env = dict(os.environ if env is None else env)
    # Ctrl-C must reach us even when a parent started us with SIGINT ignored (background jobs of
    # a non-interactive shell); `kill` and CI timeouts send SIGTERM: clean up the same way.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    ui = UI(mode=args.mode)
    try:
        return _run(args, env, ui)
    except KeyboardInterrupt:
        error: AfenvError = Interrupted("interrupted; cleaned up what was started")
    except AfenvError as exc:
        error = exc
    print(f"afenv: error: {error.message}", file=sys.stderr)
    return error.exit_code


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _run(args: argparse.Namespace, env: dict[str, str], ui: UI) -> int:
    project = load_project(args.project)
    if args.command == "lock":
        return _lock(project, args, env, ui)
    if args.command == "build":
        return _build(project, args, env, ui)
    if args.command == "validate":
        return _validate(project, args, env, ui)
    if args.command == "bench":
        return _bench(project, args, env, ui)
    if args.command == "list":
        return _list(project, args)
    if args.command == "clean":
        return _clean(args)
    raise AssertionError(args.command)


def _lock(project: Project, args: argparse.Namespace, env: dict[str, str], ui: UI) -> int:
    from afenv import lock

    if args.check:
        problems = lock.check(project)
        if problems:
            raise LockError(f"lock is behind its inputs: {'; '.join(problems)}; run `afenv lock`")
        _print_result(args, {"lock": "up to date"}, "lock is up to date")
        return 0
    ui.info("resolving the facility lock with uv")
    result = lock.lock(project, env)
    _print_result(
        args,
        {"files": [str(p) for p in result.files], "packages": result.packages},
        f"locked {result.packages} packages into {len(result.files)} files",
    )
    return 0


def _build(project: Project, args: argparse.Namespace, env: dict[str, str], ui: UI) -> int:
    from afenv.build import build_experiment, docker_client

    experiment = project.experiment(args.experiment)
    client = docker_client()
    results = build_experiment(
        project,
        experiment,
        client=client,
        env=env,
        ui=ui,
        cache=_cache_dir(env),
        refresh_base=args.refresh_base,
    )
    lines = [
        f"{r.role:<11} {r.reference:<40} {r.size / 1e9:5.2f} GB  "
        f"{'built' if r.built else 'up to date'} in {r.seconds:.1f}s"
        for r in results
    ]
    if args.no_validate:
        _print_result(args, {"images": [r.as_dict() for r in results]}, "\n".join(lines))
        return 0
    if args.mode != "json":
        print("\n".join(lines), file=sys.stderr)
    references = {r.role: r.reference for r in results}
    built = {"images": [r.as_dict() for r in results]}
    return _validate_pair(project, args, client, ui, references, experiment.name, built)


def _validate(project: Project, args: argparse.Namespace, env: dict[str, str], ui: UI) -> int:
    from afenv.build import docker_client
    from afenv.errors import ConfigError
    from afenv.validate import pair_from_images

    if args.workers < 1:
        raise ConfigError("--workers: at least 1 worker is needed")
    client = docker_client()
    if args.worker_image or args.singleuser_image:
        if not (args.worker_image and args.singleuser_image) or args.experiment:
            raise ConfigError(
                "give either an experiment or both --worker-image and --singleuser-image"
            )
        pair = pair_from_images(client, args.worker_image, args.singleuser_image)
        return _run_validation(project, args, client, ui, pair)
    if not args.experiment:
        raise ConfigError("name an experiment (e.g. `afenv validate cms`) or an image pair")
    from afenv.build import prepare_plan

    experiment = project.experiment(args.experiment)
    plan = prepare_plan(project, experiment, client=client, env=env, ui=ui, cache=_cache_dir(env))
    references = {image.role: image.reference for image in plan.images}
    return _validate_pair(project, args, client, ui, references, experiment.name)


def _validate_pair(
    project: Project,
    args: argparse.Namespace,
    client: DockerClient,
    ui: UI,
    references: dict[str, str],
    experiment: str,
    built: dict[str, Any] | None = None,
) -> int:
    from afenv.validate import pair_for_experiment

    _require_images(client, references, experiment)
    pair = pair_for_experiment(project, experiment, references)
    return _run_validation(project, args, client, ui, pair, built)


def _require_images(client: DockerClient, references: dict[str, str], experiment: str) -> None:
    from afenv.errors import ConfigError

    for role, reference in references.items():
        if not client.images.list(name=reference):
            raise ConfigError(
                f"{role} image {reference} is not built; run `afenv build {experiment}`"
            )


def _run_validation(
    project: Project,
    args: argparse.Namespace,
    client: DockerClient,
    ui: UI,
    pair: Pair,
    built: dict[str, Any] | None = None,
) -> int:
    from afenv.validate import promote, summary_text, validate

    result = validate(
        project.root,
        pair,
        client=client,
        ui=ui,
        workers=args.workers,
        registration_timeout=getattr(args, "registration_timeout", 180),
    )
    promoted = promote(project.root, result, client)
    result.summary["promoted"] = promoted
    if args.mode == "json":
        # `afenv build --json` reports the images it built beside the validation summary.
        document = result.summary if built is None else {**built, "validation": result.summary}
        print(json.dumps(document, indent=2, sort_keys=True))
    else:
        print(summary_text(result, promoted, project.root))
    return 0 if result.passed else 7


def _bench(project: Project, args: argparse.Namespace, env: dict[str, str], ui: UI) -> int:
    import dataclasses

    from afenv.bench import default_report_dir, run_benchmark, table
    from afenv.build import docker_client, prepare_plan
    from afenv.errors import ConfigError

    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = sorted(set(modes) - {"local", "dask", "legacy"})
    if unknown or not modes:
        raise ConfigError(f"--modes: unknown mode(s) {unknown}; use local, dask, legacy")
    experiment = project.experiment(args.experiment)
    spec = experiment.benchmark
    overrides = {k: getattr(args, k) for k in ("events", "files", "seed") if getattr(args, k)}
    spec = dataclasses.replace(spec, **overrides)
    client = docker_client()
    plan = prepare_plan(project, experiment, client=client, env=env, ui=ui, cache=_cache_dir(env))
    references = {image.role: image.reference for image in plan.images}
    for role, reference in references.items():
        if not client.images.list(name=reference):
            raise ConfigError(
                f"{role} image {reference} is not built; run `afenv build {experiment.name}`"
            )
    report_dir = args.report or default_report_dir(project.root, experiment.name)
    results = run_benchmark(
        client,
        worker_image=references["worker"],
        singleuser_image=references["singleuser"],
        spec=spec,
        modes=modes,
        workers=args.workers,
        report_dir=report_dir,
        ui=ui,
    )
    _print_result(args, results, table(results))
    return 0


def _clean(args: argparse.Namespace) -> int:
    from afenv.build import docker_client
    from afenv.inventory import clean

    removed = clean(docker_client())
    _print_result(args, removed, f"removed {sum(len(v) for v in removed.values())} objects")
    return 0


def _list(project: Project, args: argparse.Namespace) -> int:
    from afenv.build import docker_client
    from afenv.inventory import list_images

    rows = list_images(docker_client(), project)
    if args.mode == "json":
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no afenv images; build some with `afenv build <experiment>`")
        return 0
    print(f"{'IMAGE':<38} {'ROLE':<11} {'SIZE':>7}  {'CREATED':<20} {'STATE':<18} ALSO TAGGED")
    for row in rows:
        print(
            f"{row['reference']:<38} {row['role']:<11} {row['size'] / 1e9:5.2f}GB  "
            f"{row['created'][:19]:<20} {row['state']:<18} {', '.join(row['aliases'])}"
        )
    return 0


def _print_result(args: argparse.Namespace, data: object, text: str) -> None:
    if args.mode == "json":
        print(json.dumps(data, indent=2))
    elif args.mode != "quiet":
        print(text)


if __name__ == "__main__":
    sys.exit(main())

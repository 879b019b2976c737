"""Command line: parse, call, print. Errors become one line and an exit code."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from afenv import __version__
from afenv.config import load_project
from afenv.errors import AfenvError, Interrupted, LockError
from afenv.ui import UI

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

    commands.add_parser("list", parents=[output], help="show the images afenv built")
    return parser


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    args = _parser().parse_args(argv)
    env = dict(os.environ if env is None else env)
    ui = UI(mode=args.mode)
    try:
        return _run(args, env, ui)
    except KeyboardInterrupt:
        error: AfenvError = Interrupted("interrupted; cleaned up what was started")
    except AfenvError as exc:
        error = exc
    print(f"afenv: error: {error.message}", file=sys.stderr)
    return error.exit_code


def _run(args: argparse.Namespace, env: dict[str, str], ui: UI) -> int:
    project = load_project(args.project)
    if args.command == "lock":
        return _lock(project, args, env, ui)
    if args.command == "build":
        return _build(project, args, env, ui)
    if args.command == "list":
        return _list(project, args)
    raise AssertionError(args.command)


def _lock(project, args, env, ui) -> int:  # type: ignore[no-untyped-def]
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


def _build(project, args, env, ui) -> int:  # type: ignore[no-untyped-def]
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
    _print_result(args, {"images": [r.as_dict() for r in results]}, "\n".join(lines))
    return 0


def _list(project, args) -> int:  # type: ignore[no-untyped-def]
    from afenv.build import docker_client
    from afenv.inventory import list_images

    rows = list_images(docker_client(), project)
    if args.mode == "json":
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no afenv images; build some with `afenv build <experiment>`")
        return 0
    print(f"{'IMAGE':<42} {'EXPERIMENT':<10} {'ROLE':<11} {'SIZE':>8}  {'CREATED':<20} STATE")
    for row in rows:
        print(
            f"{row['reference']:<42} {row['experiment']:<10} {row['role']:<11} "
            f"{row['size'] / 1e9:6.2f}GB  {row['created'][:19]:<20} {row['state']}"
        )
    return 0


def _print_result(args: argparse.Namespace, data: object, text: str) -> None:
    if args.mode == "json":
        print(json.dumps(data, indent=2))
    elif args.mode != "quiet":
        print(text)


if __name__ == "__main__":
    sys.exit(main())

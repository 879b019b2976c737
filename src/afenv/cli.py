"""Command line: parse, call the pipeline, print. Errors become one line and an exit code."""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import json
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, get_args

from afenv import __version__, ci, engine, pipeline
from afenv.engine import Engine
from afenv.errors import AfenvError, ConfigError, Interrupted
from afenv.hub.profiles import ProfileOptions, SpawnerKind
from afenv.options import MODES, BenchOptions, BuildOptions, ClusterOptions, GridOptions
from afenv.ui import UI

if TYPE_CHECKING:
    from afenv.validate import ValidationReport

__all__ = ["main"]

_CLUSTER = ClusterOptions()
_PROFILES = ProfileOptions()


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one `afenv: error:` line with a hint, like every error."""

    def error(self, message: str) -> NoReturn:
        raise ConfigError(f"{' '.join(message.split())[:300]}; see `{self.prog} --help`")


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:30]!r} is not a whole number") from None


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="afenv", description="Reproducible, validated analysis-facility images.")
    parser.add_argument("--version", action="version", version=f"afenv {__version__}")
    parser.add_argument(
        "--project",
        type=Path,
        default=Path.cwd(),
        help="facility repository holding envs/ and images/ (default: current folder)",
    )
    output = _Parser(add_help=False)
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
    cluster = _Parser(add_help=False)
    cluster.add_argument(
        "--workers",
        type=_integer,
        default=_CLUSTER.workers,
        help=f"Dask workers in the cluster (default {_CLUSTER.workers})",
    )
    cluster.add_argument(
        "--registration-timeout",
        type=_integer,
        default=_CLUSTER.registration_timeout,
        metavar="SECONDS",
        help=f"how long workers may take to register (default {_CLUSTER.registration_timeout})",
    )
    cluster.add_argument(
        "--lanes",
        type=_integer,
        default=_CLUSTER.lanes,
        metavar="N",
        help=f"validation phases run at once where they can (default {_CLUSTER.lanes}; 1: in turn)",
    )
    cluster.add_argument(
        "--cvmfs", type=Path, metavar="PATH", help="host CVMFS mount, bound read-only at /cvmfs"
    )
    cluster.add_argument(
        "--ca-dir",
        type=Path,
        metavar="PATH",
        help="host CA directory, bound read-only at /etc/grid-security/certificates",
    )
    cluster.add_argument(
        "--proxy",
        type=Path,
        metavar="FILE",
        help="an X509 proxy for the client, which ships it to the workers",
    )

    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )
    init = commands.add_parser("init", parents=[output], help="scaffold a facility repository")
    init.add_argument("directory", type=Path)
    init.add_argument("--experiment", default="demo", help="the first experiment (default demo)")

    lock = commands.add_parser("lock", parents=[output], help="resolve the facility lock")
    lock.add_argument(
        "--check", action="store_true", help="exit 3 if the lock is behind its inputs"
    )

    build = commands.add_parser(
        "build", parents=[output, cluster], help="build an experiment's image pair and validate it"
    )
    build.add_argument("experiment")
    build.add_argument("--refresh-base", action="store_true", help="bootstrap the base anew")
    build.add_argument("--no-validate", action="store_true", help="build only, skip validation")

    validate = commands.add_parser(
        "validate", parents=[output, cluster], help="prove an image pair in a cluster of containers"
    )
    validate.add_argument("experiment", nargs="?", help="validate this experiment's built pair")
    validate.add_argument("--worker-image", help="any worker image (with --singleuser-image)")
    validate.add_argument("--singleuser-image", help="any notebook image (with --worker-image)")
    validate.add_argument(
        "--notebook",
        type=Path,
        action="append",
        default=[],
        metavar="PATH",
        help="also run this notebook against the cluster (repeatable)",
    )

    bench = commands.add_parser(
        "bench", parents=[output, cluster], help="run a benchmark inside an experiment's images"
    )
    bench.add_argument("benchmark", choices=["ds"], help="ds: the Ds -> phi(mumu) pi benchmark")
    bench.add_argument("experiment")
    bench.add_argument("--events", type=_integer, help="events (default: the experiment's)")
    bench.add_argument("--files", type=_integer, help="files (default: the experiment's)")
    bench.add_argument("--seed", type=_integer, help="seed (default: the experiment's)")
    bench.add_argument(
        "--modes", default=",".join(MODES), help=f"comma-separated: {', '.join(MODES)}"
    )
    bench.add_argument("--report", type=Path, help="report folder (default: reports/<exp>/bench-…)")

    verify = commands.add_parser(
        "verify", parents=[output], help="check images (built or pulled) against their lock"
    )
    verify.add_argument("images", nargs="+", metavar="IMAGE")
    diff = commands.add_parser(
        "diff",
        parents=[output],
        help="the packages (Python and Debian) that change from A to B; Dask's first",
    )
    diff.add_argument("a", metavar="A", help="an image, or a lock file")
    diff.add_argument("b", metavar="B", help="an image, or a lock file")

    push = commands.add_parser(
        "push", parents=[output], help="push an experiment's validated pair to a registry"
    )
    push.add_argument("experiment")
    push.add_argument(
        "--registry",
        required=True,
        metavar="HOST[:PORT][/PREFIX]",
        help="where the images go (credentials: AFENV_REGISTRY_USERNAME/PASSWORD or docker login)",
    )
    push.add_argument(
        "--force", action="store_true", help="push even if the pair did not pass validation"
    )

    matrix = commands.add_parser(
        "matrix",
        parents=[output, cluster],
        help="lock check, build and validate every experiment (or those named); a table, "
        "JSON and JUnit XML",
    )
    matrix.add_argument(
        "experiments", nargs="*", metavar="EXP", help="in this order (default: all, by name)"
    )
    matrix.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="where matrix.json and matrix.xml go (default: <project>/reports/matrix)",
    )

    report = commands.add_parser(
        "report",
        parents=[output],
        help="write the image catalogue: a static HTML page with a card per experiment pair",
    )
    report.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="where index.html goes (default: <project>/reports/catalogue)",
    )

    _hub_parser(commands, output)
    _ci_parser(commands, output)

    commands.add_parser("list", parents=[output], help="show the images afenv built")
    commands.add_parser(
        "clean", parents=[output], help="remove containers, networks and volumes afenv created"
    )
    return parser


def _hub_parser(commands: Any, output: argparse.ArgumentParser) -> None:
    """`afenv hub COMMAND`: offering the validated pairs on a JupyterHub."""
    hub = commands.add_parser("hub", help="offer the validated pairs on a JupyterHub")
    hub_commands = hub.add_subparsers(
        dest="hub_command", required=True, metavar="COMMAND", parser_class=_Parser
    )
    up = hub_commands.add_parser(
        "up",
        parents=[output],
        help="start a JupyterHub on this host offering every validated pair",
    )
    up.add_argument(
        "--users",
        type=Path,
        required=True,
        metavar="FILE",
        help="who may log in: NAME:BCRYPT lines (`afenv hub passwd FILE NAME`, htpasswd -B)",
    )
    up.add_argument(
        "--admin", action="append", default=[], metavar="NAME", help="a hub admin (repeatable)"
    )
    up.add_argument(
        "--ip", default="127.0.0.1", help="the address the hub listens on (default 127.0.0.1)"
    )
    up.add_argument("--port", type=int, default=8000, help="its port (default 8000)")
    up.add_argument(
        "--workers",
        type=int,
        default=2,
        help="Dask workers in each user's cluster, one thread each (default 2)",
    )
    up.add_argument(
        "--cvmfs",
        type=Path,
        metavar="DIR",
        help="the host's CVMFS mount, read-only at /cvmfs in every server and worker",
    )
    up.add_argument(
        "--ca-dir",
        type=Path,
        metavar="DIR",
        help="a hashed CA directory, read-only at /etc/grid-security/certificates (wins over "
        "CVMFS's)",
    )
    down = hub_commands.add_parser(
        "down",
        parents=[output],
        help="stop the hub, every server and cluster it started; users' homes stay",
    )
    down.add_argument(
        "--remove-homes",
        action="store_true",
        help="also delete the home volumes of this hub's users (its users file's and database's)",
    )
    hub_commands.add_parser(
        "status", parents=[output], help="the hub's users, servers, images and Dask clusters"
    )
    passwd = hub_commands.add_parser(
        "passwd",
        parents=[output],
        help="add a user to a users file or change their password (asked, or stdin's first line)",
    )
    passwd.add_argument("file", type=Path, metavar="FILE")
    passwd.add_argument("name", metavar="NAME")
    profiles = hub_commands.add_parser(
        "profiles",
        parents=[output],
        help="write the hub's profiles: one per experiment's validated pair",
    )
    profiles.add_argument(
        "--spawner",
        choices=get_args(SpawnerKind),
        default="kubernetes",
        help="kubernetes: zero-to-jupyterhub values and manifests; docker: DockerSpawner "
        "settings for a single-host hub (default kubernetes)",
    )
    profiles.add_argument(
        "--out", type=Path, metavar="DIR", help="where the files go (default: <project>/hub)"
    )
    profiles.add_argument(
        "--registry",
        metavar="HOST[:PORT][/PREFIX]",
        help="offer the images pushed there (as given to `afenv push`); needed when a pair "
        "went to several registries",
    )
    profiles.add_argument(
        "--cvmfs",
        default=_PROFILES.cvmfs,
        metavar="csi|hostpath",
        help=f"Kubernetes: cvmfs-csi's automount claim, or the node's --cvmfs-hostpath "
        f"(default {_PROFILES.cvmfs})",
    )
    profiles.add_argument(
        "--cvmfs-hostpath",
        default=_PROFILES.cvmfs_hostpath,
        metavar="PATH",
        help=f"the host's CVMFS mount (default {_PROFILES.cvmfs_hostpath})",
    )
    profiles.add_argument(
        "--ca-dir",
        default=_PROFILES.ca_dir,
        metavar="PATH",
        help="the host's CA directory, mounted at /etc/grid-security/certificates "
        "(default: the CAs on CVMFS)",
    )
    profiles.add_argument(
        "--include-unvalidated",
        action="store_true",
        help="also offer built pairs that never passed validation, marked so (asks the engine)",
    )
    profiles.add_argument(
        "--default",
        default=_PROFILES.default,
        metavar="EXP",
        help="the experiment preselected (default: the first offered)",
    )
    profiles.add_argument(
        "--namespace",
        default=_PROFILES.namespace,
        help=f"the hub's Kubernetes namespace (default {_PROFILES.namespace})",
    )
    profiles.add_argument(
        "--service-account",
        default=_PROFILES.service_account,
        help=f"the notebooks' service account (default {_PROFILES.service_account})",
    )
    profiles.add_argument(
        "--api-server-cidr",
        default=_PROFILES.api_server_cidr,
        metavar="CIDR",
        help="let notebooks reach the Kubernetes API there (e.g. 10.0.0.10/32) to start Dask "
        "clusters (default: no rule of afenv's)",
    )


def _ci_parser(commands: Any, output: argparse.ArgumentParser) -> None:
    """`afenv ci PLATFORM`: the project's CI pipeline, from its experiments."""
    group = commands.add_parser("ci", help="write a CI pipeline: lock check, build, push")
    ci_commands = group.add_subparsers(
        dest="ci_command", required=True, metavar="PLATFORM", parser_class=_Parser
    )
    for platform, target in ci.PLATFORMS.items():
        command = ci_commands.add_parser(
            platform,
            parents=[output],
            help=f"write {target.what}: lock check, then build and validate each experiment",
        )
        command.add_argument(
            "--out",
            type=Path,
            metavar="FILE",
            help=f"where it goes (default: <project>/{target.default_out})",
        )
        command.add_argument(
            "--registry",
            metavar="HOST[:PORT][/PREFIX]",
            help="on the default branch, also push each validated pair there (credentials: "
            "the CI's AFENV_REGISTRY_USERNAME/PASSWORD secrets)",
        )


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    # Ctrl-C must reach us even when a parent started us with SIGINT ignored (background jobs of
    # a non-interactive shell); `kill` and CI timeouts send SIGTERM: clean up the same way.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        args = _parser().parse_args(argv)
        return _run(args, dict(os.environ if env is None else env), UI(mode=args.mode))
    except KeyboardInterrupt:
        error: AfenvError = Interrupted("interrupted; cleaned up what was started")
    except AfenvError as exc:
        error = exc
    except engine.TRANSPORT_ERRORS as exc:
        error = engine.failure(exc)
    print(f"afenv: error: {' '.join(error.message.split())}", file=sys.stderr)
    return error.exit_code


def _raise_interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _run(args: argparse.Namespace, env: dict[str, str], ui: UI) -> int:
    if args.command == "init":
        return _init(args)
    if args.command == "hub" and args.hub_command == "passwd":
        return _hub_passwd(args)
    from afenv.spec import load_project

    session = pipeline.Session(project=load_project(args.project), env=env, ui=ui)
    if args.command == "lock":
        return _lock(session, args)
    if args.command == "ci":  # from the project alone: no engine
        return _CI_COMMANDS[args.ci_command](session, args)
    docker = Engine.connect()
    try:
        return _COMMANDS[args.command](session, args, docker)
    finally:
        docker.close()


def _init(args: argparse.Namespace) -> int:
    from afenv.scaffold import scaffold

    result = scaffold(args.directory, experiment=args.experiment)
    _print(
        args,
        {"root": str(result.root), "files": [str(p) for p in result.files]},
        f"facility repository in {result.root}; edit envs/facility.toml and "
        f"images/{args.experiment}/experiment.toml, then `afenv lock` and "
        f"`afenv build {args.experiment}` (README.md says more)",
    )
    return 0


def _lock(session: pipeline.Session, args: argparse.Namespace) -> int:
    if args.check:
        pipeline.check_lock(session)
        _print(args, {"lock": "up to date"}, "lock is up to date")
        return 0
    result = pipeline.lock(session)
    _print(
        args,
        {"files": [str(p) for p in result.files], "packages": result.packages},
        f"locked {result.packages} packages into {len(result.files)} files",
    )
    return 0


def _cluster_options(args: argparse.Namespace) -> ClusterOptions:
    return ClusterOptions(
        workers=args.workers,
        registration_timeout=args.registration_timeout,
        lanes=args.lanes,
        grid=GridOptions(cvmfs=args.cvmfs, ca_dir=args.ca_dir, proxy=args.proxy),
    )


def _build(session: pipeline.Session, args: argparse.Namespace, docker: Engine) -> int:
    experiment = session.project.experiment(args.experiment)
    options = BuildOptions(
        refresh_base=args.refresh_base,
        validate=not args.no_validate,
        cluster=_cluster_options(args),
    )
    result = pipeline.build(session, experiment, options, docker)
    lines = "\n".join(
        f"{r.role:<11} {r.reference:<40} {r.size / 1e9:5.2f} GB  "
        f"{'built' if r.built else 'up to date'} in {r.seconds:.1f}s"
        for r in result.images
    )
    if result.validation is None:
        _print(args, result.as_dict(), lines)
        return 0
    if args.mode != "json":
        print(lines, file=sys.stderr)
    return _report(args, session, result.validation, result.as_dict())


def _validate(session: pipeline.Session, args: argparse.Namespace, docker: Engine) -> int:
    from afenv.spec.load import notebook_files

    options = _cluster_options(args)
    notebooks = notebook_files(args.notebook)
    if args.worker_image or args.singleuser_image:
        if not (args.worker_image and args.singleuser_image) or args.experiment:
            raise ConfigError(
                "give either an experiment or both --worker-image and --singleuser-image"
            )
        report = pipeline.validate_images(
            session, args.worker_image, args.singleuser_image, options, docker, notebooks
        )
    elif args.experiment:
        experiment = session.project.experiment(args.experiment)
        report = pipeline.validate_experiment(session, experiment, options, docker, notebooks)
    else:
        raise ConfigError("name an experiment (e.g. `afenv validate cms`) or an image pair")
    return _report(args, session, report, report.as_dict())


def _report(
    args: argparse.Namespace,
    session: pipeline.Session,
    report: ValidationReport,
    document: dict[str, Any],
) -> int:
    from afenv.errors import ValidationFailed
    from afenv.validate import summary_text

    if args.mode == "json":
        print(json.dumps(document, indent=2, sort_keys=True))
    else:
        print(summary_text(report, session.project.root))
    if not report.passed:
        failed = ", ".join(check.name for check in report.failed[:3])
        raise ValidationFailed(
            f"validation failed ({failed}{', …' if len(report.failed) > 3 else ''}); "
            f"report in {report.summary_path}"
        )
    return 0


def _bench(session: pipeline.Session, args: argparse.Namespace, docker: Engine) -> int:
    from afenv.benchmark import table

    options = BenchOptions(
        modes=tuple(m.strip() for m in args.modes.split(",") if m.strip()),
        events=args.events,
        files=args.files,
        seed=args.seed,
        report=args.report,
        cluster=_cluster_options(args),
    )
    experiment = session.project.experiment(args.experiment)
    results = pipeline.bench(session, experiment, options, docker)
    _print(args, results, table(results))
    return 0


def _diff(session: pipeline.Session, args: argparse.Namespace, docker: Engine) -> int:
    del session  # images and lock files are named directly
    from afenv.diff import compare, contents, counts, summary

    changes = compare(contents(args.a, docker), contents(args.b, docker))
    lines = [
        f"{c.ecosystem:<7} {c.name:<32} {c.old or '-':>20} -> {c.new or '-':<20} {c.kind}"
        + ("  (Dask compares it)" if c.dask else "")
        for c in changes
    ]
    lines.append(summary(changes))
    data = {"changes": [c.as_dict() for c in changes], "counts": counts(changes)}
    _print(args, data, "\n".join(lines))
    return 0


def _matrix(session: pipeline.Session, args: argparse.Namespace, docker: Engine) -> int:
    from afenv.errors import MatrixFailed
    from afenv.matrix import table

    project = session.project
    names = list(dict.fromkeys(args.experiments)) or sorted(project.experiments)
    experiments = tuple(project.experiment(name) for name in names)  # all checked first
    out = args.out or project.reports_dir / "matrix"
    result, files = pipeline.matrix(session, experiments, _cluster_options(args), docker, out=out)
    _print(args, result.as_dict(), f"{table(result)}\nwritten: {files[0]}, {files[1]}")
    if not result.passed:
        raise MatrixFailed(f"matrix failed: {', '.join(result.failed)}; see {files[0]}")
    return 0


def _catalogue(session: pipeline.Session, args: argparse.Namespace, docker: Engine) -> int:
    out = args.out or session.project.reports_dir / "catalogue"
    page, cards = pipeline.report(session, out, docker)
    _print(args, {"page": str(page), "cards": cards}, f"catalogue of {cards} pairs: {page}")
    return 0


def _verify(session: pipeline.Session, args: argparse.Namespace, docker: Engine) -> int:
    from afenv.errors import ValidationFailed
    from afenv.validate.verify import verify_image

    results = [verify_image(session.project, reference, docker) for reference in args.images]
    lines = []
    for result in results:
        lines.append(f"{result.reference}: {'matches its lock' if result.ok else 'DIFFERS'}")
        lines += [f"  {problem}" for problem in result.problems]
    _print(args, [r.as_dict() for r in results], "\n".join(lines))
    bad = [r for r in results if not r.ok]
    if bad:
        first = bad[0]
        raise ValidationFailed(
            f"{first.reference} differs from its lock ({len(first.problems)} differences, first: "
            f"{first.problems[0]})"
            + (f"; {len(bad) - 1} more images differ" if len(bad) > 1 else "")
        )
    return 0


def _push(session: pipeline.Session, args: argparse.Namespace, docker: Engine) -> int:
    experiment = session.project.experiment(args.experiment)
    result = pipeline.push(session, experiment, args.registry, force=args.force, docker=docker)
    warning = "" if result.validated else "  (NOT validated: pushed with --force)"
    lines = [
        f"{image.role:<11} {image.pinned}{warning}\n"
        f"{'':<11} {image.uploaded} layers sent ({image.uploaded_bytes / 1e6:.0f} MB), "
        f"{image.reused} already there, {image.seconds:.1f}s"
        for image in result.images
    ]
    _print(args, result.as_dict(), "\n".join(lines))
    return 0


def _hub(session: pipeline.Session, args: argparse.Namespace, docker: Engine) -> int:
    return _HUB_COMMANDS[args.hub_command](session, args, docker)


def _hub_profiles(session: pipeline.Session, args: argparse.Namespace, docker: Engine) -> int:
    options = ProfileOptions(
        cvmfs=args.cvmfs,
        cvmfs_hostpath=args.cvmfs_hostpath,
        ca_dir=args.ca_dir,
        include_unvalidated=args.include_unvalidated,
        default=args.default,
        namespace=args.namespace,
        service_account=args.service_account,
        api_server_cidr=args.api_server_cidr,
    )
    written = pipeline.hub_profiles(
        session,
        options,
        spawner=args.spawner,
        out=session.project.root / "hub" if args.out is None else args.out,
        registry=args.registry,
        docker=docker,
    )
    _print(args, {"files": [str(path) for path in written]}, "\n".join(map(str, written)))
    return 0


def _hub_up(session: pipeline.Session, args: argparse.Namespace, docker: Engine) -> int:
    settings = pipeline.hub_up(
        session,
        ip=args.ip,
        port=args.port,
        users_file=args.users,
        admins=args.admin,
        workers=args.workers,
        grid=GridOptions(cvmfs=args.cvmfs, ca_dir=args.ca_dir),
        docker=docker,
    )
    offers = ", ".join(f"{offer.experiment} ({offer.title})" for offer in settings.offers)
    _print(
        args,
        {
            "url": settings.url,
            "pid": settings.pid,
            "offers": [o.experiment for o in settings.offers],
        },
        f"hub running at {settings.url}/hub/ (pid {settings.pid}); offers {offers}\n"
        f"log: {settings.state_dir}/hub.log; stop it with `afenv hub down`",
    )
    return 0


def _hub_down(session: pipeline.Session, args: argparse.Namespace, docker: Engine) -> int:
    stopped = pipeline.hub_down(session, remove_homes=args.remove_homes, docker=docker)
    left = sum(len(names) for names in stopped.removed.values())
    homes = (
        f"removed {len(stopped.homes_removed)} home volumes"
        if args.remove_homes
        else f"kept {len(stopped.homes_kept)} home volumes (--remove-homes deletes them)"
    )
    head = "hub stopped" if stopped.was_running else "no hub was running"
    _print(
        args,
        dataclasses.asdict(stopped),
        f"{head}; removed {left} leftover containers and networks; {homes}",
    )
    return 0


def _hub_status(session: pipeline.Session, args: argparse.Namespace, docker: Engine) -> int:
    data = pipeline.hub_status(session, docker).as_dict()
    if not data["running"]:
        text = f"no hub is running; {len(data['homes'])} home volumes"
    else:
        lines = [
            f"hub at {data['url']}/hub/ (pid {data['pid']}); offers {', '.join(data['offers'])}"
        ]
        for user in data["users"]:
            admin = " (admin)" if user["admin"] else ""
            lines.append(f"  {user['name']}{admin}: server {user['server']}")
            if user["image"]:
                lines.append(f"    image {user['image']}")
            for name, state in sorted(user["cluster"].items()):
                lines.append(f"    {name} {state}")
        text = "\n".join(lines)
    _print(args, data, text)
    return 0


_HUB_COMMANDS = {
    "profiles": _hub_profiles,
    "up": _hub_up,
    "down": _hub_down,
    "status": _hub_status,
}


def _hub_passwd(args: argparse.Namespace) -> int:
    """Add a user to a users file or change their password (no project, no engine)."""
    from afenv.hub.users import set_password

    if sys.stdin.isatty():
        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            raise ConfigError("password: the two entries differ; nothing changed")
    else:  # a script's: the first line of standard input
        password = sys.stdin.readline().rstrip("\n")
    new = set_password(args.file, args.name, password)
    _print(
        args,
        {"file": str(args.file), "user": args.name, "new": new},
        f"{args.file}: {'added' if new else 'changed the password of'} {args.name}",
    )
    return 0


def _ci_pipeline(session: pipeline.Session, args: argparse.Namespace) -> int:
    platform: ci.Platform = args.ci_command
    default = session.project.root / ci.PLATFORMS[platform].default_out
    out = default if args.out is None else args.out
    plan = pipeline.ci(session, platform, out=out, registry=args.registry)
    pushes = "" if plan.registry is None else f"; the default branch pushes to {plan.registry}"
    _print(
        args,
        {"file": str(out), "experiments": list(plan.experiments), "registry": plan.registry},
        f"wrote {out}: lock check, then build and validate {', '.join(plan.experiments)}"
        f"{pushes}; commit it",
    )
    return 0


_CI_COMMANDS = dict.fromkeys(ci.PLATFORMS, _ci_pipeline)


def _list(session: pipeline.Session, args: argparse.Namespace, docker: Engine) -> int:
    rows = pipeline.images(session, docker)
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
        for pinned in row["pushed"]:
            print(f"{'':<38} pushed: {pinned}")
    return 0


def _clean(session: pipeline.Session, args: argparse.Namespace, docker: Engine) -> int:
    removed = pipeline.clean(session, docker)
    _print(args, removed, f"removed {sum(len(v) for v in removed.values())} objects")
    return 0


_COMMANDS = {
    "build": _build,
    "validate": _validate,
    "bench": _bench,
    "verify": _verify,
    "diff": _diff,
    "matrix": _matrix,
    "report": _catalogue,
    "push": _push,
    "hub": _hub,
    "list": _list,
    "clean": _clean,
}


def _print(args: argparse.Namespace, data: object, text: str) -> None:
    if args.mode == "json":
        print(json.dumps(data, indent=2))
    elif args.mode != "quiet":
        print(text)


if __name__ == "__main__":
    sys.exit(main())

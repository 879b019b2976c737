"""The flow afenv runs, with typed options in and typed results out: lock, build → validate →
promote, bench, push, hub profiles, ci, list, clean. The CLI only parses, calls these and
prints."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from afenv import build as build_stage
from afenv import catalogue as catalogue_stage
from afenv import ci as ci_stage
from afenv import diff
from afenv import lock as lock_stage
from afenv import matrix as matrix_stage
from afenv import validate as validate_stage
from afenv.benchmark import default_report_dir, run_benchmark
from afenv.engine import Engine
from afenv.errors import AfenvError, ConfigError, Interrupted, LockError
from afenv.hub import server as hub_server
from afenv.hub.pairs import collect_pairs
from afenv.hub.profiles import ProfileOptions, SpawnerKind, write_profiles
from afenv.hub.push import PushResult, credentials, parse_registry, push_pair
from afenv.inventory import list_images
from afenv.options import BenchOptions, BuildOptions, ClusterOptions, GridOptions
from afenv.spec import Experiment, Project, with_benchmark
from afenv.state import State
from afenv.ui import UI

__all__ = [
    "BuildResult",
    "Session",
    "bench",
    "build",
    "cache_dir",
    "check_lock",
    "ci",
    "clean",
    "hub_down",
    "hub_profiles",
    "hub_status",
    "hub_up",
    "images",
    "lock",
    "matrix",
    "push",
    "report",
    "validate_experiment",
    "validate_images",
]


def cache_dir(env: Mapping[str, str]) -> Path:
    """afenv's cache (the wheelhouse): $AFENV_CACHE, else the XDG cache folder."""
    if env.get("AFENV_CACHE"):
        path = Path(env["AFENV_CACHE"])
    else:
        base = env.get("XDG_CACHE_HOME") or str(Path(env.get("HOME", "/root")) / ".cache")
        path = Path(base) / "afenv"
    if path.exists() and not path.is_dir():
        raise ConfigError(f"AFENV_CACHE: {path} is not a folder; point it at a folder")
    return path


@dataclass(frozen=True, kw_only=True)
class Session:
    """What every command works with: the facility repository, the environment, the UI."""

    project: Project
    env: Mapping[str, str]
    ui: UI

    @property
    def cache(self) -> Path:
        return cache_dir(self.env)

    @property
    def state(self) -> State:
        return State(self.project.state_dir)


@dataclass(frozen=True, kw_only=True)
class BuildResult:
    images: tuple[build_stage.BuiltImage, ...]
    validation: validate_stage.ValidationReport | None

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {"images": [image.as_dict() for image in self.images]}
        if self.validation is not None:
            result["validation"] = self.validation.as_dict()
        return result


def lock(session: Session) -> lock_stage.LockResult:
    session.ui.info("resolving the facility lock with uv")
    return lock_stage.lock(session.project, session.env)


def check_lock(session: Session, experiment: Experiment | None = None) -> None:
    """The lock is not behind its inputs: all of them, or those that concern ``experiment``."""
    if experiment is None:
        problems = lock_stage.check(session.project)
    else:
        problems = lock_stage.check_experiment(session.project, experiment.name)
    if problems:
        raise LockError(f"lock is behind its inputs: {'; '.join(problems)}; run `afenv lock`")


def build(
    session: Session, experiment: Experiment, options: BuildOptions, docker: Engine
) -> BuildResult:
    plan = build_stage.prepare_plan(
        session.project,
        experiment,
        docker=docker,
        ui=session.ui,
        cache=session.cache,
        refresh_base=options.refresh_base,
    )
    images = tuple(
        build_stage.execute(
            plan,
            docker=docker,
            ui=session.ui,
            state=session.state,
            wheelhouse=build_stage.Wheelhouse(session.cache / "wheels"),
            env=session.env,
        )
    )
    if not options.validate:
        return BuildResult(images=images, validation=None)
    references = {image.role: image.reference for image in images}
    report = _validate_pair(session, experiment, references, options.cluster, docker)
    return BuildResult(images=images, validation=report)


def matrix(
    session: Session,
    experiments: tuple[Experiment, ...],
    options: ClusterOptions,
    docker: Engine,
    *,
    out: Path,
) -> tuple[matrix_stage.MatrixResult, tuple[Path, Path]]:
    """Lock check, build and validate per experiment, in the order given; the result goes to
    ``out`` as JSON and JUnit XML (their paths returned). A failing cell skips the rest of its
    row only: every other experiment still runs. The first build makes the facility's shared
    layers (base, core, roles); the others reuse them from the engine's cache."""
    _check_output_folder(out)
    started = time.monotonic()
    rows = []
    for experiment in experiments:
        session.ui.info(f"matrix: {experiment.name}")
        rows.append(_matrix_row(session, experiment, options, docker))
    result = matrix_stage.MatrixResult(rows=tuple(rows), seconds=time.monotonic() - started)
    return result, matrix_stage.write(result, out)


def _matrix_row(
    session: Session, experiment: Experiment, options: ClusterOptions, docker: Engine
) -> matrix_stage.Row:
    cells: list[matrix_stage.Cell] = []
    report_path: str | None = None

    def step(name: str, work: Callable[[], str]) -> bool:
        """Run one cell; only afenv's own failures are the cell's (an interrupt ends all)."""
        started = time.monotonic()
        try:
            detail = work()
            status: matrix_stage.Status = "passed"
        except Interrupted:
            raise
        except AfenvError as error:
            detail, status = " ".join(error.message.split()), "failed"
        cells.append(
            matrix_stage.Cell(
                step=name, status=status, seconds=time.monotonic() - started, detail=detail
            )
        )
        return status == "passed"

    def check() -> str:
        check_lock(session, experiment)
        return "up to date"

    def build_pair() -> str:
        built = build(session, experiment, BuildOptions(validate=False, cluster=options), docker)
        return ", ".join(
            f"{image.reference} {'built' if image.built else 'up to date'}"
            for image in built.images
        )

    def validate_pair() -> str:
        nonlocal report_path
        from afenv.errors import ValidationFailed

        report = validate_experiment(session, experiment, options, docker)
        report_path = str(report.summary_path)
        if not report.passed:
            names = ", ".join(check.name for check in report.failed[:3])
            raise ValidationFailed(f"failed checks: {names}; report in {report_path}")
        return report_path

    if not step("lock", check):
        cells += [matrix_stage.skipped(s, "the lock is behind") for s in ("build", "validate")]
    elif not step("build", build_pair):
        cells.append(matrix_stage.skipped("validate", "the build failed"))
    else:
        step("validate", validate_pair)
    return matrix_stage.Row(experiment=experiment.name, cells=tuple(cells), report=report_path)


def _built_pair(session: Session, experiment: Experiment, docker: Engine) -> dict[str, str]:
    references = build_stage.pair_references(
        session.project, experiment, docker=docker, cache=session.cache
    )
    for role, reference in references.items():
        if docker.image(reference) is None:
            raise ConfigError(
                f"{role} image {reference} is not built; run `afenv build {experiment.name}`"
            )
    return references


def validate_experiment(
    session: Session,
    experiment: Experiment,
    options: ClusterOptions,
    docker: Engine,
    notebooks: tuple[Path, ...] = (),
) -> validate_stage.ValidationReport:
    """Validate the experiment's pair as the lock says it is, without building anything;
    ``notebooks`` run after afenv's and the experiment's own."""
    references = _built_pair(session, experiment, docker)
    return _validate_pair(session, experiment, references, options, docker, notebooks)


def _validate_pair(
    session: Session,
    experiment: Experiment,
    references: Mapping[str, str],
    options: ClusterOptions,
    docker: Engine,
    notebooks: tuple[Path, ...] = (),
) -> validate_stage.ValidationReport:
    locks = lock_stage.load_locks(session.project, experiment)
    pair = validate_stage.pair_for_experiment(experiment, references, locks)
    pair = dataclasses.replace(pair, notebooks=pair.notebooks + notebooks)
    return _validate_and_promote(session, pair, options, docker)


def validate_images(
    session: Session,
    worker: str,
    singleuser: str,
    options: ClusterOptions,
    docker: Engine,
    notebooks: tuple[Path, ...] = (),
) -> validate_stage.ValidationReport:
    """Validate any two images (e.g. what a hub runs today); never promotes them."""
    pair = validate_stage.pair_from_images(docker, worker, singleuser)
    pair = dataclasses.replace(pair, notebooks=notebooks)
    return _validate_and_promote(session, pair, options, docker)


def _validate_and_promote(
    session: Session, pair: validate_stage.Pair, options: ClusterOptions, docker: Engine
) -> validate_stage.ValidationReport:
    report = validate_stage.validate(
        pair, docker=docker, ui=session.ui, reports=session.project.reports_dir, options=options
    )
    if report.passed and pair.experiment is not None:
        _show_changes(session, pair, docker)
    promoted = validate_stage.promote(report, docker=docker, state=session.state)
    report = report.with_promotion(promoted)
    validate_stage.write_summary(report)  # once, after promotion: equal to what --json prints
    return report


def _show_changes(session: Session, pair: validate_stage.Pair, docker: Engine) -> None:
    """Before the promoted tags move: what changes for users against the pair promoted now
    (Dask's packages named one by one, the rest counted)."""
    assert pair.experiment is not None
    previous = session.state.load()["promoted"].get(pair.experiment)
    if not previous or previous == [pair.worker, pair.singleuser]:
        return
    for role in diff.pair_changes(previous, (pair.worker, pair.singleuser), docker):
        if role.old == role.new:
            continue
        if role.changes is None:
            session.ui.info(
                f"{role.role}: the promoted {role.old} is gone from the engine; no diff"
            )
            continue
        session.ui.info(
            f"{role.role}: against the promoted {role.old}: {diff.summary(role.changes)} "
            f"(`afenv diff {role.old} {role.new}` lists them)"
        )
        for change in role.changes:
            if change.dask:
                session.ui.info(
                    f"  {change.name}: {change.old or '-'} -> {change.new or '-'} ({change.kind})"
                )


def bench(
    session: Session, experiment: Experiment, options: BenchOptions, docker: Engine
) -> dict[str, Any]:
    references = _built_pair(session, experiment, docker)
    spec = with_benchmark(
        experiment.benchmark, events=options.events, files=options.files, seed=options.seed
    )
    return run_benchmark(
        docker,
        worker_image=references["worker"],
        singleuser_image=references["singleuser"],
        spec=spec,
        modes=options.modes,
        workers=options.cluster.workers,
        grid=options.cluster.grid,
        report_dir=options.report
        or default_report_dir(session.project.reports_dir, experiment.name),
        ui=session.ui,
    )


def push(
    session: Session, experiment: Experiment, registry: str, *, force: bool, docker: Engine
) -> PushResult:
    """Push the pair the lock describes, once validated (or with ``force``)."""
    target = parse_registry(registry)
    auth = credentials(session.env)  # both checked before the engine is asked anything
    references = _built_pair(session, experiment, docker)
    return push_pair(
        experiment,
        references,
        target,
        force=force,
        docker=docker,
        state=session.state,
        auth=auth,
        report=session.ui.info,
    )


def hub_profiles(
    session: Session,
    options: ProfileOptions,
    *,
    spawner: SpawnerKind,
    out: Path,
    registry: str | None,
    docker: Engine,
) -> list[Path]:
    """Write a hub's profiles for the project's pairs into ``out``; returns the files written.

    Everything comes from the state, except with ``options.include_unvalidated``: then the
    engine says which pair the lock describes for each experiment without a validated one, and
    whether it is built. Every value is checked before that.
    """
    if registry is not None:
        parse_registry(registry)
    if options.default is not None:
        session.project.experiment(options.default)
    _check_output_folder(out)
    data = session.state.load()
    pairs = collect_pairs(session.project, data, registry=registry, include_unvalidated=False)
    if options.include_unvalidated:
        validated = {pair.experiment for pair in pairs}
        built = {}
        for name in sorted(set(session.project.experiments) - validated):
            references = build_stage.pair_references(
                session.project,
                session.project.experiments[name],
                docker=docker,
                cache=session.cache,
            )
            if all(docker.image(reference) is not None for reference in references.values()):
                built[name] = references
        pairs = collect_pairs(
            session.project, data, registry=registry, include_unvalidated=True, built=built
        )
    local = [pair for pair in pairs if "@sha256:" not in pair.singleuser]
    if spawner == "kubernetes" and local:
        # Not an error: a node that already has the images runs them (kind load); any other
        # node would ask Docker Hub for afenv/<exp>-<role>.
        names = ", ".join(pair.experiment for pair in local)
        session.ui.info(
            f"WARNING: {names} never pushed: the profiles name local tags, which only a node "
            f"that has the images can run; push with `afenv push EXP --registry R`"
        )
    return write_profiles(pairs, options, out, spawner)


def hub_up(
    session: Session,
    *,
    ip: str,
    port: int,
    users_file: Path,
    admins: list[str],
    workers: int,
    grid: GridOptions,
    docker: Engine,
) -> hub_server.HubSettings:
    """Start a hub offering every validated pair (by its local or pushed reference)."""
    # Local tags: the hub's engine is the one that built and validated the pairs.
    pairs = collect_pairs(
        session.project, session.state.load(), registry=None, include_unvalidated=False, local=True
    )
    return hub_server.up(
        session.project.state_dir,
        pairs,
        ip=ip,
        port=port,
        users_file=users_file,
        admins=admins,
        workers=workers,
        grid=grid,
        docker=docker,
        report=session.ui.info,
    )


def hub_down(session: Session, *, remove_homes: bool, docker: Engine) -> hub_server.Stopped:
    return hub_server.down(session.project.state_dir, remove_homes=remove_homes, docker=docker)


def hub_status(session: Session, docker: Engine) -> hub_server.HubStatus:
    return hub_server.status(session.project.state_dir, docker=docker)


def clean(session: Session, docker: Engine) -> dict[str, list[str]]:
    """Remove what afenv runs left, except a running hub's (`afenv hub down` stops that)."""
    running = hub_server.running_run(session.project.state_dir)
    return docker.clean(keep_runs=() if running is None else (running,))


def report(session: Session, out: Path, docker: Engine) -> tuple[Path, int]:
    """Write the image catalogue (``out/index.html``); returns the page and its card count."""
    _check_output_folder(out)
    lock_pairs: dict[str, dict[str, str] | None] = {}
    for name, experiment in session.project.experiments.items():
        try:
            lock_pairs[name] = build_stage.pair_references(
                session.project, experiment, docker=docker, cache=session.cache
            )
        except (ConfigError, LockError):
            # No base image yet, or this experiment's lock is behind: its card shows the
            # promoted pair, if any, and says that the lock's pair is not built.
            lock_pairs[name] = None
    cards = catalogue_stage.collect_cards(session.project, session.state.load(), lock_pairs, docker)
    page = catalogue_stage.write_catalogue(cards, out, project=session.project.facility.name)
    return page, len(cards)


def _check_output_folder(out: Path) -> None:
    """``out`` is a folder, or one can be made there: said before any work is done."""
    existing = out
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        what = "is a file" if existing == out else f"cannot be made: {existing} is a file"
        raise ConfigError(f"--out: {out} {what}; choose a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"--out: {out} cannot be written: {existing} is not writable")


def ci(
    session: Session, platform: ci_stage.Platform, *, out: Path, registry: str | None
) -> ci_stage.Plan:
    """Write the project's CI pipeline for ``platform`` at ``out``; returns its plan.

    Nothing is asked of the engine: the pipeline comes from the project alone. The registry
    and ``out`` are checked before anything is written.
    """
    plan = ci_stage.make_plan(session.project, registry)
    if out.is_dir():
        raise ConfigError(f"--out: {out} is a folder; give the file to write")
    _check_output_folder(out.parent)
    ci_stage.write(out, ci_stage.PLATFORMS[platform].render(plan))
    return plan


def images(session: Session, docker: Engine) -> list[dict[str, Any]]:
    return list_images(docker, session.state)

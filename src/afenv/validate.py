"""`afenv validate`: an image pair proves itself in a cluster of containers before promotion.

Phases: start the cluster; wait for the workers and compare versions (distributed's check and
afenv's stricter one); image checks (pytest + testinfra in the running containers); the Ds
benchmark generated in the cluster and run locally in a worker and distributed from the client.
Only a pair that passes everything moves the promoted tags; the result is recorded either way.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors

from afenv import benchrun, versions
from afenv.benchrun import ModeOutcome
from afenv.cluster import SCHEDULER_ADDRESS, Cluster, cluster
from afenv.config import BenchmarkSpec, Project
from afenv.errors import ConfigError
from afenv.lock import read_image_lock
from afenv.state import State
from afenv.ui import UI

__all__ = [
    "Pair",
    "ValidationResult",
    "pair_for_experiment",
    "pair_from_images",
    "promote",
    "validate",
]

_PROBES = Path(__file__).parent / "probes"
_CHECKS = Path(__file__).parent / "checks"
DEFAULT_BENCHMARK = BenchmarkSpec(events=200_000, files=4, seed=1)


@dataclass(frozen=True, kw_only=True)
class Pair:
    worker: str
    singleuser: str
    experiment: str | None  # None: images afenv did not build
    key: str  # report folder name: the singleuser content hash, or a digest of both image IDs
    cvmfs: tuple[str, ...]
    benchmark: BenchmarkSpec
    locks: Mapping[str, Mapping[str, tuple[str, str]]] = field(default_factory=dict)


@dataclass
class ValidationResult:
    pair: Pair
    report_dir: Path
    summary: dict[str, Any]

    @property
    def passed(self) -> bool:
        return bool(self.summary["passed"])


def _image(client: docker.DockerClient, reference: str, what: str) -> Any:
    try:
        return client.images.get(reference)
    except docker.errors.ImageNotFound:
        raise ConfigError(f"{what} image {reference!r} not found; build or pull it first") from None


def pair_for_experiment(project: Project, name: str, references: Mapping[str, str]) -> Pair:
    experiment = project.experiment(name)
    lock_dir = experiment.directory / "lock"
    return Pair(
        worker=references["worker"],
        singleuser=references["singleuser"],
        experiment=name,
        key=references["singleuser"].rsplit(":", 1)[1],
        cvmfs=experiment.cvmfs,
        benchmark=experiment.benchmark,
        locks={
            role: read_image_lock(lock_dir / f"{role}.txt").pins
            for role in ("worker", "singleuser")
        },
    )


def pair_from_images(client: docker.DockerClient, worker: str, singleuser: str) -> Pair:
    worker_image = _image(client, worker, "worker")
    singleuser_image = _image(client, singleuser, "singleuser")
    digest = hashlib.sha256(f"{worker_image.id}\n{singleuser_image.id}".encode()).hexdigest()[:12]
    return Pair(
        worker=worker,
        singleuser=singleuser,
        experiment=None,
        key=f"pair-{digest}",
        cvmfs=(),
        benchmark=DEFAULT_BENCHMARK,
    )


class _Phases:
    def __init__(self, ui: UI) -> None:
        self.ui = ui
        self.timings: dict[str, float] = {}

    @contextlib.contextmanager
    def run(self, name: str, label: str) -> Iterator[None]:
        """Announce a phase and record how long it took."""
        self.ui.info(label)
        started = time.monotonic()
        try:
            yield
        finally:
            self.timings[name] = round(time.monotonic() - started, 2)


def validate(
    project_root: Path,
    pair: Pair,
    *,
    client: docker.DockerClient,
    ui: UI,
    workers: int = 2,
    registration_timeout: int = 180,
) -> ValidationResult:
    started = time.monotonic()
    report_dir = project_root / "reports" / (pair.experiment or "external") / pair.key
    report_dir.mkdir(parents=True, exist_ok=True)
    phases = _Phases(ui)
    checks: dict[str, dict[str, Any]] = {}
    summary: dict[str, Any] = {
        "passed": False,
        "experiment": pair.experiment,
        "images": {"worker": pair.worker, "singleuser": pair.singleuser},
        "workers": workers,
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "versions": {},
        "checks": checks,
        "benchmark": {},
        "timing": phases.timings,
    }
    image_ids = {
        role: _image(client, ref, role).id
        for role, ref in (("worker", pair.worker), ("singleuser", pair.singleuser))
    }
    summary["image_ids"] = image_ids

    with contextlib.ExitStack() as stack:
        with phases.run("cluster_start", f"starting scheduler, {workers} workers and a client"):
            state = stack.enter_context(
                cluster(
                    client,
                    worker_image=pair.worker,
                    singleuser_image=pair.singleuser,
                    workers=workers,
                    logs=report_dir / "logs",
                )
            )
        registered = _versions_phase(
            state, workers, phases, checks, summary, timeout=registration_timeout
        )
        if registered:
            with phases.run("image_checks", "image checks (pytest + testinfra)"):
                _image_checks(state, pair, client, report_dir, checks)
            _benchmark_phase(state, pair, phases, checks, summary, report_dir)

    summary["passed"] = bool(checks) and all(
        c["status"] in {"passed", "skipped"} for c in checks.values()
    )
    summary["timing"]["total"] = round(time.monotonic() - started, 2)
    (report_dir / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return ValidationResult(pair=pair, report_dir=report_dir, summary=summary)


def _check(
    checks: dict[str, dict[str, Any]], name: str, ok: bool | None, message: str = ""
) -> None:
    status = "skipped" if ok is None else ("passed" if ok else "failed")
    checks[name] = {"status": status, "message": message}


def _put_file(state: Cluster, container: Any, source: Path, directory: str) -> str:
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        info = tarfile.TarInfo(source.name)
        data = source.read_bytes()
        info.size, info.mode = len(data), 0o644
        tar.addfile(info, io.BytesIO(data))
    state.exec(container, ["mkdir", "-p", directory], timeout=30)
    container.put_archive(directory, archive.getvalue())
    return f"{directory}/{source.name}"


def _versions_phase(
    state: Cluster,
    workers: int,
    phases: _Phases,
    checks: dict[str, Any],
    summary: dict[str, Any],
    *,
    timeout: int,
) -> bool:
    assert state.notebook is not None
    probe = _put_file(state, state.notebook, _PROBES / "versions_probe.py", "/tmp/afenv-probe")
    with phases.run("registration_and_versions", "waiting for workers; comparing versions"):
        result = state.exec(
            state.notebook,
            ["python", probe, SCHEDULER_ADDRESS, str(workers), str(timeout)],
            timeout=timeout + 120,
        )
    try:
        data = json.loads(result.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        tail = " ".join(result.stderr.strip().splitlines()[-3:])
        _check(
            checks, "cluster.registration", False, f"client could not reach the scheduler: {tail}"
        )
        return False
    expected = [f"worker-{index}" for index in range(1, len(state.workers) + 1)]
    missing = [name for name in expected if name not in data["registered"]]
    if missing:
        tails = "; ".join(
            f"{c.name}: {state.log_tail(c, 5)!r}"
            for c in state.workers
            if c.name.endswith(tuple(f"-{name}" for name in missing))
        )
        _check(
            checks,
            "cluster.registration",
            False,
            f"never registered: {', '.join(missing)} ({tails})",
        )
        return False
    _check(checks, "cluster.registration", True, f"{len(expected)} workers registered")
    summary["registration"] = _registration_times(state, data["registered"])

    workers_packages = data["workers"]
    summary["versions"] = versions.version_rows(data["client"], data["scheduler"], workers_packages)
    _check(
        checks,
        "versions.no_mismatch_warning",
        not data["warnings"],
        " | ".join(" ".join(w.split()) for w in data["warnings"])[:2000],
    )
    _check(
        checks,
        "versions.get_versions_check",
        data["check"] == "passed",
        "" if data["check"] == "passed" else " ".join(str(data["check"]).split())[:2000],
    )
    rows = versions.compare(data["client"], data["scheduler"], workers_packages)
    summary["version_disagreements"] = [row.package for row in rows]
    _check(
        checks,
        "versions.every_shared_package",
        not rows,
        "" if not rows else "\n" + versions.table(rows),
    )
    return True


def _registration_times(state: Cluster, registered: Mapping[str, str]) -> dict[str, float]:
    """Seconds from each worker container's start to its registration at the scheduler."""
    times = {}
    for container in state.workers:
        container.reload()
        name = "worker-" + container.name.rsplit("-", 1)[-1]
        started = dt.datetime.fromisoformat(
            container.attrs["State"]["StartedAt"][:26].rstrip("Z") + "+00:00"
        )
        if name in registered:
            times[name] = round(
                (dt.datetime.fromisoformat(registered[name]) - started).total_seconds(), 2
            )
    return times


def _image_checks(
    state: Cluster,
    pair: Pair,
    client: docker.DockerClient,
    report_dir: Path,
    checks: dict[str, Any],
) -> None:
    assert state.scheduler is not None and state.notebook is not None
    images = {}
    for role, container, reference in (
        ("worker", state.scheduler, pair.worker),
        ("singleuser", state.notebook, pair.singleuser),
    ):
        images[role] = {
            "container": container.id,
            "config": client.images.get(reference).attrs["Config"],
            "lock": {n: list(p) for n, p in pair.locks.get(role, {}).items()},
        }
    context = {
        "images": images,
        "afenv_built": pair.experiment is not None,
        "cvmfs": list(pair.cvmfs),
    }
    with tempfile.TemporaryDirectory(prefix="afenv-checks-") as tmp:
        context_file = Path(tmp) / "context.json"
        context_file.write_text(json.dumps(context))
        junit = report_dir / "checks.xml"
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                str(_CHECKS),
                "-c",
                str(_CHECKS / "pytest.ini"),
                "--rootdir",
                str(_CHECKS),
                f"--junitxml={junit}",
            ],
            capture_output=True,
            text=True,
            timeout=1200,
            check=False,
            env={"AFENV_CHECK_CONTEXT": str(context_file), "PATH": "/usr/local/bin:/usr/bin:/bin"},
        )
    (report_dir / "checks.log").write_text(result.stdout + result.stderr)
    if not junit.is_file():
        _check(checks, "image.checks", False, f"pytest did not run: {result.stderr.strip()[-500:]}")
        return
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = "image." + case.attrib["name"]
        failure = case.find("failure")
        if failure is None:
            failure = case.find("error")
        skipped = case.find("skipped")
        if failure is not None:
            _check(
                checks, name, False, " ".join((failure.attrib.get("message") or "").split())[:1000]
            )
        elif skipped is not None:
            _check(checks, name, None, skipped.attrib.get("message", ""))
        else:
            _check(checks, name, True)


def _outcome_check(checks: dict[str, Any], outcome: ModeOutcome) -> dict[str, Any] | None:
    report = outcome.report
    if report is None:
        _check(checks, f"benchmark.{outcome.label}", False, outcome.problem)
        return None
    wall = report.get("timing", {}).get("wall_s", 0.0)
    _check(checks, f"benchmark.{outcome.label}", True, f"{report['events']} events in {wall:.1f}s")
    return report


def _benchmark_phase(
    state: Cluster,
    pair: Pair,
    phases: _Phases,
    checks: dict[str, Any],
    summary: dict[str, Any],
    report_dir: Path,
) -> None:
    spec = pair.benchmark
    with phases.run(
        "benchmark_generate", f"generating {spec.events} Ds events in {spec.files} files"
    ):
        generated = benchrun.generate(state, pair.worker, spec)
    if generated.exit_code != 0:
        reason = (generated.stderr.strip().splitlines() or ["?"])[-1]
        _check(checks, "benchmark.generate", False, reason)
        return
    _check(checks, "benchmark.generate", True)
    bench_dir = report_dir / "benchmark"
    with phases.run("benchmark_local", "benchmark: local mode in a worker container"):
        local = _outcome_check(
            checks, benchrun.run_mode(state, state.workers[0], "local", bench_dir)
        )
    with phases.run(
        "benchmark_distributed", "benchmark: distributed from the client over the workers"
    ):
        distributed = _outcome_check(
            checks, benchrun.run_mode(state, state.notebook, "dask", bench_dir)
        )
    summary["benchmark"] = {"local": local, "distributed": distributed}
    if local is None or distributed is None:
        return
    same = (
        local["cutflow"] == distributed["cutflow"]
        and local["histogram"] == distributed["histogram"]
    )
    _check(
        checks,
        "benchmark.local_equals_distributed",
        same,
        "" if same else f"cutflow local {local['cutflow']} vs distributed {distributed['cutflow']}",
    )
    truth = (distributed.get("fit") or {}).get("truth_check")
    if not truth:
        _check(checks, "benchmark.fit_recovers_truth", False, "no truth check in the report")
    else:
        _check(
            checks,
            "benchmark.fit_recovers_truth",
            bool(truth.get("ok")),
            json.dumps({k: truth[k] for k in ("ds", "dplus") if k in truth}),
        )


def promote(project_root: Path, result: ValidationResult, client: docker.DockerClient) -> list[str]:
    """Move the promoted tags to a passing afenv pair; record the result either way."""
    pair = result.pair
    store = State(project_root / ".afenv")
    record = {
        "passed": result.passed,
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "report": str(result.report_dir / "summary.json"),
    }
    if pair.experiment is None:
        # A pair named by the user says nothing about either image alone (the mismatch may be
        # the other one's): keep the result under the pair, not under its images.
        data = store.load()
        data.setdefault("pairs", {})[pair.key] = record | {
            "worker": pair.worker,
            "singleuser": pair.singleuser,
        }
        store.save(data)
        return []
    for reference in (pair.worker, pair.singleuser):
        store.record_image(reference, validation=record)
    if not result.passed:
        return []
    today = dt.datetime.now(dt.UTC).strftime("%Y%m%d")
    promoted = []
    for reference in (pair.worker, pair.singleuser):
        repository = reference.rsplit(":", 1)[0]
        image = client.images.get(reference)
        for tag in ("latest", today):
            image.tag(repository, tag)
            promoted.append(f"{repository}:{tag}")
    data = store.load()
    data["promoted"][pair.experiment] = [pair.worker, pair.singleuser]
    store.save(data)
    return promoted


def summary_text(result: ValidationResult, promoted: list[str], root: Path) -> str:
    """The short human summary `afenv validate` ends with."""
    summary = result.summary
    checks = summary["checks"]
    failed = {n: c for n, c in checks.items() if c["status"] == "failed"}
    skipped = sum(1 for c in checks.values() if c["status"] == "skipped")
    verdict = "PASSED" if result.passed else "FAILED"
    target = result.pair.experiment or f"{result.pair.worker} + {result.pair.singleuser}"
    lines = [f"afenv validate {target}: {verdict} in {summary['timing'].get('total', 0):.0f}s"]
    lines.append(
        f"  checks     {len(checks) - len(failed) - skipped}/{len(checks)} passed"
        + (f", {skipped} skipped" if skipped else "")
    )
    for name, check in failed.items():
        message = check["message"]
        if "\n" in message:
            lines.append(f"  FAILED     {name}:{message}")
        else:
            lines.append(f"  FAILED     {name}: {message}")
    bench = summary.get("benchmark") or {}
    for label in ("local", "distributed"):
        report = bench.get(label)
        if report:
            timing = report.get("timing", {})
            lines.append(
                f"  benchmark  {label:<11} {report['events']} events, "
                f"{timing.get('events_per_s', 0):,.0f} events/s, selected {report.get('selected')}"
            )
    if promoted:
        lines.append(f"  promoted   {', '.join(promoted)}")
    try:
        shown = (result.report_dir / "summary.json").relative_to(root)
    except ValueError:
        shown = result.report_dir / "summary.json"
    lines.append(f"  report     {shown}")
    return "\n".join(lines)

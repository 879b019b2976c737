"""The plan as a GitLab CI pipeline (.gitlab-ci.yml).

The jobs name no image: scripts/setup.sh prepares the runner itself (Docker engine, .venv), so
they are meant for a shell runner on a Debian host. The registry credentials are the project's
CI/CD variables AFENV_REGISTRY_USERNAME and AFENV_REGISTRY_PASSWORD, which GitLab puts in every
job's environment; nothing here names their values.
"""

from __future__ import annotations

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

__all__ = ["DEFAULT_BRANCH", "pipeline", "render"]

DEFAULT_BRANCH = "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"
_EXPERIMENT = f"${EXPERIMENT}"


def _header(plan: Plan) -> str:
    lines = describe(plan, "gitlab")
    if plan.registry is not None:
        lines.append(
            f"Credentials: masked (and protected) CI/CD variables {USERNAME} and {PASSWORD} "
            f"(both, or neither for the runner's `docker login`)."
        )
    lines.append(
        "The jobs name no image: scripts/setup.sh prepares the runner (Docker engine, .venv) "
        "and installs Debian packages; use a shell runner on a Debian host, as root."
    )
    return comment(lines)


def _rules(job: Job) -> list[dict[str, str]] | None:
    if job.branches == "default":
        return [{"if": DEFAULT_BRANCH}]
    if job.branches == "other":
        return [{"if": DEFAULT_BRANCH, "when": "never"}, {"when": "on_success"}]
    return None


def _job(plan: Plan, job: Job) -> dict[str, Any]:
    document: dict[str, Any] = {"stage": job.name}  # one job per stage
    if job.needs:
        document["needs"] = list(job.needs)
    rules = _rules(job)
    if rules is not None:
        document["rules"] = rules
    if job.per_experiment:
        document["parallel"] = {"matrix": [{EXPERIMENT: list(plan.experiments)}]}
    if job.variables:
        document["variables"] = dict(job.variables)
    if job.wheel_cache:
        document["cache"] = {
            # The lock's record digests every lock file: its content is the lock's identity.
            "key": {"prefix": CACHE_KEY, "files": [plan.lock_digest]},
            "paths": [f"{CACHE_FOLDER}/"],
        }
    document["script"] = [command.shell() for command in job.commands if not command.always]
    after = [command.shell() for command in job.commands if command.always]
    if after:
        # after_script runs whether script passed or failed, before the artifacts are taken.
        document["after_script"] = after
    if job.reports:
        document["artifacts"] = {
            "name": f"afenv-report-{_EXPERIMENT}",
            "when": "always",
            "paths": [f"{plan.reports}/{_EXPERIMENT}/", f"{plan.catalogue}/"],
            "expire_in": "30 days",
        }
    return document


def pipeline(plan: Plan) -> dict[str, Any]:
    document: dict[str, Any] = {
        # A newer commit on the branch cancels the jobs still running for an older one.
        "workflow": {"auto_cancel": {"on_new_commit": "interruptible"}},
        "stages": [job.name for job in plan.jobs],
        "default": {"interruptible": True},
        "variables": {CACHE_VARIABLE: f"$CI_PROJECT_DIR/{CACHE_FOLDER}"},
    }
    document.update({job.name: _job(plan, job) for job in plan.jobs})
    return document


def render(plan: Plan) -> str:
    text = to_yaml(pipeline(plan))
    return _header(plan) + text

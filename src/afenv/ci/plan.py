"""The CI pipeline as data: its jobs, the afenv commands each runs, for which experiments.

Built once from the loaded project; the GitHub and GitLab renderers only lay it out in their
platform's words. Every experiment's images share the base and core layers and no experiment
depends on another, so the experiments are one matrix, in sorted order.

Images and afenv's validation record stay on the machine that built them, so the job that
pushes builds and validates first (on the default branch, where it replaces the build job):
a separate push job on a fresh runner would find neither.
"""

from __future__ import annotations

import shlex
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Literal

import yaml

from afenv.hub.push import PASSWORD, USERNAME, parse_registry
from afenv.lock.files import INPUTS, LOCK_DIR, experiment_lock_files
from afenv.spec import Project

__all__ = [
    "AFENV",
    "CACHE_FOLDER",
    "CACHE_KEY",
    "CACHE_VARIABLE",
    "EXPERIMENT",
    "REGISTRY",
    "SETUP",
    "Branches",
    "Command",
    "Job",
    "Plan",
    "Variable",
    "comment",
    "describe",
    "make_plan",
    "to_yaml",
]

# The checkout's afenv, as scripts/setup.sh installs it (with the Docker engine).
AFENV = ".venv/bin/afenv"
SETUP: tuple[str, ...] = ("bash", "scripts/setup.sh")
# Environment variables the jobs read; a matrix value or the registry reaches a command only
# through them, quoted, never pasted into the shell text.
EXPERIMENT = "EXPERIMENT"
REGISTRY = "AFENV_REGISTRY"
# The wheelhouse cache, inside the checkout (GitLab caches only there), passed to afenv as
# CACHE_VARIABLE (afenv.pipeline.cache_dir reads it first); CI caches are named CACHE_KEY-<digest>.
CACHE_FOLDER = ".afenv-cache"
CACHE_VARIABLE = "AFENV_CACHE"
CACHE_KEY = "afenv-wheels"

# any: every pipeline; default: the default branch only; other: every branch but the default.
Branches = Literal["any", "default", "other"]


@dataclass(frozen=True)
class Variable:
    """A command argument taken from the job's environment."""

    name: str


@dataclass(frozen=True, kw_only=True)
class Command:
    title: str
    argv: tuple[str | Variable, ...]
    secrets: tuple[str, ...] = ()  # variables it needs from the CI platform's secret store
    report: bool = False  # writes reports/<experiment>/, kept whether it passed or not
    always: bool = False  # runs even when a command before it failed (the catalogue)

    @property
    def variables(self) -> frozenset[str]:
        return frozenset(word.name for word in self.argv if isinstance(word, Variable))

    def shell(self) -> str:
        """The command line: literal words quoted, variables as "$NAME"."""
        return " ".join(
            f'"${word.name}"' if isinstance(word, Variable) else shlex.quote(word)
            for word in self.argv
        )


@dataclass(frozen=True, kw_only=True)
class Job:
    name: str
    commands: tuple[Command, ...]
    needs: tuple[str, ...] = ()
    per_experiment: bool = False  # one job per experiment, EXPERIMENT set to its name
    branches: Branches = "any"
    wheel_cache: bool = False
    variables: Mapping[str, str] = field(default_factory=dict)  # literal values

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(name for command in self.commands for name in command.secrets)

    @property
    def reports(self) -> bool:
        return any(command.report for command in self.commands)


@dataclass(frozen=True, kw_only=True)
class Plan:
    experiments: tuple[str, ...]
    registry: str | None
    jobs: tuple[Job, ...]
    lock_files: tuple[str, ...]  # globs: the wheel cache is keyed by their content
    lock_digest: str  # the one file that changes whenever any lock file does
    reports: str  # folder of the validation reports, one subfolder per experiment
    catalogue: str  # where `afenv report` writes the image catalogue (kept with the reports)


def _afenv(
    *argv: str | Variable,
    secrets: tuple[str, ...] = (),
    report: bool = False,
    always: bool = False,
) -> Command:
    words = " ".join(f"${w.name}" if isinstance(w, Variable) else w for w in argv)
    return Command(
        title=f"afenv {words}",
        argv=(AFENV, *argv),
        secrets=secrets,
        report=report,
        always=always,
    )


def make_plan(project: Project, registry: str | None = None) -> Plan:
    """The pipeline for ``project``; with ``registry``, the default branch also pushes there.

    The registry passes afenv's grammar here (ConfigError otherwise), before anything is
    written; experiment names passed theirs when the project was loaded.
    """
    target = None if registry is None else str(parse_registry(registry))
    experiment = Variable(EXPERIMENT)
    setup = Command(title="setup", argv=SETUP)
    build = _afenv("build", experiment, report=True)
    # The catalogue card of the runner's pair, passed or failed: kept with the report.
    catalogue = _afenv("report", always=True)
    jobs = [
        Job(name="lock", commands=(setup, _afenv("lock", "--check"))),
        Job(
            name="build",
            commands=(setup, build, catalogue),
            needs=("lock",),
            per_experiment=True,
            branches="any" if target is None else "other",
            wheel_cache=True,
        ),
    ]
    if target is not None:
        jobs.append(
            Job(
                name="push",
                commands=(
                    setup,
                    build,
                    _afenv(
                        "push",
                        experiment,
                        "--registry",
                        Variable(REGISTRY),
                        secrets=(USERNAME, PASSWORD),
                    ),
                    catalogue,
                ),
                needs=("lock",),
                per_experiment=True,
                branches="default",
                wheel_cache=True,
                variables={REGISTRY: target},
            )
        )
    experiment_locks = PurePosixPath(experiment_lock_files("*")["debian"]).parent
    return Plan(
        experiments=tuple(sorted(project.experiments)),
        registry=target,
        jobs=tuple(jobs),
        lock_files=(f"{PurePosixPath(LOCK_DIR)}/**", f"{experiment_locks}/**"),
        lock_digest=str(PurePosixPath(INPUTS)),
        reports=str(PurePosixPath(project.reports_dir.relative_to(project.root))),
        catalogue=str(PurePosixPath(project.reports_dir.relative_to(project.root)) / "catalogue"),
    )


def describe(plan: Plan, platform: str) -> list[str]:
    """What the generated file says of itself, in its header comment."""
    lines = [
        f"Generated by `afenv ci {platform}` from the project's experiments "
        f"({', '.join(plan.experiments)}); regenerate it, do not edit by hand.",
        "lock: `afenv lock --check` fails, naming the input that changed, when the lock is behind.",
        "build: one job per experiment builds and validates its image pair; its report and "
        "the image catalogue (`afenv report`) are kept as an artifact.",
    ]
    if plan.registry is not None:
        lines.append(
            f"push (the default branch, instead of build): build, validate, then push to "
            f"{plan.registry}, on the runner that holds the images and the validation record."
        )
    return lines


def to_yaml(document: Mapping[str, object]) -> str:
    """A workflow or pipeline as both renderers write it: keys in the plan's order, block
    style, no line folding (a folded `run:` line would still work, but reads badly)."""
    return yaml.safe_dump(dict(document), sort_keys=False, default_flow_style=False, width=1000)


def comment(lines: list[str]) -> str:
    """``lines`` as a YAML comment block, wrapped to fit the file's width."""
    return "".join(f"# {part}\n" for line in lines for part in textwrap.wrap(line, 96))

"""Which pairs a hub offers, from afenv's state file, and `afenv hub profiles` in-process.

The states here are written by hand in the format of ``.afenv/state.json`` (what
``afenv build``/``validate`` and ``afenv push`` record), not mocks of anything.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from afenv.cli import main
from afenv.errors import ConfigError
from afenv.hub.pairs import Pair, collect_pairs
from afenv.hub.profiles import DOCKER_CONFIG, MANIFESTS, VALUES
from afenv.spec import Project, load_project

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = "registry.example.org/af"
OTHER = "127.0.0.1:5000"
VERSIONS = {"root": "6.36.04", "python": "3.13.5", "dask": "2025.7.0"}
# No engine answers here: the validated path must never ask one.
NO_ENGINE = {"DOCKER_HOST": "tcp://127.0.0.1:9"}


@pytest.fixture(scope="module")
def project() -> Project:
    return load_project(ROOT)


def _local(experiment: str, role: str) -> str:
    content_hash = hashlib.sha256(f"{experiment}-{role}".encode()).hexdigest()[:12]
    return f"afenv/{experiment}-{role}:{content_hash}"


def _pinned(registry: str, experiment: str, role: str) -> str:
    digest = hashlib.sha256(f"{registry}/{experiment}-{role}".encode()).hexdigest()
    return f"{registry}/{experiment}-{role}@sha256:{digest}"


def _validation(passed: bool = True, versions: dict[str, str] | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "passed": passed,
        "when": "2026-07-30T09:12:44+00:00",
        "report": "/facility/reports/cms/0abb1b705855/summary.json",
    }
    if versions is not None:
        record["versions"] = versions
    return record


def _state(
    *, pushed_to: tuple[str, ...] = (), versions: dict[str, str] | None = VERSIONS
) -> dict[str, Any]:
    """cms validated and promoted (pushed to ``pushed_to``); fcc built and validated, failing."""
    images: dict[str, Any] = {}
    for role in ("worker", "singleuser"):
        images[_local("cms", role)] = {
            "experiment": "cms",
            "role": role,
            "validation": _validation(versions=versions),
        }
        if pushed_to:
            images[_local("cms", role)]["pushed"] = sorted(
                _pinned(registry, "cms", role) for registry in pushed_to
            )
        images[_local("fcc", role)] = {
            "experiment": "fcc",
            "role": role,
            "validation": _validation(passed=False, versions=versions),
        }
    return {
        "images": images,
        "promoted": {"cms": [_local("cms", "worker"), _local("cms", "singleuser")]},
        "pairs": {},
        "pushed": {
            "cms": {
                registry: {
                    "when": "2026-07-30T10:00:00+00:00",
                    "validated": True,
                    "worker": _pinned(registry, "cms", "worker"),
                    "singleuser": _pinned(registry, "cms", "singleuser"),
                }
                for registry in pushed_to
            }
        },
    }


def _built(*experiments: str) -> dict[str, dict[str, str]]:
    return {
        name: {role: _local(name, role) for role in ("worker", "singleuser")}
        for name in experiments
    }


def test_a_validated_pushed_pair_is_offered_by_its_digests(project: Project) -> None:
    (cms,) = collect_pairs(
        project, _state(pushed_to=(REGISTRY,)), registry=None, include_unvalidated=False
    )
    spec = project.experiment("cms")
    assert cms == Pair(
        experiment="cms",
        title=spec.title,
        description=spec.description,
        singleuser=_pinned(REGISTRY, "cms", "singleuser"),
        worker=_pinned(REGISTRY, "cms", "worker"),
        validated="2026-07-30",
        versions=VERSIONS,
        cvmfs=spec.cvmfs,
        resources=spec.resources,
    )
    named = collect_pairs(
        project, _state(pushed_to=(REGISTRY,)), registry=REGISTRY, include_unvalidated=False
    )
    assert named == [cms]


def test_a_validated_pair_never_pushed_is_offered_by_its_local_tags(project: Project) -> None:
    (cms,) = collect_pairs(project, _state(), registry=None, include_unvalidated=False)
    assert (cms.worker, cms.singleuser) == (_local("cms", "worker"), _local("cms", "singleuser"))
    assert cms.validated == "2026-07-30"


def test_two_registries_need_one_named(project: Project) -> None:
    state = _state(pushed_to=(REGISTRY, OTHER))
    with pytest.raises(ConfigError) as error:
        collect_pairs(project, state, registry=None, include_unvalidated=False)
    assert str(error.value) == (
        f"cms's pair is pushed to {OTHER}, {REGISTRY}; choose one with --registry"
    )
    (cms,) = collect_pairs(project, state, registry=OTHER, include_unvalidated=False)
    assert cms.singleuser == _pinned(OTHER, "cms", "singleuser")
    assert cms.worker == _pinned(OTHER, "cms", "worker")


@pytest.mark.parametrize("pushed_to", [(), (OTHER,)])
def test_a_registry_the_pair_is_not_in_says_how_to_push_it(
    project: Project, pushed_to: tuple[str, ...]
) -> None:
    with pytest.raises(ConfigError) as error:
        collect_pairs(
            project, _state(pushed_to=pushed_to), registry=REGISTRY, include_unvalidated=False
        )
    assert str(error.value) == (
        f"--registry: cms's pair is not pushed to {REGISTRY}; run "
        f"`afenv push cms --registry {REGISTRY}`"
    )


def test_a_registry_holding_one_image_of_the_pair_does_not_serve_it(project: Project) -> None:
    state = _state(pushed_to=(REGISTRY,))
    del state["images"][_local("cms", "worker")]["pushed"]
    (cms,) = collect_pairs(project, state, registry=None, include_unvalidated=False)
    assert cms.singleuser == _local("cms", "singleuser")


def test_a_bad_registry_is_refused_as_push_refuses_it(project: Project) -> None:
    with pytest.raises(ConfigError, match=r"--registry: 'Registry\.example\.org'"):
        collect_pairs(project, _state(), registry="Registry.example.org", include_unvalidated=False)


def test_unvalidated_pairs_come_from_what_is_built(project: Project) -> None:
    state = _state()
    built = _built("cms", "fcc")  # atlas is not built: left out
    offered = collect_pairs(project, state, registry=None, include_unvalidated=False, built=built)
    assert [pair.experiment for pair in offered] == ["cms"]
    cms, fcc = collect_pairs(project, state, registry=None, include_unvalidated=True, built=built)
    assert cms.validated == "2026-07-30"
    assert fcc.experiment == "fcc"
    assert (fcc.worker, fcc.singleuser) == (_local("fcc", "worker"), _local("fcc", "singleuser"))
    assert fcc.validated is None
    assert fcc.versions == {}
    assert fcc.title == project.experiment("fcc").title


def test_an_unvalidated_pair_asked_from_a_registry_needs_a_forced_push(project: Project) -> None:
    state = _state(pushed_to=(OTHER,))
    hint = re.escape(f"`afenv push fcc --registry {OTHER} --force`")
    with pytest.raises(ConfigError, match=hint):
        collect_pairs(project, state, registry=OTHER, include_unvalidated=True, built=_built("fcc"))


def test_a_promoted_pair_whose_last_validation_failed_is_not_validated(project: Project) -> None:
    state = _state()
    state["images"][_local("cms", "worker")]["validation"] = _validation(passed=False)
    assert collect_pairs(project, state, registry=None, include_unvalidated=False) == []
    (cms,) = collect_pairs(
        project, state, registry=None, include_unvalidated=True, built=_built("cms")
    )
    assert cms.validated is None


def test_versions_missing_from_an_older_state_are_none(project: Project) -> None:
    (cms,) = collect_pairs(project, _state(versions=None), registry=None, include_unvalidated=False)
    assert cms.versions == {}
    assert cms.validated == "2026-07-30"


@pytest.mark.parametrize(
    ("damage", "named"),
    [
        (lambda s: s["promoted"].update(cms=["only-one"]), "promoted['cms']"),
        (lambda s: s["images"].update({_local("cms", "worker"): []}), "images['afenv/cms-worker"),
        (
            lambda s: s["images"][_local("cms", "singleuser")]["validation"].update(when=3),
            "validation.when",
        ),
        (
            lambda s: s["images"][_local("cms", "singleuser")].update(pushed="x"),
            ".pushed is not a list",
        ),
    ],
)
def test_a_damaged_state_names_the_file(project: Project, damage: Any, named: str) -> None:
    state = _state()
    damage(state)
    with pytest.raises(ConfigError) as error:
        collect_pairs(project, state, registry=None, include_unvalidated=False)
    message = str(error.value)
    assert message.startswith(f"{project.state_dir / 'state.json'}: ")
    assert named in message


# -- afenv hub profiles, in-process -----------------------------------------------------------


def _write_state(root: Path, state: dict[str, Any]) -> None:
    (root / ".afenv").mkdir()
    (root / ".afenv/state.json").write_text(json.dumps(state))


def test_hub_profiles_writes_the_pushed_pair_without_an_engine(
    project_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_state(project_copy, _state(pushed_to=(REGISTRY, OTHER)))
    out = tmp_path / "hub"
    argv = ["--project", str(project_copy), "hub", "profiles", "--json", "--out", str(out),
            "--registry", REGISTRY, "--namespace", "af", "--cvmfs", "hostpath"]  # fmt: skip
    assert main(argv, env=NO_ENGINE) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {"files": [str(out / VALUES), str(out / MANIFESTS)]}
    values = yaml.safe_load((out / VALUES).read_text())
    (profile,) = values["singleuser"]["profileList"]
    override = profile["kubespawner_override"]
    assert override["image"] == _pinned(REGISTRY, "cms", "singleuser")
    assert override["environment"]["DASK_KUBERNETES__IMAGE"] == _pinned(REGISTRY, "cms", "worker")
    assert override["volumes"]["afenv-cvmfs"]["hostPath"]["path"] == "/cvmfs"
    manifests = list(yaml.safe_load_all((out / MANIFESTS).read_text()))
    assert {m["metadata"]["namespace"] for m in manifests} == {"af"}


def test_hub_profiles_defaults_to_the_projects_hub_folder(
    project_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_state(project_copy, _state())
    argv = ["--project", str(project_copy), "hub", "profiles", "--spawner", "docker"]
    assert main(argv, env=NO_ENGINE) == 0
    assert capsys.readouterr().out.splitlines()[0] == str(project_copy / "hub" / DOCKER_CONFIG)
    config = json.loads((project_copy / "hub" / DOCKER_CONFIG).read_text())
    assert config["image"] == _local("cms", "singleuser")  # never pushed: a single-host hub


def test_a_kubernetes_hub_is_warned_of_local_tags(
    project_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_state(project_copy, _state())
    argv = ["--project", str(project_copy), "hub", "profiles", "--out", str(tmp_path)]
    assert main(argv, env=NO_ENGINE) == 0
    (warning,) = capsys.readouterr().err.splitlines()
    assert "WARNING: cms never pushed" in warning
    assert "`afenv push EXP --registry R`" in warning

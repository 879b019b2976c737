"""The pairs a hub may offer: one per experiment, the images afenv validated together.

Built from afenv's state (validation results, pushed digests) and the images' own manifests;
every later stage (push, profiles, the hub) takes these frozen records and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from afenv.errors import ConfigError
from afenv.hub.push import parse_registry
from afenv.spec import ROLES, Project
from afenv.spec.model import ResourcesSpec
from afenv.state import State

__all__ = ["Pair", "collect_pairs"]


@dataclass(frozen=True, kw_only=True)
class Pair:
    experiment: str
    title: str
    description: str
    # Immutable references: ``registry/prefix/repo@sha256:…`` once pushed, else the local
    # content-hash tag (``afenv/cms-worker:0abb1b705855``); never a moving tag such as latest.
    singleuser: str
    worker: str
    validated: str | None  # UTC date (YYYY-MM-DD) of the passing validation; None: never passed
    versions: Mapping[str, str]  # "root", "python", "dask" as installed in the images
    cvmfs: tuple[str, ...]  # the experiment's CVMFS repositories (cms.cern.ch, grid.cern.ch…)
    resources: ResourcesSpec  # the experiment's [resources]: what a user's notebook pod gets


def collect_pairs(
    project: Project,
    state_data: Mapping[str, Any],
    *,
    registry: str | None,
    include_unvalidated: bool,
    built: Mapping[str, Mapping[str, str]] | None = None,
    local: bool = False,
) -> list[Pair]:
    """One pair per experiment of ``project``, by name: the promoted one, if it passed
    validation; else, with ``include_unvalidated``, the one in ``built`` (experiment -> role ->
    local reference of the pair the lock describes, which the caller finds in the engine).
    Experiments with neither are left out.

    ``state_data`` is afenv's state (:meth:`afenv.state.State.load`). Images pushed to a
    registry are offered by their pinned digests, from ``registry`` when they went to several;
    never-pushed images by their local content-hash tags, which only the host that built them
    has. With ``local``, always those tags (a hub on this host, whatever was pushed where).
    """
    target = None if registry is None else str(parse_registry(registry))
    state = _StateView(project, state_data)
    pairs = []
    for name in sorted(project.experiments):
        experiment = project.experiments[name]
        validation = state.passed(name)
        if validation is not None:
            references = state.promoted(name)
        elif include_unvalidated and built is not None and name in built:
            references = {role: built[name][role] for role in ROLES}
        else:
            continue
        pinned = (
            dict(references)
            if local
            else state.pinned(name, references, target, validated=validation is not None)
        )
        pairs.append(
            Pair(
                experiment=name,
                title=experiment.title,
                description=experiment.description,
                singleuser=pinned["singleuser"],
                worker=pinned["worker"],
                validated=None if validation is None else validation["when"][:10],
                versions={} if validation is None else validation["versions"],
                cvmfs=experiment.cvmfs,
                resources=experiment.resources,
            )
        )
    return pairs


class _StateView:
    """The parts of the state a pair is made of, each checked as it is read: the file is
    afenv's, but an older afenv or a hand edit may have left any shape in it."""

    def __init__(self, project: Project, data: Mapping[str, Any]) -> None:
        self._path = State(project.state_dir).path
        self._images = data.get("images", {})
        self._promoted = data.get("promoted", {})

    def _damaged(self, problem: str) -> ConfigError:
        return ConfigError(
            f"{self._path}: {problem}; delete it (afenv forgets validation results and "
            f"promotions, images stay) or restore it from a backup"
        )

    def _image(self, reference: str) -> Mapping[str, Any]:
        entry = self._images.get(reference, {})
        if not isinstance(entry, Mapping):
            raise self._damaged(f"images[{reference!r}] is not an object")
        return entry

    def promoted(self, experiment: str) -> dict[str, str]:
        entry = self._promoted[experiment]
        if not (
            isinstance(entry, list)
            and len(entry) == 2
            and all(isinstance(reference, str) for reference in entry)
        ):
            raise self._damaged(f"promoted[{experiment!r}] is not [worker, singleuser]")
        worker, singleuser = entry  # the order promote() records
        return {"worker": worker, "singleuser": singleuser}

    def passed(self, experiment: str) -> dict[str, Any] | None:
        """The promoted pair's validation (``when``, ``versions``), if both images' latest
        validation passed: a later run of the same pair that failed leaves the promotion in
        place but takes back the pair's claim to be validated."""
        if experiment not in self._promoted:
            return None
        references = self.promoted(experiment)
        records = [self._image(reference).get("validation") for reference in references.values()]
        if not all(isinstance(r, Mapping) and r.get("passed") is True for r in records):
            return None
        singleuser = references["singleuser"]
        record = self._image(singleuser)["validation"]
        when, versions = record.get("when"), record.get("versions", {})  # no versions: older afenv
        if not isinstance(when, str) or len(when) < 10:
            raise self._damaged(f"images[{singleuser!r}].validation.when is not a time")
        if not (
            isinstance(versions, Mapping) and all(isinstance(v, str) for v in versions.values())
        ):
            raise self._damaged(f"images[{singleuser!r}].validation.versions is not versions")
        return {"when": when, "versions": dict(versions)}

    def _registries(self, experiment: str, role: str, reference: str) -> dict[str, str]:
        """registry (as `afenv push --registry` named it) -> the pinned reference there."""
        pushed = self._image(reference).get("pushed", [])
        if not isinstance(pushed, list) or not all(isinstance(p, str) for p in pushed):
            raise self._damaged(f"images[{reference!r}].pushed is not a list of references")
        suffix = f"/{experiment}-{role}"
        found = {}
        for pinned in pushed:
            repository = pinned.rpartition("@")[0]
            if repository.endswith(suffix):
                found[repository.removesuffix(suffix)] = pinned
        return found

    def pinned(
        self,
        experiment: str,
        references: Mapping[str, str],
        registry: str | None,
        *,
        validated: bool,
    ) -> dict[str, str]:
        """role -> the reference a hub pulls: the pair's digests in one registry, else (never
        pushed, no registry asked) its local tags."""
        per_role = {role: self._registries(experiment, role, references[role]) for role in ROLES}
        # Both images or neither: a registry holding one of them cannot serve the pair.
        registries = sorted(set.intersection(*(set(found) for found in per_role.values())))
        if registry is None:
            if not registries:
                return dict(references)
            if len(registries) > 1:
                raise ConfigError(
                    f"{experiment}'s pair is pushed to {', '.join(registries)}; choose one with "
                    f"--registry"
                )
            registry = registries[0]
        elif registry not in registries:
            force = "" if validated else " --force"
            raise ConfigError(
                f"--registry: {experiment}'s pair is not pushed to {registry}; run "
                f"`afenv push {experiment} --registry {registry}{force}`"
            )
        return {role: per_role[role][registry] for role in ROLES}

"""The pairs a hub may offer: one per experiment, the images afenv validated together.

Built from afenv's state (validation results, pushed digests) and the images' own manifests;
every later stage (push, profiles, the hub) takes these frozen records and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from afenv.spec.model import ResourcesSpec

__all__ = ["Pair"]


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

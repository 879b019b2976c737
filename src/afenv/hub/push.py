"""`afenv push`: an experiment's validated pair to a registry, pinned by digest in afenv's state.

The pair pushed is the one the lock describes (its content-hash tags), and only once it passed
validation; ``--force`` pushes it anyway and says so on every line that reports it. Both images
go to ``HOST[:PORT][/PREFIX]/<experiment>-<role>:<content hash>``; the digests the registry
returns are what profiles and Dask clusters pin. The state is written only after both pushes
succeed, so a failed push records nothing.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from afenv.engine import Engine, RegistryRefused, check_reference
from afenv.errors import ConfigError, PushError
from afenv.spec import ROLES, Experiment
from afenv.spec.grammar import RULES
from afenv.state import State

__all__ = [
    "PASSWORD",
    "USERNAME",
    "PushResult",
    "PushedImage",
    "Registry",
    "credentials",
    "explain",
    "parse_registry",
    "push_pair",
]

# Credentials for a registry that wants them; without both, the engine client's own
# (`docker login HOST`) are used. CI passes them from its secrets.
USERNAME = "AFENV_REGISTRY_USERNAME"
PASSWORD = "AFENV_REGISTRY_PASSWORD"


@dataclass(frozen=True)
class Registry:
    host: str  # host[:port]
    prefix: str  # "" or a repository path ("facility/icsc")

    def repository(self, experiment: str, role: str) -> str:
        path = f"{self.prefix}/" if self.prefix else ""
        return f"{self.host}/{path}{experiment}-{role}"

    def __str__(self) -> str:
        return f"{self.host}/{self.prefix}" if self.prefix else self.host


def parse_registry(text: str) -> Registry:
    rule = RULES["registry"]
    if not rule.accepts(text):
        raise ConfigError(f"--registry: {text[:80]!r} is not {rule.says}")
    host, _, prefix = text.partition("/")
    name, _, port = host.partition(":")
    if port and not 1 <= int(port) <= 65535:
        raise ConfigError(f"--registry: port {port} is not 1-65535")
    if "." not in name and ":" not in host and name != "localhost":
        # Docker reads a first component without '.' or ':' as a Docker Hub user, not a host.
        raise ConfigError(
            f"--registry: {name!r} would be read as a Docker Hub namespace; give the registry "
            f"host with a domain or a port (registry.example.org, {name}:5000)"
        )
    return Registry(host=host, prefix=prefix)


def credentials(env: Mapping[str, str]) -> dict[str, str] | None:
    username, password = env.get(USERNAME, ""), env.get(PASSWORD, "")
    if bool(username) != bool(password):
        missing = PASSWORD if username else USERNAME
        raise ConfigError(f"{missing} is not set: give both {USERNAME} and {PASSWORD}, or neither")
    return {"username": username, "password": password} if username else None


@dataclass(frozen=True, kw_only=True)
class PushedImage:
    role: str
    source: str  # the local content-hash reference
    tag: str  # where it went: registry/…/<exp>-<role>:<hash>
    pinned: str  # registry/…/<exp>-<role>@sha256:…
    uploaded: int  # layers sent
    reused: int  # layers the registry already had (in this repository or mounted from another)
    uploaded_bytes: int
    seconds: float


@dataclass(frozen=True, kw_only=True)
class PushResult:
    experiment: str
    registry: str
    validated: bool  # False: pushed with --force
    images: tuple[PushedImage, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "experiment": self.experiment,
            "registry": self.registry,
            "validated": self.validated,
            "images": [vars(image) for image in self.images],
        }


def explain(detail: str, registry: Registry, reference: str) -> str:
    """The registry's refusal as one line saying what to fix."""
    lowered = detail.lower()
    refusals = ("unauthorized", "authentication required", "denied", "no basic auth")
    if any(word in lowered for word in refusals):
        return (
            f"registry {registry.host} refused the credentials for {reference} ({detail}); "
            f"set {USERNAME} and {PASSWORD}, or `docker login {registry.host}`"
        )
    if "x509" in lowered or "certificate" in lowered:
        return (
            f"registry {registry.host}: its TLS certificate is not trusted ({detail}); put the "
            f"CA that signed it in /etc/docker/certs.d/{registry.host}/ca.crt"
        )
    if any(word in lowered for word in ("connection refused", "no such host", "timeout")):
        return f"registry {registry.host} is not reachable ({detail}); check --registry"
    return f"push of {reference} to {registry.host} failed: {detail}"


def push_pair(
    experiment: Experiment,
    references: Mapping[str, str],
    registry: Registry,
    *,
    force: bool,
    docker: Engine,
    state: State,
    auth: Mapping[str, str] | None,
    report: Callable[[str], None],
) -> PushResult:
    """Push the pair ``references`` (role -> local content-hash reference) with ``auth`` (from
    :func:`credentials`; None: the engine client's own)."""
    images = state.load()["images"]
    unvalidated = [
        reference
        for reference in references.values()
        if not images.get(reference, {}).get("validation", {}).get("passed")
    ]
    if unvalidated and not force:
        raise ConfigError(
            f"{', '.join(unvalidated)} did not pass validation; run `afenv validate "
            f"{experiment.name}` first, or push anyway with --force"
        )
    if unvalidated:
        report(f"WARNING: pushing {experiment.name}'s pair, which did NOT pass validation")
    pushed: list[PushedImage] = []
    created: list[str] = []  # tags this push made, taken back if it fails
    try:
        for role in ROLES:  # worker first: the singleuser's first layers are the worker's
            source = references[role]
            tag = check_reference(
                f"{registry.repository(experiment.name, role)}:{source.rpartition(':')[2]}",
                what="--registry",
            )
            if docker.image(tag) is None:
                created.append(tag)
            docker.tag(source, tag)
            report(f"pushing {source} to {tag}")
            pushed.append(_push_one(role, source, tag, registry, docker=docker, auth=auth))
    except BaseException:
        for tag in created:
            docker.untag(tag)
        raise
    _record(state, experiment.name, registry, pushed, validated=not unvalidated)
    return PushResult(
        experiment=experiment.name,
        registry=str(registry),
        validated=not unvalidated,
        images=tuple(pushed),
    )


def _push_one(
    role: str,
    source: str,
    tag: str,
    registry: Registry,
    *,
    docker: Engine,
    auth: Mapping[str, str] | None,
) -> PushedImage:
    started = time.monotonic()
    try:
        outcome = docker.push(tag, auth=auth)
    except RegistryRefused as refused:
        raise PushError(explain(refused.detail, registry, tag)) from None
    return PushedImage(
        role=role,
        source=source,
        tag=tag,
        pinned=f"{tag.rpartition(':')[0]}@{outcome.digest}",
        uploaded=len(outcome.uploaded),
        reused=len(outcome.reused),
        uploaded_bytes=outcome.uploaded_bytes,
        seconds=round(time.monotonic() - started, 1),
    )


def _record(
    state: State, experiment: str, registry: Registry, pushed: list[PushedImage], *, validated: bool
) -> None:
    when = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    with state.update() as data:
        for image in pushed:
            entry = data["images"].setdefault(image.source, {})
            repository = image.tag.rpartition(":")[0]
            known = [p for p in entry.get("pushed", []) if p.rpartition("@")[0] != repository]
            entry["pushed"] = sorted({*known, image.pinned})
        data["pushed"].setdefault(experiment, {})[str(registry)] = {
            "when": when,
            "validated": validated,
            **{image.role: image.pinned for image in pushed},
        }

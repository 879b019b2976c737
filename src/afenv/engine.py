"""The one gateway to the Docker engine: client, label keys, image names, ownership.

No other module talks to the Docker SDK, builds a label string or an image name. Two kinds of
label are kept strictly apart:

* **image labels** (``io.afenv.<field>`` from :func:`image_labels`) say what an image *is*:
  experiment, role, content hash. Containers inherit them from their image, so they say nothing
  about who started a container;
* **run labels** (:data:`RUN` and :data:`OWNER`, from :meth:`Engine.new_run`) are set when afenv
  *creates* a container, network or volume. Images never carry them, so a container a user
  starts from an afenv image (``docker run``, a hub's spawner) is never afenv's to remove.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import io
import ipaddress
import os
import re
import secrets
import tarfile
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import docker
import docker.errors
import requests
import urllib3
from docker.models.containers import Container as _SdkContainer

from afenv import __version__
from afenv.errors import BuildError, ConfigError, DockerUnavailable

__all__ = [
    "BOOTSTRAP_REPOSITORY",
    "CLUSTER_ROLE",
    "HOME",
    "HUB_USER",
    "OWNER",
    "PURPOSE",
    "RUN",
    "TRANSPORT_ERRORS",
    "Container",
    "ContainerInfo",
    "Engine",
    "ExecResult",
    "ImageInfo",
    "LayerStep",
    "PushOutcome",
    "RegistryRefused",
    "Run",
    "check_reference",
    "failure",
    "image_labels",
    "image_repository",
    "promoted_tags",
    "shared_layers",
    "staging_reference",
]

PREFIX = "io.afenv."
# Run labels: only on what afenv creates, never on an image.
RUN = PREFIX + "run"
OWNER = PREFIX + "owner"
PURPOSE = PREFIX + "purpose"
_RUN_LABELS = frozenset({RUN, OWNER, PURPOSE})
# Besides a run label: the role of a container in a Dask cluster afenv started, and the hub user
# a hub's container or network belongs to.
CLUSTER_ROLE = PREFIX + "cluster-role"
HUB_USER = PREFIX + "hub-user"
# A hub user's home volume: the only object afenv makes that outlives its run (it carries OWNER
# and HOME, never RUN), so that neither `afenv clean` nor `afenv hub down` deletes a user's
# files; only `afenv hub down --remove-homes` does, found by this label.
HOME = PREFIX + "home"

# Image labels every afenv image (and the bootstrapped base) carries.
ROLE = PREFIX + "role"
EXPERIMENT = PREFIX + "experiment"
CONTENT_HASH = PREFIX + "content-hash"
SUITE = PREFIX + "suite"
MIRROR = PREFIX + "mirror"

BOOTSTRAP_REPOSITORY = "afenv/debian"
_STAGING_REPOSITORY = "afenv-staging"
_STEP_RE = re.compile(r"^Step \d+/\d+ : ")
# What Docker accepts as a reference (distribution's grammar, lower-case repository, optional
# registry with port, tag and/or digest), checked before a user's value reaches the engine.
_REFERENCE_RE = re.compile(
    r"^(?:(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*"
    r"(?::[0-9]{1,5})?/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$"
)


# ---------------------------------------------------------------------------------------------
# Names and labels (pure).


def image_repository(experiment: str, role: str) -> str:
    return f"afenv/{experiment}-{role}"


def staging_reference(experiment: str, role: str, content_hash: str) -> str:
    """Where an image lives while its pair is incomplete; never a tag users see."""
    return f"{_STAGING_REPOSITORY}/{experiment}-{role}:{content_hash}"


def promoted_tags(repository: str, day: dt.date) -> tuple[str, str]:
    """The tags a passing pair moves: ``latest`` and the day it was promoted."""
    return (f"{repository}:latest", f"{repository}:{day:%Y%m%d}")


def image_labels(**fields: str) -> dict[str, str]:
    """``io.afenv.*`` labels describing an image: afenv's version plus the given fields."""
    labels = {PREFIX + "version": __version__}
    labels.update({PREFIX + key.replace("_", "-"): value for key, value in fields.items()})
    assert not _RUN_LABELS & set(labels), "run labels never go on an image"
    return labels


def check_reference(reference: str, *, what: str) -> str:
    """A user-given image reference, checked before it reaches Docker."""
    if len(reference) > 255 or not _REFERENCE_RE.match(reference):
        shown = reference if len(reference) <= 80 else reference[:77] + "..."
        raise ConfigError(
            f"{what}: {shown!r} is not a Docker image reference "
            f"(lower-case [registry[:port]/]name[:tag][@sha256:<64 hex>])"
        )
    return reference


# ---------------------------------------------------------------------------------------------
# What the engine tells us.


@dataclass(frozen=True, kw_only=True)
class ImageInfo:
    id: str
    tags: tuple[str, ...]
    labels: Mapping[str, str]
    size: int
    created: str
    config: Mapping[str, Any]
    layers: tuple[str, ...]

    @classmethod
    def _from_sdk(cls, image: Any) -> ImageInfo:
        attrs = image.attrs
        return cls(
            id=str(image.id),
            tags=tuple(image.tags),
            labels=dict(image.labels or {}),
            size=int(attrs.get("Size", 0)),
            created=str(attrs.get("Created", "")),
            config=dict(attrs.get("Config") or {}),
            layers=tuple(attrs.get("RootFS", {}).get("Layers", [])),
        )


@dataclass(frozen=True, kw_only=True)
class LayerStep:
    """One layer of an image: its digest, the instruction that made it, its bytes."""

    layer: str
    created_by: str
    size: int


def shared_layers(a: Sequence[LayerStep], b: Sequence[LayerStep]) -> list[LayerStep]:
    """The layers two images share: their common first layers (a layer is stored once only
    with the same layers below it)."""
    shared = []
    for step_a, step_b in zip(a, b, strict=False):
        if step_a.layer != step_b.layer:
            break
        shared.append(step_a)
    return shared


@dataclass(frozen=True, kw_only=True)
class PushOutcome:
    digest: str  # sha256:… of the manifest the registry stored under the tag
    uploaded: tuple[str, ...]  # layers the registry did not have
    reused: tuple[str, ...]  # layers it had: already in the repository, or mounted from another
    uploaded_bytes: int  # the uploaded layers' sizes as the engine reported them


class RegistryRefused(Exception):
    """The registry (or the engine on its way there) refused a push; ``detail`` is its reason,
    which the caller turns into a message naming what to fix."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class ContainerInfo:
    name: str
    image: str  # the reference it was created from
    status: str  # created, running, exited…
    labels: Mapping[str, str]


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    stdout: str
    stderr: str


class Container:
    """A container afenv started: every command in it is bounded by ``timeout``."""

    def __init__(self, sdk: _SdkContainer) -> None:
        self._sdk = sdk

    @property
    def name(self) -> str:
        return str(self._sdk.name)

    @property
    def id(self) -> str:
        return str(self._sdk.id)

    def exec(self, command: list[str], *, timeout: int, user: str = "") -> ExecResult:
        result = self._sdk.exec_run(["timeout", str(timeout), *command], demux=True, user=user)
        stdout, stderr = result.output
        return ExecResult(
            int(result.exit_code),
            (stdout or b"").decode(errors="replace"),
            (stderr or b"").decode(errors="replace"),
        )

    def wait(self, timeout: float) -> int:
        return int(self._sdk.wait(timeout=timeout)["StatusCode"])

    def output(self) -> tuple[str, str]:
        """Everything it printed so far: (stdout, stderr)."""
        return (
            self._sdk.logs(stdout=True, stderr=False).decode(errors="replace"),
            self._sdk.logs(stdout=False, stderr=True).decode(errors="replace"),
        )

    def log(self, tail: int | None = None) -> str:
        try:
            data = self._sdk.logs(tail=tail) if tail is not None else self._sdk.logs()
        except docker.errors.APIError:
            return "(no log)"
        return bytes(data).decode(errors="replace")

    def started_at(self) -> dt.datetime:
        self._sdk.reload()
        stamp = str(self._sdk.attrs["State"]["StartedAt"])
        # Docker gives nanoseconds; Python parses microseconds.
        return dt.datetime.fromisoformat(stamp[:26].rstrip("Z") + "+00:00")

    def put_file(
        self, directory: str, name: str, data: bytes, *, mode: int = 0o644, owner: int = 0
    ) -> str:
        """Write one file into the container (the engine keeps the archive's mode and owner)."""
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w") as tar:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            info.uid = info.gid = owner
            tar.addfile(info, io.BytesIO(data))
        self.exec(["mkdir", "-p", directory], timeout=30)
        self._sdk.put_archive(directory, archive.getvalue())
        return f"{directory}/{name}"

    def copy_out(self, path: str, destination: Path) -> None:
        """Copy a directory out of the container (no shared filesystem needed); a path the
        container does not have is FileNotFoundError."""
        try:
            chunks = self._sdk.get_archive(path)[0]
        except docker.errors.NotFound:
            raise FileNotFoundError(f"{self.name}: {path}") from None
        for relative, data in _archive_files(chunks, strip=1):
            target = destination / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)

    def kill(self) -> None:
        with contextlib.suppress(docker.errors.APIError):
            self._sdk.kill()


def _archive_files(chunks: Iterable[bytes], *, strip: int) -> Iterator[tuple[Path, bytes]]:
    """Regular files of a tar stream, their first ``strip`` path parts removed; never a path
    that would leave the destination."""
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tar:
        for member in tar.getmembers():
            relative = Path(*Path(member.name).parts[strip:])
            if not member.isfile() or ".." in relative.parts or relative.is_absolute():
                continue
            extracted = tar.extractfile(member)
            if extracted is not None:
                yield relative, extracted.read()


@dataclass(frozen=True)
class Run:
    """One afenv invocation's objects in the engine: its id and the labels they all carry."""

    id: str
    purpose: str
    labels: Mapping[str, str] = field(default_factory=dict)

    def name(self, suffix: str) -> str:
        return f"afenv-{self.id}-{suffix}"


class Engine:
    """The Docker engine as afenv uses it.

    :meth:`connect` connects on first use, so that a command fails on bad input (a spec, a
    lock, an option) before it ever needs the engine, and without one if it never does.
    """

    def __init__(self, client: docker.DockerClient | None = None, *, timeout: int = 900) -> None:
        self._sdk = client
        self._timeout = timeout

    @classmethod
    def connect(cls, timeout: int = 900) -> Engine:
        return cls(timeout=timeout)

    @property
    def _client(self) -> docker.DockerClient:
        if self._sdk is None:
            try:
                client = docker.from_env(timeout=self._timeout)
                client.ping()
            except docker.errors.DockerException as exc:
                raise DockerUnavailable(
                    f"no Docker engine answers ({exc.__class__.__name__}); start one with "
                    f"`bash scripts/ensure-docker.sh` (installs docker.io and starts dockerd)"
                ) from None
            self._sdk = client
        return self._sdk

    @contextlib.contextmanager
    def exclusive(self, what: str, report: Callable[[str], None]) -> Iterator[None]:
        """Hold this engine's lock for ``what`` (e.g. building): two afenv processes on one
        engine (two terminals, two CI jobs) take turns instead of tagging each other's images.
        """
        host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        digest = hashlib.sha256(host.encode()).hexdigest()[:12]
        path = Path(tempfile.gettempdir()) / f"afenv-engine-{digest}-{what}.lock"
        with path.open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                report(f"another afenv process is {what} on this engine; waiting for it")
                fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def reconnect(self) -> Engine:
        """A fresh connection: an interrupted one may still be reading a build stream."""
        self.close()
        return Engine(timeout=120)

    def close(self) -> None:
        if self._sdk is not None:
            self._sdk.close()
            self._sdk = None

    # -- images --------------------------------------------------------------------------------

    def image(self, reference: str) -> ImageInfo | None:
        try:
            return ImageInfo._from_sdk(self._client.images.get(reference))
        except docker.errors.ImageNotFound:
            return None
        except docker.errors.APIError as exc:
            raise ConfigError(f"image {reference!r}: {_explain(exc)}") from None

    def require_image(self, reference: str, *, hint: str) -> ImageInfo:
        found = self.image(reference)
        if found is None:
            raise ConfigError(f"image {reference} not found; {hint}")
        return found

    def layer_steps(self, reference: str) -> list[LayerStep]:
        """Each layer of the image, oldest first, with the instruction that made it. The history
        lists metadata instructions (ENV, LABEL, …) too; they make no layer, while RUN, COPY
        and ADD always make one, also when it is empty."""
        image = self._client.images.get(reference)
        steps = [
            step
            for step in reversed(self._client.api.history(image.id))
            if "#(nop) " not in step["CreatedBy"]
            or any(word in step["CreatedBy"] for word in (" COPY ", " ADD "))
        ]
        layers = image.attrs["RootFS"]["Layers"]
        if len(steps) != len(layers):
            raise ConfigError(
                f"image {reference}: {len(steps)} history steps make layers but it has "
                f"{len(layers)}; was it built by another builder?"
            )
        return [
            LayerStep(layer=layer, created_by=str(step["CreatedBy"]), size=int(step["Size"]))
            for layer, step in zip(layers, steps, strict=True)
        ]

    def images(self, *labels: str) -> list[ImageInfo]:
        """Images carrying every given label (``key`` or ``key=value``)."""
        found = self._client.images.list(filters={"label": list(labels)})
        return [ImageInfo._from_sdk(image) for image in found]

    def tag(self, source: str, reference: str) -> None:
        repository, _, tag = reference.rpartition(":")
        self._client.api.tag(source, repository, tag)

    def untag(self, reference: str) -> None:
        """Remove one tag (never the image's layers); a tag that is not there is fine."""
        with contextlib.suppress(docker.errors.ImageNotFound, docker.errors.APIError):
            self._client.api.remove_image(reference, noprune=True)

    def pull(self, reference: str, report: Callable[[str], None]) -> ImageInfo | None:
        """The pulled image, or None (with the reason reported) when no registry serves it."""
        try:
            return ImageInfo._from_sdk(self._client.images.pull(reference))
        except docker.errors.APIError as exc:
            report(f"cannot pull {reference} ({_explain(exc)})")
            return None

    def push(self, reference: str, *, auth: Mapping[str, str] | None) -> PushOutcome:
        """Push one tag; credentials are ``auth`` or else the engine client's (`docker login`)."""
        repository, _, tag = reference.rpartition(":")
        sizes: dict[str, int] = {}
        final: dict[str, str] = {}
        digest = ""
        try:
            stream = self._client.api.push(
                repository,
                tag=tag,
                stream=True,
                decode=True,
                auth_config=dict(auth) if auth else None,
            )
            for chunk in stream:
                if "error" in chunk:
                    raise RegistryRefused(" ".join(str(chunk["error"]).split())[:300])
                layer, status = chunk.get("id"), str(chunk.get("status", ""))
                if layer and status == "Pushing":
                    sizes[layer] = int(chunk.get("progressDetail", {}).get("total") or 0)
                elif layer and status != "Preparing" and not status.startswith("Waiting"):
                    final[layer] = status
                digest = chunk.get("aux", {}).get("Digest", digest)
        except docker.errors.APIError as exc:
            raise RegistryRefused(_explain(exc)) from None
        if not digest:
            raise RegistryRefused("the engine reported no manifest digest")
        uploaded = tuple(sorted(layer for layer, status in final.items() if status == "Pushed"))
        return PushOutcome(
            digest=digest,
            uploaded=uploaded,
            reused=tuple(sorted(set(final) - set(uploaded))),
            uploaded_bytes=sum(sizes.get(layer, 0) for layer in uploaded),
        )

    def import_rootfs(self, archive: Path, reference: str, changes: list[str]) -> ImageInfo:
        repository, _, tag = reference.rpartition(":")
        try:
            self._client.api.import_image_from_file(
                str(archive), repository=repository, tag=tag, changes=changes
            )
        except docker.errors.APIError as exc:
            raise BuildError(f"docker import of {reference} failed: {_explain(exc)}") from None
        return self.require_image(reference, hint="the import did not produce it")

    def build(
        self,
        context: IO[bytes],
        *,
        tag: str,
        what: str,
        on_step: Callable[[str], None],
        on_output: Callable[[str], None],
    ) -> None:
        """Build a tar context with the classic builder; one line on failure."""
        stream = self._client.api.build(
            fileobj=context,
            custom_context=True,
            tag=tag,
            rm=True,
            forcerm=True,
            pull=False,
            decode=True,
        )
        last_lines: list[str] = []
        for chunk in stream:
            if "error" in chunk:
                detail = " ".join(" ".join(last_lines[-3:]).split())
                message = " ".join(str(chunk["error"]).split())
                raise BuildError(f"{what}: docker build failed: {message} (after: {detail})")
            for line in str(chunk.get("stream", "")).splitlines():
                if _STEP_RE.match(line):
                    on_step(line)
                elif line.strip():
                    last_lines.append(line)
                    on_output(line)

    def read_from_image(self, reference: str, path: str) -> dict[str, bytes]:
        """The files below ``path`` in an image, by name, without running it."""
        run = self.new_run("read")
        container = self._client.containers.create(reference, command=["true"], labels=run.labels)
        try:
            bits, _ = container.get_archive(path)
            return {str(rel): data for rel, data in _archive_files(bits, strip=1)}
        finally:
            container.remove(force=True)

    # -- what afenv creates --------------------------------------------------------------------

    def run(self, image: str, command: list[str], *, timeout: int, purpose: str) -> ExecResult:
        """A one-off container of ``image`` (its entrypoint bypassed): waits, then removes it."""
        run = self.new_run(purpose)
        container = self.start(
            run, image, ["timeout", str(timeout), *command], name=run.name(purpose), entrypoint=[]
        )
        try:
            code = container.wait(timeout=timeout + 60)
            stdout, stderr = container.output()
        finally:
            self.remove_run(run)
        return ExecResult(code, stdout, stderr)

    def new_run(self, purpose: str) -> Run:
        return self.join_run(secrets.token_hex(4), purpose)

    @staticmethod
    def join_run(run_id: str, purpose: str) -> Run:
        """The run ``run_id`` that another afenv process started (a hub's spawner adds to the
        run of `afenv hub up`, whose `hub down` removes it)."""
        labels = {RUN: run_id, OWNER: f"afenv {__version__}", PURPOSE: purpose}
        return Run(id=run_id, purpose=purpose, labels=labels)

    def create_network(
        self, run: Run, name: str, *, internal: bool, labels: Mapping[str, str] | None = None
    ) -> str:
        network = self._client.networks.create(
            name,
            driver="bridge",
            internal=internal,
            labels={**(labels or {}), **run.labels},
            check_duplicate=True,
        )
        return str(network.name)

    def create_volume(self, run: Run, name: str) -> str:
        return str(self._client.volumes.create(name, labels=dict(run.labels)).name)

    def network_gateway(self, name: str) -> str:
        """The host's address on a bridge network: where its containers reach the host."""
        network = self._client.networks.get(name)
        config = network.attrs["IPAM"]["Config"][0]
        if config.get("Gateway"):
            return str(config["Gateway"])
        # A new engine's default bridge may name only its subnet; Docker then gives the host
        # the subnet's first address (docker0's).
        return str(next(ipaddress.ip_network(config["Subnet"]).hosts()))

    def connect_network(self, network: str, container: str) -> None:
        self._client.networks.get(network).connect(container)

    def home_volume(self, name: str, user: str) -> str:
        """The home volume of hub user ``user``, created on first use (never with a run label:
        see :data:`HOME`)."""
        volumes = self._client.volumes.list(filters={"name": name, "label": f"{HOME}={user}"})
        if any(volume.name == name for volume in volumes):
            return name
        labels = {OWNER: f"afenv {__version__}", HOME: user}
        return str(self._client.volumes.create(name, labels=labels).name)

    def home_volumes(self) -> list[str]:
        return sorted(v.name for v in self._client.volumes.list(filters={"label": HOME}))

    def remove_home_volumes(self, users: Iterable[str]) -> list[str]:
        """Remove the home volumes of ``users`` (by their HOME label); other homes stay."""
        wanted = set(users)
        removed = []
        for volume in self._client.volumes.list(filters={"label": HOME}):
            if (volume.attrs.get("Labels") or {}).get(HOME) not in wanted:
                continue
            if _gone_after(lambda v: v.remove(force=True), volume):
                removed.append(volume.name)
        return sorted(removed)

    def run_containers(self, run: Run, **labels: str) -> list[ContainerInfo]:
        """The containers of ``run`` (with ``labels`` too), running or not."""
        selector = [f"{RUN}={run.id}", *(f"{key}={value}" for key, value in labels.items())]
        listed = self._client.containers.list(all=True, filters={"label": selector}, sparse=True)
        return [
            ContainerInfo(
                name=_name_of(container),
                image=str(container.attrs.get("Image", "")),
                status=str(container.attrs.get("State", "")),
                labels=dict(container.attrs.get("Labels") or {}),
            )
            for container in listed
        ]

    def start(
        self,
        run: Run,
        image: str,
        command: list[str],
        *,
        name: str,
        network: str | None = None,
        hostname: str | None = None,
        volumes: Mapping[str, Mapping[str, str]] | None = None,
        user: str = "",
        environment: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
        entrypoint: list[str] | None = None,
    ) -> Container:
        """A detached container carrying ``run``'s labels (and ``labels`` besides)."""
        sdk = self._client.containers.run(
            image,
            command,
            detach=True,
            name=name,
            hostname=hostname,
            network=network,
            volumes=dict(volumes or {}),
            user=user,
            environment=dict(environment or {}),
            labels={**(labels or {}), **run.labels},
            entrypoint=entrypoint,
        )
        return Container(sdk)

    def remove_run(self, run: Run, **labels: str) -> dict[str, list[str]]:
        """Remove every container, network and volume of one run (those with ``labels`` too),
        found by its label (so one interrupted between create and start goes too)."""
        selector = [f"{RUN}={run.id}", *(f"{key}={value}" for key, value in labels.items())]
        return self._remove({"label": selector})

    def clean(self, keep_runs: Iterable[str] = ()) -> dict[str, list[str]]:
        """Remove everything afenv created and a killed run left (never images), except what
        belongs to the runs ``keep_runs`` (a hub that is running)."""
        return self._remove({"label": RUN}, keep_runs=frozenset(keep_runs))

    def _remove(
        self, selector: Mapping[str, str | list[str]], keep_runs: frozenset[str] = frozenset()
    ) -> dict[str, list[str]]:
        removed: dict[str, list[str]] = {"containers": [], "networks": [], "volumes": []}
        kinds: tuple[tuple[str, list[Any], Callable[[Any], None]], ...] = (
            (
                # sparse: the list alone, no inspect of each container, which would fail for
                # one that another cleanup (a spawner's, the hub's) removes meanwhile.
                "containers",
                self._client.containers.list(all=True, filters=selector, sparse=True),
                lambda container: container.remove(force=True),
            ),
            ("networks", self._client.networks.list(filters=selector), lambda n: n.remove()),
            (
                "volumes",
                self._client.volumes.list(filters=selector),
                lambda v: v.remove(force=True),
            ),
        )
        for kind, objects, remove in kinds:
            for thing in objects:
                if _run_of(thing) in keep_runs:
                    continue
                if _gone_after(remove, thing):
                    removed[kind].append(_name_of(thing))
        return removed


def _name_of(thing: Any) -> str:
    """A network's or volume's name, or a sparsely listed container's (under Names)."""
    names = thing.attrs.get("Names")
    return str(names[0].lstrip("/")) if names else str(thing.name)


def _run_of(thing: Any) -> str | None:
    """The run label of a container (labels under Config), network or volume (at the top)."""
    labels = thing.attrs.get("Config", thing.attrs).get("Labels") or {}
    return labels.get(RUN)


def _gone_after(remove: Callable[[Any], None], thing: Any) -> bool:
    """Remove ``thing``; False if it was gone or going already (another cleanup, e.g. an
    interrupted run's, got there first)."""
    try:
        remove(thing)
    except docker.errors.NotFound:
        return False
    except docker.errors.APIError as exc:
        if exc.status_code == 409 and "in progress" in _explain(exc):
            return False
        raise
    return True


def _explain(exc: docker.errors.APIError) -> str:
    text = exc.explanation or str(exc)
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return " ".join(str(text).split())[:300]


# What the SDK raises when the engine goes away or fails in the middle of a command (a build
# stream cut, a daemon restarted): the CLI turns these into one line with :func:`failure`.
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    docker.errors.DockerException,
    requests.exceptions.RequestException,
    urllib3.exceptions.HTTPError,
)


def failure(exc: BaseException) -> DockerUnavailable:
    """An engine that stopped answering, or failed, in the middle of work."""
    if isinstance(exc, docker.errors.APIError):
        detail = _explain(exc)
    else:
        detail = " ".join(f"{exc.__class__.__name__}: {exc}".split())[:200]
    return DockerUnavailable(
        f"the Docker engine failed or stopped answering mid-command ({detail}); check it "
        f"(`docker info`, scripts/ensure-docker.sh) and run the command again: nothing was "
        f"tagged half-way"
    )

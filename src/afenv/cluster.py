"""A Dask cluster in containers on a private network, which always cleans up after itself.

Scheduler and workers run from the worker image, the client from the singleuser image; a
labelled volume holds the benchmark input (the facility's shared storage stands in for it).
Every command run in a container is bounded by `timeout`; on exit, normal or not (Ctrl-C
included), every container's log is saved and containers, network and volume are removed.
"""

from __future__ import annotations

import contextlib
import io
import secrets
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import docker
import docker.errors
from docker.models.containers import Container

from afenv.labels import afenv_labels

__all__ = ["SCHEDULER_ADDRESS", "Cluster", "ExecResult", "cluster"]

SCHEDULER_ADDRESS = "tcp://scheduler:8786"
DATA = "/data"
# Containers end by themselves even if afenv itself is killed with SIGKILL.
MAX_LIFETIME = 3 * 3600


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    stdout: str
    stderr: str


@dataclass
class Cluster:
    client: docker.DockerClient
    run_id: str
    labels: dict[str, str]
    network: str
    volume: str
    scheduler: Container | None = None
    workers: list[Container] = field(default_factory=list)
    notebook: Container | None = None
    extra: list[Container] = field(default_factory=list)

    def containers(self) -> list[Container]:
        found = [self.scheduler, *self.workers, self.notebook, *self.extra]
        return [c for c in found if c is not None]

    def exec(
        self, container: Container, command: list[str], *, timeout: int, user: str = ""
    ) -> ExecResult:
        result = container.exec_run(["timeout", str(timeout), *command], demux=True, user=user)
        stdout, stderr = result.output
        return ExecResult(
            int(result.exit_code),
            (stdout or b"").decode(errors="replace"),
            (stderr or b"").decode(errors="replace"),
        )

    def run_once(
        self, image: str, name: str, command: list[str], *, timeout: int, user: str = ""
    ) -> ExecResult:
        """A one-off container on the cluster's network and volume; waits for it, keeps its log."""
        container = self.client.containers.run(
            image,
            ["timeout", str(timeout), *command],
            detach=True,
            name=f"afenv-{self.run_id}-{name}",
            labels=self.labels,
            network=self.network,
            volumes={self.volume: {"bind": DATA, "mode": "rw"}},
            user=user,
        )
        self.extra.append(container)
        status = container.wait(timeout=timeout + 60)
        return ExecResult(
            int(status["StatusCode"]),
            container.logs(stdout=True, stderr=False).decode(errors="replace"),
            container.logs(stdout=False, stderr=True).decode(errors="replace"),
        )

    def copy_out(self, container: Container, path: str, destination: Path) -> None:
        """Copy a directory out of a container (no shared filesystem with the host needed)."""
        bits, _ = container.get_archive(path)
        destination.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(b"".join(bits))) as tar:
            for member in tar.getmembers():
                if not member.isfile():
                    continue
                relative = Path(*Path(member.name).parts[1:])
                extracted = tar.extractfile(member)
                if extracted is None or ".." in relative.parts:
                    continue
                target = destination / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(extracted.read())

    def log_tail(self, container: Container, lines: int = 15) -> str:
        try:
            return container.logs(tail=lines).decode(errors="replace").strip()
        except docker.errors.APIError:
            return "(no log)"

    def save_logs(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        for container in self.containers():
            with contextlib.suppress(docker.errors.APIError):
                (directory / f"{container.name}.log").write_bytes(container.logs())


def _start(
    cluster: Cluster, image: str, role: str, command: list[str], *, data_mode: str = "ro"
) -> Container:
    name = f"afenv-{cluster.run_id}-{role}"
    return cluster.client.containers.run(
        image,
        command,
        detach=True,
        name=name,
        hostname=role,
        labels=cluster.labels | {"io.afenv.cluster-role": role},
        network=cluster.network,
        volumes={cluster.volume: {"bind": DATA, "mode": data_mode}},
    )


@contextlib.contextmanager
def cluster(
    client: docker.DockerClient,
    *,
    worker_image: str,
    singleuser_image: str,
    workers: int,
    logs: Path,
    purpose: str = "validate",
) -> Iterator[Cluster]:
    run_id = secrets.token_hex(4)
    labels = afenv_labels(purpose=purpose, run=run_id)
    network = client.networks.create(
        f"afenv-{run_id}", driver="bridge", internal=True, labels=labels, check_duplicate=True
    )
    volume = client.volumes.create(f"afenv-{run_id}-data", labels=labels)
    state = Cluster(
        client=client, run_id=run_id, labels=labels, network=network.name, volume=volume.name
    )
    try:
        state.scheduler = _start(
            state,
            worker_image,
            "scheduler",
            [
                "timeout",
                str(MAX_LIFETIME),
                "dask",
                "scheduler",
                "--port",
                "8786",
                "--dashboard-address",
                ":8787",
            ],
        )
        for index in range(1, workers + 1):
            state.workers.append(
                _start(
                    state,
                    worker_image,
                    f"worker-{index}",
                    [
                        "timeout",
                        str(MAX_LIFETIME),
                        "dask",
                        "worker",
                        SCHEDULER_ADDRESS,
                        "--name",
                        f"worker-{index}",
                        "--nthreads",
                        "1",
                        "--memory-limit",
                        "0",
                        "--local-directory",
                        "/tmp/dask-worker",
                    ],
                )
            )
        state.notebook = _start(
            state,
            singleuser_image,
            "client",
            [
                "timeout",
                str(MAX_LIFETIME),
                "sleep",
                "infinity",
            ],
        )
        yield state
    finally:
        # Runs on success, failure and KeyboardInterrupt alike. Found by label, not by our own
        # list, so a container interrupted between create and start goes too.
        state.save_logs(logs)
        selector = {"label": f"io.afenv.run={run_id}"}
        for container in client.containers.list(all=True, filters=selector):
            with contextlib.suppress(docker.errors.APIError):
                container.remove(force=True)
        with contextlib.suppress(docker.errors.APIError):
            network.remove()
        with contextlib.suppress(docker.errors.APIError):
            volume.remove(force=True)

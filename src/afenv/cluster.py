"""A Dask cluster in containers on a private network, which always cleans up after itself.

Scheduler and workers run from the worker image, the client from the singleuser image; a
labelled volume holds the benchmark input (the facility's shared storage stands in for it).
Every command run in a container is bounded by `timeout`; on exit, normal or not (Ctrl-C
included), every container's log is saved and containers, network and volume are removed.
Shared by `afenv validate` and `afenv bench`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from afenv.engine import CLUSTER_ROLE, Container, Engine, ExecResult, Run
from afenv.options import MAX_CONTAINER_LIFETIME, GridOptions

__all__ = [
    "DATA",
    "SCHEDULER_ADDRESS",
    "SCHEDULER_COMMAND",
    "Cluster",
    "as_client",
    "grid_volumes",
    "start_cluster",
    "worker_command",
]

SCHEDULER_ADDRESS = "tcp://scheduler:8786"
# The scheduler container's host name is "scheduler"; its dashboard listens on 8787.
SCHEDULER_COMMAND = ["dask", "scheduler", "--port", "8786", "--dashboard-address", ":8787"]
DATA = "/data"
CA_DIR = "/etc/grid-security/certificates"
# Where voms-proxy-init leaves the proxy of the images' user (uid 1000): the client's preload
# finds it there and ships it to every worker when the Client connects.
USER_UID = 1000
CLIENT_PROXY = ("/tmp", f"x509up_u{USER_UID}")


@dataclass
class Cluster:
    docker: Engine
    run: Run
    network: str
    volume: str
    scheduler: Container
    workers: list[Container]
    notebook: Container  # the Dask client's container, from the singleuser image
    grid: GridOptions = field(default_factory=GridOptions)
    extra: list[Container] = field(default_factory=list)

    def containers(self) -> list[Container]:
        return [self.scheduler, *self.workers, self.notebook, *self.extra]

    def start(
        self,
        image: str,
        role: str,
        command: list[str],
        *,
        data_mode: str = "ro",
        user: str = "",
        binds: dict[str, str] | None = None,
    ) -> Container:
        """One more container on the cluster's network and volume, ended after the lifetime;
        ``binds`` maps host directories to read-only mount points."""
        container = _start(
            self.docker,
            self.run,
            self.network,
            self.volume,
            image,
            role,
            command,
            data_mode=data_mode,
            user=user,
            grid=self.grid,
            binds=binds,
        )
        self.extra.append(container)
        return container

    def run_once(
        self, image: str, name: str, command: list[str], *, timeout: int, user: str = ""
    ) -> ExecResult:
        """A one-off container on the cluster's network and volume; waits for it, keeps its log."""
        container = self.start(
            image, name, ["timeout", str(timeout), *command], data_mode="rw", user=user
        )
        code = container.wait(timeout=timeout + 60)
        stdout, stderr = container.output()
        return ExecResult(code, stdout, stderr)

    def save_logs(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        for container in self.containers():
            (directory / f"{container.name}.log").write_text(container.log())


def _start(
    docker: Engine,
    run: Run,
    network: str,
    volume: str,
    image: str,
    role: str,
    command: list[str],
    *,
    data_mode: str = "ro",
    user: str = "",
    grid: GridOptions,
    binds: dict[str, str] | None = None,
) -> Container:
    volumes = {volume: {"bind": DATA, "mode": data_mode}, **grid_volumes(grid)}
    volumes.update({host: {"bind": inside, "mode": "ro"} for host, inside in (binds or {}).items()})
    return docker.start(
        run,
        image,
        ["timeout", str(MAX_CONTAINER_LIFETIME), *command],
        name=run.name(role),
        hostname=role,
        network=network,
        volumes=volumes,
        user=user,
        labels={CLUSTER_ROLE: role},
    )


def as_client(command: list[str]) -> list[str]:
    """``command`` as a user's process in the client container: started through the images'
    entry point (the grid environment) and with ``DASK_SCHEDULER_ADDRESS`` set, so that
    ``Client()`` connects to this cluster."""
    return ["env", f"DASK_SCHEDULER_ADDRESS={SCHEDULER_ADDRESS}", "afenv-entrypoint", *command]


def grid_volumes(grid: GridOptions) -> dict[str, dict[str, str]]:
    """The host's CVMFS and CA directory, read-only, where the images' start-up looks."""
    volumes = {}
    if grid.cvmfs is not None:
        volumes[str(grid.cvmfs)] = {"bind": "/cvmfs", "mode": "ro"}
    if grid.ca_dir is not None:
        volumes[str(grid.ca_dir)] = {"bind": CA_DIR, "mode": "ro"}
    return volumes


def worker_command(index: int) -> list[str]:
    return [
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
    ]


@contextlib.contextmanager
def start_cluster(
    docker: Engine,
    *,
    worker_image: str,
    singleuser_image: str,
    workers: int,
    logs: Path,
    purpose: str,
    grid: GridOptions | None = None,
) -> Iterator[Cluster]:
    grid = grid or GridOptions()
    run = docker.new_run(purpose)
    try:
        network = docker.create_network(run, run.name("net"), internal=True)
        volume = docker.create_volume(run, run.name("data"))

        def start(image: str, role: str, command: list[str]) -> Container:
            return _start(docker, run, network, volume, image, role, command, grid=grid)

        cluster = Cluster(
            docker=docker,
            run=run,
            network=network,
            volume=volume,
            scheduler=start(
                worker_image,
                "scheduler",
                SCHEDULER_COMMAND,
            ),
            workers=[
                start(worker_image, f"worker-{index}", worker_command(index))
                for index in range(1, workers + 1)
            ],
            notebook=start(singleuser_image, "client", ["sleep", "infinity"]),
            grid=grid,
        )
        if grid.proxy is not None:
            # A copy, not a bind: the host file's owner is not the container's user, and the
            # grid tools want the proxy private to its user.
            cluster.notebook.put_file(
                *CLIENT_PROXY, grid.proxy.read_bytes(), mode=0o600, owner=USER_UID
            )
        try:
            yield cluster
        finally:
            cluster.save_logs(logs)
    finally:
        # Runs on success, failure and KeyboardInterrupt alike; found by the run label, so a
        # container interrupted between create and start goes too.
        docker.remove_run(run)

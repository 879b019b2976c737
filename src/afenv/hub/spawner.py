"""DockerSpawner for afenv's pairs: each user's server comes with a Dask cluster of its own,
from the worker image that was validated with the singleuser image the user picked.

The hub holds the engine, never a user: a user's server gets no Docker socket, so nobody is
root on the host through it. Per user, the spawner creates

* a private network ``afenv-hub-<run>-<user>-dask`` holding the user's scheduler (host name
  ``scheduler``), workers and, as its only other member, the user's notebook. Docker isolates
  bridge networks from each other, so no other user's server can reach this cluster;
* the home volume ``afenv-home-<user>`` (see :data:`afenv.engine.HOME`), mounted at the images'
  home in the notebook and in the workers (a facility's shared home), so that files the user
  writes are there for the workers and after the next login.

The notebook gets ``DASK_SCHEDULER_ADDRESS``, so ``Client()`` connects to the user's cluster, and
a dashboard link through the hub's proxy (jupyter-server-proxy, allowed to reach ``scheduler``
only). Stopping the server removes the cluster and the network, never the home.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from dockerspawner import DockerSpawner
from tornado import web
from traitlets import Dict, Integer, Unicode

from afenv.cluster import SCHEDULER_ADDRESS, SCHEDULER_COMMAND, worker_command
from afenv.engine import CLUSTER_ROLE, HUB_USER, Engine, Run
from afenv.hub.settings import HOME_DIR, PURPOSE, dask_network, home_volume
from afenv.spec.grammar import RULES

__all__ = ["PairSpawner"]

DASHBOARD = "scheduler:8787"
# Hosts the user's jupyter-server-proxy may forward to: its own server and its own scheduler.
PROXY_HOSTS = ["localhost", "127.0.0.1", "scheduler"]


class PairSpawner(DockerSpawner):  # type: ignore[misc]  # dockerspawner is untyped
    run_id = Unicode(help="the run label of `afenv hub up`").tag(config=True)
    partners = Dict(help="singleuser image -> the worker image validated with it").tag(config=True)
    dask_workers = Integer(2, help="Dask workers per user, one thread each").tag(config=True)
    grid_volumes = Dict(help="host CVMFS and CA directory, read-only, on every container").tag(
        config=True
    )

    _engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = Engine.connect()
        return self._engine

    @property
    def run(self) -> Run:
        return Engine.join_run(self.run_id, PURPOSE)

    @property
    def afenv_user(self) -> str:
        # The name reaches container, network and volume names: only the grammar's names.
        name = str(self.user.name)
        if not RULES["hub_user"].accepts(name):
            raise web.HTTPError(400, f"user name {name[:40]!r} is not {RULES['hub_user'].says}")
        return name

    def _labels(self, role: str) -> dict[str, str]:
        return {**self.run.labels, HUB_USER: self.afenv_user, CLUSTER_ROLE: role}

    # -- what the notebook container gets ---------------------------------------------------

    def get_env(self) -> dict[str, str]:
        env: dict[str, str] = super().get_env()
        env["DASK_SCHEDULER_ADDRESS"] = SCHEDULER_ADDRESS
        # distributed fills in {JUPYTERHUB_SERVICE_PREFIX} from the server's environment.
        env["DASK_DISTRIBUTED__DASHBOARD__LINK"] = (
            "{JUPYTERHUB_SERVICE_PREFIX}proxy/" + DASHBOARD + "/status"
        )
        env["AFENV_DASK_WORKER_IMAGE"] = self.partners.get(self.image, "")
        return env

    def get_args(self) -> list[str]:
        return [*super().get_args(), f"--ServerProxy.host_allowlist={json.dumps(PROXY_HOSTS)}"]

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> Any:
        option = self.user_options.get("image")
        if option:
            self.image = await self.check_allowed(option)
        if self.image not in self.partners:
            raise web.HTTPError(400, f"{self.image} is not one of afenv's validated pairs")
        user = self.afenv_user
        home = await asyncio.to_thread(self.engine.home_volume, home_volume(user), user)
        self.volumes = {home: HOME_DIR, **self.grid_volumes}
        self.extra_create_kwargs = {"labels": self._labels("notebook")}
        # What a hub killed before it could stop this server left behind.
        await asyncio.to_thread(self._remove_cluster)
        try:
            return await super().start()
        except BaseException:
            await asyncio.to_thread(self._remove_cluster)
            raise

    async def create_object(self) -> Any:
        """The notebook container, then the user's cluster on a network it joins before it
        starts: ``Client()`` finds the scheduler from the server's first moment."""
        created = await super().create_object()
        await asyncio.to_thread(self._start_cluster, created["Id"])
        return created

    def _start_cluster(self, notebook: str) -> None:
        user, worker = self.afenv_user, self.partners[self.image]
        network = self.engine.create_network(
            self.run, dask_network(self.run_id, user), internal=False, labels={HUB_USER: user}
        )
        self.engine.connect_network(network, notebook)
        volumes = {home_volume(user): {"bind": HOME_DIR, "mode": "rw"}, **self.grid_volumes}
        prefix = f"afenv-hub-{self.run_id}-{user}"
        commands = {"scheduler": SCHEDULER_COMMAND}
        for index in range(1, self.dask_workers + 1):
            commands[f"worker-{index}"] = worker_command(index)
        for role, command in commands.items():
            self.engine.start(
                self.run,
                worker,
                command,
                name=f"{prefix}-{role}",
                hostname=role,
                network=network,
                volumes=volumes,
                labels=self._labels("scheduler" if role == "scheduler" else "worker"),
            )

    def _remove_cluster(self) -> None:
        # By label: the user's scheduler, workers, network (and a notebook a crash left).
        self.engine.remove_run(self.run, **{HUB_USER: self.afenv_user})

    async def stop(self, now: bool = False) -> None:
        try:
            await super().stop(now=now)
        finally:
            await asyncio.to_thread(self._remove_cluster)

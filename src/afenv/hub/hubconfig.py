"""The hub's configuration, from :class:`afenv.hub.settings.HubSettings` (plain, validated
data): JupyterHub, its proxy, the users file's login and the pair spawner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from afenv.cluster import grid_volumes
from afenv.hub.auth import UsersFileAuthenticator
from afenv.hub.settings import HubSettings
from afenv.hub.spawner import PairSpawner
from afenv.options import GridOptions

__all__ = ["SERVICE", "SERVICE_SCOPES", "configure"]

SERVICE = "afenv"
# What `afenv hub status` and an admin's scripts need: users, their servers and tokens.
SERVICE_SCOPES = ["admin:users", "admin:servers", "tokens", "list:users", "read:users"]
START_TIMEOUT_S = 300  # a first start on a busy 2-core host; a later one takes seconds


def configure(c: Any, settings: HubSettings) -> None:
    state = Path(settings.state_dir)
    hub = c.JupyterHub
    hub.ip, hub.port = settings.ip, settings.port
    # Servers reach the hub's API on the hub network's gateway: the host as they see it.
    hub.hub_ip = hub.hub_connect_ip = settings.hub_ip
    hub.hub_port = settings.hub_port
    hub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
    hub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
    hub.pid_file = str(state / "jupyterhub.pid")
    hub.cleanup_servers = True  # `hub down` stops every server (and so every user's cluster)
    hub.cleanup_proxy = True
    hub.services = [{"name": SERVICE, "api_token": settings.token()}]
    hub.load_roles = [
        {"name": "afenv-admin", "scopes": SERVICE_SCOPES, "services": [SERVICE]},
    ]

    proxy = c.ConfigurableHTTPProxy
    proxy.command = [settings.proxy_command]
    proxy.api_url = f"http://127.0.0.1:{settings.proxy_api_port}"
    proxy.pid_file = str(state / "proxy.pid")

    hub.authenticator_class = UsersFileAuthenticator
    c.UsersFileAuthenticator.users_file = settings.users_file
    c.Authenticator.admin_users = set(settings.admins)

    hub.spawner_class = PairSpawner
    spawner = c.PairSpawner
    spawner.run_id = settings.run_id
    # The form lists every validated pair by its experiment's title.
    spawner.allowed_images = {offer.title: offer.singleuser for offer in settings.offers}
    spawner.image = settings.offers[0].singleuser
    spawner.partners = {offer.singleuser: offer.worker for offer in settings.offers}
    spawner.dask_workers = settings.workers
    grid = GridOptions(
        cvmfs=None if settings.cvmfs is None else Path(settings.cvmfs),
        ca_dir=None if settings.ca_dir is None else Path(settings.ca_dir),
    )
    spawner.grid_volumes = grid_volumes(grid)
    spawner.network_name = settings.network
    spawner.use_internal_ip = True
    spawner.remove = True  # a server's container goes when it stops; the home volume stays
    spawner.pull_policy = "never"  # the pairs are local images; nothing is pulled
    spawner.name_template = f"afenv-hub-{settings.run_id}-{{username}}"
    spawner.prefix = f"afenv-hub-{settings.run_id}"
    spawner.default_url = "/lab"
    spawner.start_timeout = START_TIMEOUT_S
    spawner.http_timeout = START_TIMEOUT_S

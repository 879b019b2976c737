"""What `afenv hub up` decided, handed to the hub process it starts.

Written once as JSON by `hub up` (every value validated by then) and read by the hub's config
(:mod:`afenv.hub.hubconfig`); `hub status` and `hub down` read it back to find the hub.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from afenv.errors import ConfigError

__all__ = ["HubOffer", "HubSettings", "load_settings", "save_settings"]

SETTINGS = "hub.json"
TOKEN = "afenv-token"  # the afenv service's API token (admin of users and servers), mode 0600
# The home a hub user's volume is mounted at: the images' HOME.
HOME_DIR = "/home/jovyan"
PURPOSE = "hub"  # the purpose label of the hub's run


def dask_network(run_id: str, user: str) -> str:
    """The private network of a user's notebook and Dask cluster."""
    return f"afenv-hub-{run_id}-{user}-dask"


def home_volume(user: str) -> str:
    return f"afenv-home-{user}"


@dataclass(frozen=True, kw_only=True)
class HubOffer:
    """One choice of the spawn form: a validated pair."""

    experiment: str
    title: str  # what the form shows
    singleuser: str
    worker: str


@dataclass(frozen=True, kw_only=True)
class HubSettings:
    run_id: str  # the run label of everything the hub and its spawners create
    ip: str  # the public proxy's address and port
    port: int
    hub_ip: str  # the hub's API: the hub network's gateway, where servers reach the host
    hub_port: int
    proxy_api_port: int  # configurable-http-proxy's REST API, on loopback
    proxy_command: str
    network: str  # the hub network: the proxy reaches every server on it
    state_dir: str
    users_file: str
    admins: tuple[str, ...]
    offers: tuple[HubOffer, ...]
    workers: int  # Dask workers per user, one thread each
    # The host's CVMFS and CA directory for every server and worker (read-only); None: none.
    cvmfs: str | None = None
    ca_dir: str | None = None
    pid: int = 0  # the hub process, once started

    @property
    def url(self) -> str:
        return f"http://{self.ip}:{self.port}"

    @property
    def token_path(self) -> Path:
        return Path(self.state_dir) / TOKEN

    def token(self) -> str:
        return self.token_path.read_text(encoding="utf-8").strip()


def save_settings(settings: HubSettings) -> Path:
    path = Path(settings.state_dir) / SETTINGS
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(asdict(settings), indent=2) + "\n", encoding="utf-8")
    partial.replace(path)
    return path


def load_settings(path: Path) -> HubSettings | None:
    """The settings of the hub `hub up` started from this state folder; None: none recorded."""
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise ConfigError(
            f"{path}: unreadable ({error}); delete it and run `afenv clean`"
        ) from None
    try:
        offers = tuple(HubOffer(**offer) for offer in data.pop("offers"))
        return HubSettings(offers=offers, **{**data, "admins": tuple(data["admins"])})
    except (KeyError, TypeError) as error:
        raise ConfigError(
            f"{path}: not afenv's hub settings ({error}); delete it and run `afenv clean`"
        ) from None


def write_private(path: Path, text: str) -> None:
    """A secret file, private to its owner from its first byte."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)

"""`afenv hub up|down|status`: a JupyterHub on this host that offers the validated pairs.

The hub (JupyterHub with :class:`afenv.hub.spawner.PairSpawner`) runs as a host process from
afenv's own environment; it starts configurable-http-proxy (npm) itself. Its files live in
``<state>/hub``: the settings, the afenv service's token, JupyterHub's database and cookie
secret, and the log. Everything it creates in the engine carries the run label of `hub up`, so
`hub down` finds it all; users' home volumes carry none and stay (see :data:`afenv.engine.HOME`).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from afenv.engine import CLUSTER_ROLE, HUB_USER, ContainerInfo, Engine
from afenv.errors import ConfigError, HubError
from afenv.hostnet import free_port
from afenv.hub.pairs import Pair
from afenv.hub.settings import (  # HubSettings: what up returns
    PURPOSE,
    SETTINGS,
    HubOffer,
    HubSettings,
    load_settings,
    save_settings,
    write_private,
)
from afenv.hub.users import read_users
from afenv.options import GridOptions
from afenv.spec.grammar import check_option

__all__ = ["HubSettings", "HubStatus", "Stopped", "down", "hub_dir", "running_run", "status", "up"]

STARTUP_S = 120  # JupyterHub's start-up: database, proxy, the first route
STOP_S = 120  # its shutdown stops every user's server and cluster first
MAX_WORKERS = 16
CONFIG_FILE = Path(__file__).with_name("jupyterhub_config.py")
LOG = "hub.log"
PROXY_COMMAND = "configurable-http-proxy"


def hub_dir(state_dir: Path) -> Path:
    return state_dir / "hub"


def _alive(pid: int) -> bool:
    """``pid`` is a running JupyterHub (not a process that reused the number)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"jupyterhub" in command


def _running(directory: Path) -> HubSettings | None:
    settings = load_settings(directory / SETTINGS)
    return settings if settings is not None and _alive(settings.pid) else None


def running_run(state_dir: Path) -> str | None:
    """The run id of the hub running from this state folder, if one is."""
    settings = _running(hub_dir(state_dir))
    return None if settings is None else settings.run_id


def _check_port(ip: str, port: int) -> None:
    with socket.socket() as probe:
        try:
            probe.bind((ip, port))
        except OSError as error:
            raise ConfigError(
                f"--port: {ip}:{port} cannot be used ({error.strerror}); choose another port"
            ) from None


def _offers(pairs: Sequence[Pair], docker: Engine) -> tuple[HubOffer, ...]:
    offers = []
    for pair in pairs:
        for role, reference in (("singleuser", pair.singleuser), ("worker", pair.worker)):
            docker.require_image(
                reference,
                hint=f"{pair.experiment}'s validated {role} image is gone; "
                f"run `afenv build {pair.experiment}`",
            )
        offers.append(
            HubOffer(
                experiment=pair.experiment,
                title=pair.title,
                singleuser=pair.singleuser,
                worker=pair.worker,
            )
        )
    return tuple(offers)


def up(
    state_dir: Path,
    pairs: Sequence[Pair],
    *,
    ip: str,
    port: int,
    users_file: Path,
    admins: Sequence[str],
    workers: int,
    grid: GridOptions,
    docker: Engine,
    report: Callable[[str], None],
) -> HubSettings:
    """Start the hub and return once its proxy answers; on any failure nothing is left."""
    check_option("--ip", ip, "ipv4")
    if not 1 <= port <= 65535:
        raise ConfigError(f"--port: {port} is not a TCP port (1-65535)")
    if not 1 <= workers <= MAX_WORKERS:
        raise ConfigError(f"--workers: {workers} is not 1 to {MAX_WORKERS}")
    users_file = users_file.resolve()
    users = read_users(users_file)
    for admin in admins:
        if admin not in users:
            raise ConfigError(
                f"--admin: {admin!r} is not in {users_file}; add them with "
                f"`afenv hub passwd {users_file} {admin}` first"
            )
    directory = hub_dir(state_dir)
    running = _running(directory)
    if running is not None:
        raise ConfigError(
            f"a hub is running already at {running.url} (pid {running.pid}); `afenv hub down` first"
        )
    missing = [name for name in ("jupyterhub", "dockerspawner") if find_spec(name) is None]
    if missing:
        raise ConfigError(
            f"{', '.join(missing)}: not installed; afenv hub needs its extra: "
            f"pip install 'afenv[hub]' (scripts/setup.sh installs it)"
        )
    proxy = shutil.which(PROXY_COMMAND)
    if proxy is None:
        raise ConfigError(
            f"{PROXY_COMMAND}: not found on PATH; run scripts/setup.sh "
            f"(npm install -g configurable-http-proxy)"
        )
    if not pairs:
        raise ConfigError("no validated pair to offer; run `afenv build EXP` (it validates)")
    offers = _offers(pairs, docker)
    _check_port(ip, port)

    directory.mkdir(parents=True, exist_ok=True)
    run = docker.new_run(PURPOSE)
    process: subprocess.Popen[bytes] | None = None
    try:
        report(f"hub network afenv-hub-{run.id}")
        network = docker.create_network(run, f"afenv-hub-{run.id}", internal=False)
        gateway = docker.network_gateway(network)
        settings = HubSettings(
            run_id=run.id,
            ip=ip,
            port=port,
            hub_ip=gateway,
            hub_port=free_port(gateway),
            proxy_api_port=free_port(),
            proxy_command=proxy,
            network=network,
            state_dir=str(directory),
            users_file=str(users_file),
            admins=tuple(admins),
            offers=offers,
            workers=workers,
            cvmfs=None if grid.cvmfs is None else str(grid.cvmfs),
            ca_dir=None if grid.ca_dir is None else str(grid.ca_dir),
        )
        write_private(settings.token_path, secrets.token_hex(32) + "\n")
        path = save_settings(settings)
        report(f"starting JupyterHub on {settings.url} ({len(offers)} pairs, {len(users)} users)")
        with (directory / LOG).open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "jupyterhub", "-f", str(CONFIG_FILE)],
                cwd=directory,
                env={**os.environ, "AFENV_HUB_SETTINGS": str(path)},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # it outlives this command; `hub down` ends it
            )
        settings = replace(settings, pid=process.pid)
        save_settings(settings)
        _wait_healthy(settings, process, directory / LOG)
    except BaseException:
        if process is not None:
            _stop_process(process.pid)
        docker.remove_run(run)
        (directory / SETTINGS).unlink(missing_ok=True)
        raise
    return settings


def _get(url: str, token: str | None = None, timeout: float = 10) -> Any:
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", f"token {token}")
    # The hub is local: a site's HTTP proxy must not see its requests (or the token).
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=timeout) as response:
        return json.loads(response.read() or b"null")


def _wait_healthy(settings: HubSettings, process: subprocess.Popen[bytes], log: Path) -> None:
    """Until /hub/health answers through the proxy (the hub and its route are up)."""
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        try:
            _get(f"{settings.url}/hub/health", timeout=2)
            return
        except (urllib.error.URLError, OSError, ValueError):
            pass
        with contextlib.suppress(subprocess.TimeoutExpired):
            code = process.wait(timeout=0.25)  # the pause between probes, ended by an exit
            raise HubError(
                f"the hub exited during start-up (exit code {code}); see {log}: {_last_line(log)}"
            )
    raise HubError(f"the hub did not answer on {settings.url} in {STARTUP_S} s; see {log}")


def _last_line(log: Path) -> str:
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1][-200:] if lines else "(empty)"


def _wait_exit(pid: int, timeout: float) -> bool:
    """Wait for ``pid`` (not our child) to end; True if it did."""
    try:
        descriptor = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        ready, _, _ = select.select([descriptor], [], [], timeout)
        return bool(ready)
    finally:
        os.close(descriptor)


def _stop_process(pid: int) -> None:
    """SIGTERM (JupyterHub then stops every server and its proxy), then SIGKILL for the whole
    session it leads if it would not end."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if not _wait_exit(pid, STOP_S):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        if not _wait_exit(pid, 10):
            raise HubError(f"the hub (pid {pid}) will not stop; kill it, then `afenv hub down`")
    # The proxy is in the hub's session: one that outlived the hub goes as well.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)


@dataclass(frozen=True)
class Stopped:
    was_running: bool
    removed: dict[str, list[str]]
    homes_removed: list[str]
    homes_kept: list[str]


def _hub_users(settings: HubSettings, running: bool) -> set[str]:
    """Whom this hub knows: its users file's users and, while it runs, its database's (an
    admin may have created users over the API)."""
    names: set[str] = set()
    with contextlib.suppress(ConfigError):  # a users file deleted since: the database's only
        names |= set(read_users(Path(settings.users_file)))
    if running:
        with contextlib.suppress(urllib.error.URLError, OSError, ValueError):
            names |= {u["name"] for u in _get(f"{settings.url}/hub/api/users", settings.token())}
    return names


def down(state_dir: Path, *, remove_homes: bool, docker: Engine) -> Stopped:
    """Stop the hub and what it started; with ``remove_homes``, also the home volumes of the
    hub's users (a home another hub's user has stays)."""
    directory = hub_dir(state_dir)
    settings = load_settings(directory / SETTINGS)
    removed: dict[str, list[str]] = {"containers": [], "networks": [], "volumes": []}
    was_running = settings is not None and _alive(settings.pid)
    users: set[str] = set()
    if settings is not None:
        users = _hub_users(settings, was_running) if remove_homes else set()
        if was_running:
            _stop_process(settings.pid)
        # What the hub's shutdown did not stop (it was killed, a server hung).
        removed = docker.remove_run(Engine.join_run(settings.run_id, PURPOSE))
        (directory / SETTINGS).unlink(missing_ok=True)
    homes_removed = docker.remove_home_volumes(users) if remove_homes else []
    return Stopped(was_running, removed, homes_removed, docker.home_volumes())


@dataclass(frozen=True)
class HubStatus:
    settings: HubSettings | None
    running: bool
    users: list[dict[str, Any]]
    containers: list[ContainerInfo]
    homes: list[str]

    def as_dict(self) -> dict[str, Any]:
        users = []
        for user in self.users:
            name = user["name"]
            mine = [c for c in self.containers if c.labels.get(HUB_USER) == name]
            notebook = [c for c in mine if c.labels.get(CLUSTER_ROLE) == "notebook"]
            server = (user.get("servers") or {}).get("", {})
            users.append(
                {
                    "name": name,
                    "admin": bool(user.get("admin")),
                    "server": (
                        "ready" if server.get("ready") else "pending" if server else "stopped"
                    ),
                    "image": notebook[0].image if notebook else None,
                    "cluster": {
                        c.labels.get(CLUSTER_ROLE, "?") + ":" + c.name: c.status
                        for c in mine
                        if c.labels.get(CLUSTER_ROLE) in ("scheduler", "worker")
                    },
                }
            )
        return {
            "running": self.running,
            "url": None if self.settings is None else self.settings.url,
            "pid": None if self.settings is None else self.settings.pid,
            "offers": [] if self.settings is None else [o.title for o in self.settings.offers],
            "users": users,
            "homes": self.homes,
        }


def status(state_dir: Path, *, docker: Engine) -> HubStatus:
    directory = hub_dir(state_dir)
    settings = _running(directory)
    if settings is None:
        return HubStatus(None, False, [], [], docker.home_volumes())
    try:
        users = _get(f"{settings.url}/hub/api/users", token=settings.token())
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise HubError(
            f"the hub at {settings.url} does not answer ({error}); see its log"
        ) from None
    containers = docker.run_containers(Engine.join_run(settings.run_id, PURPOSE))
    return HubStatus(settings, True, list(users), containers, docker.home_volumes())

"""What `afenv hub up` costs on this machine: start-up, spawns, the first Dask worker, memory.

    .venv/bin/python benchmarks/bench_hub.py [--users 3]

Starts the hub through the CLI with a temporary users file (users ``bench-1`` …), then for each
user in turn: the spawn (the REST request until the hub's progress stream says ready), and in
the user's kernel the time from ``Client()`` to its first worker. After the first user and after
the last: the resident memory of the hub process and its proxy, and of the user containers
(notebook, scheduler, workers: the engine's memory accounting, page cache excluded). Ends
with `afenv hub down` and removes the bench users' home volumes (only theirs). Needs a
validated pair (`afenv build cms`).
Writes ``benchmarks/results/hub.json`` and prints Markdown.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import docker
from bench_ds import machine, machine_line
from common import RESULTS, ROOT, afenv_cli

from afenv import engine
from afenv.hostnet import free_port
from afenv.hub.users import set_password
from afenv.testing.hubclient import Hub
from afenv.testing.kernel import execute

HUB_DIR = ROOT / ".afenv" / "hub"

_FIRST_WORKER = """
import json, time
from dask.distributed import Client
started = time.perf_counter()
client = Client()
client.wait_for_workers(1, timeout=120)
print(json.dumps(round(time.perf_counter() - started, 3)))
client.close()
"""


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _memory(client: docker.DockerClient, hub_pid: int) -> dict[str, Any]:
    proxy_pid = int((HUB_DIR / "proxy.pid").read_text())
    containers = client.containers.list(filters={"label": engine.HUB_USER})
    per_role: dict[str, float] = {}
    for container in containers:
        stats = container.stats(stream=False)["memory_stats"]
        usage = stats["usage"] - stats.get("stats", {}).get("inactive_file", 0)
        role = container.labels[engine.CLUSTER_ROLE]
        per_role[role] = per_role.get(role, 0.0) + usage / 2**20
    return {
        "hub_mb": _rss_mb(hub_pid),
        "proxy_mb": _rss_mb(proxy_pid),
        "containers_mb": {role: round(mb, 1) for role, mb in sorted(per_role.items())},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=3)
    args = parser.parse_args()
    names = [f"bench-{index}" for index in range(1, args.users + 1)]
    client = docker.from_env()
    with tempfile.TemporaryDirectory(prefix="afenv-bench-hub-") as scratch:
        users_file = Path(scratch) / "users"
        passwords = {name: secrets.token_urlsafe(12) for name in names}
        for name, password in passwords.items():
            set_password(users_file, name, password)
        up_s, done = afenv_cli(
            "hub", "up", "--users", str(users_file), "--port", str(free_port()), "--json"
        )
        up = json.loads(done.stdout)
        hub = Hub(up["url"], (HUB_DIR / "afenv-token").read_text().strip())
        result: dict[str, Any] = {"machine": machine(), "hub_up_s": round(up_s, 2), "users": []}
        try:
            result["memory_idle"] = _memory(client, up["pid"])
            for name in names:
                if name not in {u["name"] for u in hub.api("GET", "/users")}:
                    hub.api("POST", f"/users/{name}")
                spawn_s = hub.spawn(name, {"image": hub_titles(up)[0]})
                output = execute(hub.server_url(name), hub.user_token(name), _FIRST_WORKER)
                if not output.ok:
                    raise SystemExit(f"{name}'s kernel failed: {output.error}")
                first_worker_s = json.loads(output.stdout.strip().splitlines()[-1])
                result["users"].append(
                    {"user": name, "spawn_s": round(spawn_s, 2), "first_worker_s": first_worker_s}
                )
                if len(result["users"]) == 1:
                    result["memory_1_user"] = _memory(client, up["pid"])
            result[f"memory_{len(names)}_users"] = _memory(client, up["pid"])
        finally:
            down_s, _ = afenv_cli("hub", "down")
            result["hub_down_s"] = round(down_s, 2)
            for name in names:
                for volume in client.volumes.list(filters={"label": f"{engine.HOME}={name}"}):
                    volume.remove(force=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "hub.json").write_text(json.dumps(result, indent=2) + "\n")
    print(machine_line(result))
    print(f"hub up {result['hub_up_s']} s, hub down {result['hub_down_s']} s")
    print("| user | spawn to ready [s] | Client() to first worker [s] |")
    print("|---|---:|---:|")
    for user in result["users"]:
        print(f"| {user['user']} | {user['spawn_s']} | {user['first_worker_s']} |")
    for key in sorted(k for k in result if k.startswith("memory_")):
        memory = result[key]
        print(
            f"{key}: hub {memory['hub_mb']} MB, proxy {memory['proxy_mb']} MB, containers "
            + ", ".join(f"{role} {mb} MB" for role, mb in memory["containers_mb"].items())
        )


def hub_titles(up: dict[str, Any]) -> list[str]:
    """The spawn form's choices, by title, in the order `hub up` offered them."""
    settings = json.loads((HUB_DIR / "hub.json").read_text())
    by_experiment = {offer["experiment"]: offer["title"] for offer in settings["offers"]}
    return [by_experiment[experiment] for experiment in up["offers"]]


if __name__ == "__main__":
    main()

"""`afenv hub up`: a real JupyterHub (host process), its real configurable-http-proxy, real
containers of the validated cms pair, real logins, a real kernel driven over its websocket.

The module's hub is started once through the CLI; users are prefixed ``test-`` so that the home
volumes the tests remove are the tests' own.
"""

from __future__ import annotations

import io
import json
import secrets
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest

from afenv import engine
from afenv.hostnet import free_port
from afenv.hub.users import set_password
from afenv.testing import credentials
from afenv.testing.hubclient import Hub
from afenv.testing.kernel import KernelOutput, execute

from ..bench import reference
from .conftest import LABELS, ROOT, afenv, validated_pairs

pytestmark = [pytest.mark.docker, pytest.mark.hub]

HUB_DIR = ROOT / ".afenv" / "hub"
ARTIFACTS = ROOT / "reports" / "test-artifacts" / "hub"
CHROMIUM = "/usr/bin/chromium"  # Debian's (scripts/setup.sh)
BROWSER_TIMEOUT_MS = 300_000  # a first JupyterLab load on a busy 2-core host
ALICE, BOB = "test-alice", "test-bob"  # alice is listed as admin; bob is created over the API
EVENTS = 20_000
WORKERS = 2


@dataclass(frozen=True)
class RunningHub:
    hub: Hub
    passwords: dict[str, str]
    run_id: str
    pid: int
    users_file: Path


def _settings() -> dict[str, Any]:
    return json.loads((HUB_DIR / "hub.json").read_text())


def _alive(pid: int) -> bool:
    """Running: a process that ended is gone, or a zombie until whoever adopted it reaps it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _remove_homes(client: docker.DockerClient) -> None:
    for user in (ALICE, BOB):
        volumes = client.volumes.list(filters={"name": f"afenv-home-{user}"})
        for volume in volumes:
            if volume.name == f"afenv-home-{user}":
                volume.remove(force=True)


@pytest.fixture(scope="module")
def hub(
    tmp_path_factory: pytest.TempPathFactory,
    client: docker.DockerClient,
    cms_validated: dict[str, Any],  # noqa: ARG001 (the hub offers validated pairs only)
    fcc_validated: dict[str, str],  # noqa: ARG001
) -> Iterator[RunningHub]:
    _remove_homes(client)  # a previous, interrupted session's
    directory = tmp_path_factory.mktemp("hub")
    users = directory / "users"
    # A CVMFS tree whose grid.cern.ch holds a test CA: every server and worker gets it.
    cvmfs = credentials.fake_cvmfs(directory / "cvmfs", credentials.make(directory / "creds"))
    passwords = {ALICE: secrets.token_urlsafe(12), BOB: secrets.token_urlsafe(12)}
    for name, password in passwords.items():
        set_password(users, name, password)
    port = free_port()
    result = afenv(
        "hub", "up", "--users", str(users), "--port", str(port), "--admin", ALICE,
        "--workers", str(WORKERS), "--cvmfs", str(cvmfs), "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr + (HUB_DIR / "hub.log").read_text()[-3000:]
    up = json.loads(result.stdout)
    assert up["offers"] == [pair.experiment for pair in validated_pairs()]
    assert {"cms", "fcc"} <= set(up["offers"])
    settings = _settings()
    token = (HUB_DIR / "afenv-token").read_text().strip()
    assert (HUB_DIR / "afenv-token").stat().st_mode & 0o777 == 0o600
    running = RunningHub(Hub(up["url"], token), passwords, settings["run_id"], up["pid"], users)
    # The hub's database outlives it (users and their tokens, as on any hub): bob is the user
    # the test creates, so a previous session's bob goes first.
    if BOB in {user["name"] for user in running.hub.api("GET", "/users")}:
        running.hub.api("DELETE", f"/users/{BOB}")
    try:
        yield running
    finally:
        afenv("hub", "down")
        _remove_homes(client)


@pytest.fixture(scope="module")
def alice(hub: RunningHub) -> dict[str, Any]:
    """alice's server, spawned with the cms choice of the form; her token and start time."""
    seconds = hub.hub.spawn(ALICE, {"image": "CMS"})
    return {"token": hub.hub.user_token(ALICE), "spawn_s": seconds}


def _run(hub: RunningHub, user: str, token: str, code: str) -> KernelOutput:
    output = execute(hub.hub.server_url(user), token, code, timeout=600)
    assert output.ok, output.error
    return output


def _last_json(output: KernelOutput) -> Any:
    return json.loads(output.stdout.strip().splitlines()[-1])


# In the user's kernel: Client() with no arguments (the server's DASK_SCHEDULER_ADDRESS), every
# warning recorded, then the Ds benchmark in dask mode on files in the user's home.
_DASK_RUN = f"""
import json, os, subprocess, warnings
from pathlib import Path
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    from dask.distributed import Client
    client = Client()
    client.wait_for_workers({WORKERS}, timeout=120)
    info = client.scheduler_info()
    link = client.dashboard_link
    ca_dirs = {{"notebook": os.environ.get("X509_CERT_DIR"),
               **client.run(lambda: __import__("os").environ.get("X509_CERT_DIR"))}}
    client.close()
home = Path.home()
subprocess.run(["afenv-bench", "ds", "generate", "--events", "{EVENTS}", "--files", "2",
                "--out", str(home / "ds")], check=True, capture_output=True)
bench = subprocess.run(["afenv-bench", "ds", "run", "--mode", "dask",
                        "--scheduler", os.environ["DASK_SCHEDULER_ADDRESS"],
                        "--input", *sorted(str(p) for p in (home / "ds").glob("*.root")),
                        "--report", str(home / "report-dask")], capture_output=True, text=True)
report_file = home / "report-dask" / "report.json"
report = json.loads(report_file.read_text()) if bench.returncode == 0 else {{}}
print(json.dumps({{
    "warnings": [f"{{w.category.__name__}}: {{w.message}}" for w in caught],
    "workers": sorted(w["name"] for w in info["workers"].values()),
    "scheduler": info["address"], "dashboard": link, "uid": os.getuid(),
    "bench_code": bench.returncode, "bench_stderr": bench.stderr[-2000:],
    "cutflow": report.get("cutflow"), "ca_dirs": sorted(set(ca_dirs.values())),
}}))
"""


def _files_from(container: Any, path: str, target: Path) -> list[Path]:
    stream, _ = container.get_archive(path)
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
        archive.extractall(target, filter="data")
    return sorted(target.rglob("*.root"))


def test_wrong_password_is_refused_and_the_right_one_logs_in(hub: RunningHub) -> None:
    wrong = hub.hub.login(ALICE, hub.passwords[ALICE] + "x")
    assert wrong.status == 403
    assert not wrong.logged_in
    # A name not in the users file, with another user's password.
    assert not hub.hub.login("test-mallory", hub.passwords[ALICE]).logged_in
    right = hub.hub.login(ALICE, hub.passwords[ALICE])
    assert right.status == 302, right
    assert right.logged_in


def test_a_user_created_over_the_api_logs_in_with_the_users_file_password(
    hub: RunningHub,
) -> None:
    created = hub.hub.api("POST", f"/users/{BOB}")
    assert created["name"] == BOB
    assert not created["admin"]
    assert hub.hub.login(BOB, hub.passwords[BOB]).logged_in
    assert not hub.hub.login(BOB, hub.passwords[ALICE]).logged_in


def test_the_notebook_client_gets_the_users_cluster_from_the_partner_image(
    hub: RunningHub, alice: dict[str, Any], client: docker.DockerClient, tmp_path: Path
) -> None:
    token = alice["token"]
    assert hub.hub.api("GET", "/user", token=token)["name"] == ALICE  # whose token it is
    # The user's own Jupyter server, through the hub's proxy, with the user's token.
    server = hub.hub.get(f"/user/{ALICE}/api/status", token)
    assert server.status_code == 200
    assert "started" in server.json()
    mine = client.containers.list(filters={"label": f"{engine.HUB_USER}={ALICE}"})
    roles = sorted(c.labels[engine.CLUSTER_ROLE] for c in mine)
    assert roles == ["notebook", "scheduler"] + ["worker"] * WORKERS
    images = {c.labels[engine.CLUSTER_ROLE]: c.attrs["Config"]["Image"] for c in mine}
    summary = json.loads((ROOT / ".afenv/state.json").read_text())["promoted"]["cms"]
    worker_image, singleuser_image = summary
    assert images["notebook"] == singleuser_image
    assert images["scheduler"] == images["worker"] == worker_image
    assert not any("/var/run/docker.sock" in json.dumps(c.attrs["Mounts"]) for c in mine)
    # `afenv hub status` says the same.
    status = afenv("hub", "status", "--json")
    assert status.returncode == 0, status.stderr
    (listed,) = [u for u in json.loads(status.stdout)["users"] if u["name"] == ALICE]
    assert listed["server"] == "ready"
    assert listed["admin"] is True
    assert listed["image"] == singleuser_image
    assert sorted(listed["cluster"].values()) == ["running"] * (1 + WORKERS)

    result = _last_json(_run(hub, ALICE, token, _DASK_RUN))
    assert result["warnings"] == []  # no VersionMismatchWarning, no other warning either
    assert result["workers"] == [f"worker-{i}" for i in range(1, WORKERS + 1)]
    assert result["uid"] == 1000
    # CVMFS's CA directory in the notebook and on every worker (the start-up's choice).
    assert result["ca_dirs"] == ["/cvmfs/grid.cern.ch/etc/grid-security/certificates"]
    assert result["dashboard"] == f"/user/{ALICE}/proxy/scheduler:8787/status"
    assert result["bench_code"] == 0, result["bench_stderr"]
    assert "Error in <" not in result["bench_stderr"]
    # The expected cutflow: the independent uproot implementation on the same files, which
    # the workers read from the user's home volume.
    notebook = next(c for c in mine if c.labels[engine.CLUSTER_ROLE] == "notebook")
    files = _files_from(notebook, "/home/jovyan/ds", tmp_path)
    assert len(files) == 2
    per_file = [reference.select(str(f))["cutflow"] for f in files]
    expected = [sum(counts) for counts in zip(*per_file, strict=True)]
    assert result["cutflow"] == expected
    assert expected[0] == EVENTS
    assert expected[-1] > 0

    # The dashboard the labextension links to, through the hub's proxy.
    dashboard = hub.hub.get(result["dashboard"], token)
    assert dashboard.status_code == 200
    assert "Dask" in dashboard.text


def test_users_cannot_reach_each_others_cluster(
    hub: RunningHub, alice: dict[str, Any], client: docker.DockerClient
) -> None:
    if BOB not in {u["name"] for u in hub.hub.api("GET", "/users")}:
        hub.hub.api("POST", f"/users/{BOB}")
    hub.hub.spawn(BOB, {"image": "CMS"})
    try:
        alice_scheduler = client.containers.list(
            filters={"label": [f"{engine.HUB_USER}={ALICE}", f"{engine.CLUSTER_ROLE}=scheduler"]}
        )[0]
        networks = alice_scheduler.attrs["NetworkSettings"]["Networks"]
        (address,) = [n["IPAddress"] for n in networks.values()]
        probe = f"""
import json, socket
from dask.distributed import Client
def reach(host):
    try:
        socket.create_connection((host, 8786), timeout=5).close()
        return "connected"
    except OSError as error:
        return type(error).__name__
with Client() as client:
    own = client.scheduler_info()["address"]
print(json.dumps({{"alice": reach({address!r}), "own": own}}))
"""
        result = _last_json(_run(hub, BOB, hub.hub.user_token(BOB), probe))
        assert result["alice"] != "connected"
        assert address not in result["own"]  # bob's Client() found bob's scheduler
        # alice's cluster still serves alice.
        own = "import json\nfrom dask.distributed import Client\n" + (
            "with Client() as c: print(json.dumps(c.scheduler_info()['address']))"
        )
        back = _last_json(_run(hub, ALICE, alice["token"], own))
        assert address in back
    finally:
        hub.hub.stop(BOB)


def test_a_browser_logs_in_picks_an_experiment_and_reaches_jupyterlabs_dask_panel(
    hub: RunningHub,
) -> None:
    from playwright.sync_api import sync_playwright

    if BOB not in {u["name"] for u in hub.hub.api("GET", "/users")}:
        hub.hub.api("POST", f"/users/{BOB}")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.set_default_timeout(BROWSER_TIMEOUT_MS)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{hub.hub.url}/hub/login")
            page.fill("#username_input", BOB)
            page.fill("#password_input", hub.passwords[BOB])
            page.click("#login_submit")
            page.wait_for_url("**/hub/spawn**")
            # The form offers every validated pair, by the experiments' titles.
            options = page.locator("select[name=image] option").all_inner_texts()
            titles = sorted(pair.title for pair in validated_pairs())
            assert sorted(o.strip() for o in options) == titles
            page.screenshot(path=ARTIFACTS / "spawn-form.png")
            page.select_option("select[name=image]", label="CMS")
            page.click("#spawn_form [type=submit]")
            page.wait_for_url(f"**/user/{BOB}/lab**")
            page.wait_for_selector(".jp-LabShell")
            # The Dask extension's panel, in the left side bar.
            page.click(".lm-TabBar-tab[data-id=dask-dashboard-launcher]")
            panel = page.locator("#dask-dashboard-launcher")
            panel.wait_for(state="visible")
            # The user's dashboard through the hub's proxy: the panel lists its plots.
            search = panel.locator("input").first
            search.fill(f"{hub.hub.url}/user/{BOB}/proxy/scheduler:8787/status")
            search.press("Enter")
            panel.get_by_text("Task Stream", exact=False).first.wait_for(state="visible")
            page.screenshot(path=ARTIFACTS / "jupyterlab-dask-panel.png")
        finally:
            browser.close()
            if "" in (hub.hub.api("GET", f"/users/{BOB}").get("servers") or {}):
                hub.hub.stop(BOB)
    assert errors == []  # no uncaught exception in the hub's pages or in JupyterLab


def test_stop_removes_the_cluster_and_down_everything_but_the_home(
    hub: RunningHub, alice: dict[str, Any], client: docker.DockerClient
) -> None:
    marker = secrets.token_hex(8)
    _run(hub, ALICE, alice["token"], f"open('afenv-e2e.txt', 'w').write({marker!r})")
    network = f"afenv-hub-{hub.run_id}-{ALICE}-dask"
    assert client.networks.list(names=[network])

    hub.hub.stop(ALICE)
    assert not client.containers.list(all=True, filters={"label": f"{engine.HUB_USER}={ALICE}"})
    assert not [n for n in client.networks.list(names=[network]) if n.name == network]

    proxy_pid = int((HUB_DIR / "proxy.pid").read_text())
    assert _alive(hub.pid)
    assert _alive(proxy_pid)
    result = afenv("hub", "down", "--json")
    assert result.returncode == 0, result.stderr
    assert not _alive(hub.pid)
    assert not _alive(proxy_pid)
    run = f"{engine.RUN}={hub.run_id}"
    assert not client.containers.list(all=True, filters={"label": run})
    stopped = json.loads(result.stdout)
    left = [(n.name, n.attrs["Labels"]) for n in client.networks.list(filters={"label": run})]
    assert not left, stopped
    assert f"afenv-home-{ALICE}" in stopped["homes_kept"]
    # The home survived: the file the kernel wrote is there.
    reader = client.containers.run(
        "afenv/cms-singleuser:latest", ["cat", "/home/jovyan/afenv-e2e.txt"], detach=True,
        labels=LABELS, volumes={f"afenv-home-{ALICE}": {"bind": "/home/jovyan", "mode": "ro"}},
        entrypoint=[],
    )  # fmt: skip
    try:
        assert reader.wait(timeout=120)["StatusCode"] == 0
        assert reader.logs(stdout=True, stderr=False).decode() == marker
    finally:
        reader.remove(force=True)
    assert hub.users_file.exists()  # never touched
    status = afenv("hub", "status", "--json")
    assert status.returncode == 0
    assert json.loads(status.stdout)["running"] is False


def test_remove_homes_takes_this_hubs_users_homes_only(
    hub: RunningHub, client: docker.DockerClient
) -> None:
    afenv("hub", "down")  # the module's hub, if an earlier test left it up
    engine_ = engine.Engine(client)
    # alice's home (made by her first spawn, or here), and another hub's user's.
    homes = {
        user: engine_.home_volume(f"afenv-home-{user}", user) for user in (ALICE, "test-carol")
    }
    try:
        up = afenv("hub", "up", "--users", str(hub.users_file), "--port", str(free_port()))
        assert up.returncode == 0, up.stderr
        result = afenv("hub", "down", "--remove-homes", "--json")
        assert result.returncode == 0, result.stderr
        stopped = json.loads(result.stdout)
        assert homes[ALICE] in stopped["homes_removed"]
        assert homes["test-carol"] in stopped["homes_kept"]
        assert not client.volumes.list(filters={"label": f"{engine.HOME}={ALICE}"})
    finally:
        for volume in client.volumes.list(filters={"label": f"{engine.HOME}=test-carol"}):
            volume.remove(force=True)

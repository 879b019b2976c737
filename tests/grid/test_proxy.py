"""ship_proxy on a real Dask cluster: every worker, later workers, renewal, removal, refusal."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from afenv_runtime import grid

pytestmark = pytest.mark.dask


def _proxy_state():
    """On a worker: what the plugin left (path, mode, owner, content, environment)."""
    import os as worker_os
    from pathlib import Path as WorkerPath

    path = worker_os.environ.get("X509_USER_PROXY")
    if path is None or not WorkerPath(path).exists():
        return {"path": path, "exists": False}
    info = WorkerPath(path).stat()
    content = WorkerPath(path).read_bytes()
    return {
        "path": path,
        "exists": True,
        "mode": info.st_mode,
        "uid": info.st_uid,
        "worker_uid": worker_os.getuid(),
        "content": content,
        "cert_dir": worker_os.environ.get("X509_CERT_DIR"),
        "voms_dir": worker_os.environ.get("X509_VOMS_DIR"),
    }


def test_every_worker_gets_a_private_copy(dask_client, grid_credentials):
    client, _cluster = dask_client
    info = grid.ship_proxy(client, grid_credentials.proxy)
    assert info.subject.startswith(grid_credentials_dn())
    assert info.time_left.total_seconds() > 11 * 3600
    states = client.run(_proxy_state)
    assert len(states) == 2
    expected = grid_credentials.proxy.read_bytes()
    paths = set()
    for state in states.values():
        assert state["exists"]
        assert stat.S_IMODE(state["mode"]) == 0o600
        assert state["uid"] == state["worker_uid"]
        assert state["content"] == expected
        paths.add(state["path"])
    assert len(paths) == 2  # each worker its own file, in its own local directory


def test_a_worker_that_joins_later_gets_it(dask_client, grid_credentials):
    client, cluster = dask_client
    grid.ship_proxy(client, grid_credentials.proxy)
    cluster.scale(3)
    client.wait_for_workers(3)
    states = client.run(_proxy_state)
    assert len(states) == 3
    assert all(s["exists"] and stat.S_IMODE(s["mode"]) == 0o600 for s in states.values())


def test_shipping_again_replaces_and_remove_takes_away(dask_client, grid_credentials, tmp_path):
    client, _ = dask_client
    grid.ship_proxy(client, grid_credentials.proxy)
    renewed = tmp_path / "renewed"
    renewed.write_bytes(grid_credentials.proxy.read_bytes() + b"\n")  # same proxy, new bytes
    renewed.chmod(0o600)
    grid.ship_proxy(client, renewed)
    assert {s["content"] for s in client.run(_proxy_state).values()} == {renewed.read_bytes()}
    before = client.run(_proxy_state)
    grid.remove_proxy(client)
    after = client.run(_proxy_state)
    for worker, state in after.items():
        assert not state["exists"]
        assert not Path(before[worker]["path"]).exists()
    grid.remove_proxy(client)  # removing twice is not an error


def test_an_expired_proxy_never_leaves_the_client(dask_client, grid_credentials):
    client, _ = dask_client
    with pytest.raises(grid.ProxyError) as raised:
        grid.ship_proxy(client, grid_credentials.expired_proxy)
    message = str(raised.value)
    assert str(grid_credentials.expired_proxy) in message
    assert "expired" in message
    assert "voms-proxy-init" in message
    assert "\n" not in message
    assert all(not s["exists"] for s in client.run(_proxy_state).values())


def test_a_missing_proxy_is_one_line_naming_the_file(dask_client, tmp_path, monkeypatch):
    client, _ = dask_client
    monkeypatch.setenv("X509_USER_PROXY", str(tmp_path / "nothing"))
    with pytest.raises(grid.ProxyError, match=r"no X509 proxy at .*nothing — create one"):
        grid.ship_proxy(client)


def grid_credentials_dn() -> str:
    from afenv.testing.credentials import USER_DN

    return USER_DN


PRELOAD_CLIENT = """
import sys
from distributed import Client
with Client(sys.argv[1]) as client:
    pass
"""


@pytest.mark.parametrize("switch", ["1", "0"])
def test_the_image_config_ships_on_connect_unless_switched_off(
    dask_client, grid_credentials, switch, tmp_path
):
    """The notebook image's Dask config file, read by a fresh client process, preloads
    afenv_runtime.grid_preload; AFENV_SHIP_PROXY=0 turns it off."""
    import os
    import shutil
    import subprocess
    import sys

    from afenv.build.render import PACKAGED

    client, cluster = dask_client
    config = tmp_path / "dask"
    config.mkdir()
    shutil.copyfile(PACKAGED / "files" / "dask.yaml", config / "afenv.yaml")
    env = dict(os.environ, DASK_CONFIG=str(config), AFENV_SHIP_PROXY=switch)
    env["X509_USER_PROXY"] = str(grid_credentials.proxy)
    subprocess.run([sys.executable, "-c", PRELOAD_CLIENT, cluster.scheduler_address], env=env,
                   check=True, capture_output=True)  # fmt: skip
    states = client.run(_proxy_state).values()
    assert all(s["exists"] is (switch == "1") for s in states)

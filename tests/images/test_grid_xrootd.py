"""Grid reads end to end, as on a facility, with no mocks: the built cms pair reads the Ds sample
from a real XRootD server that requires GSI, with credentials made by the real tools.

A test CA signs the storage's host certificate and the user's certificate; xrdgsiproxy makes
an RFC 3820 proxy; a fake ``/cvmfs/grid.cern.ch/etc/grid-security`` holds the hashed CA and is
bound into every container (``--cvmfs``), so the images' start-up points ``X509_CERT_DIR`` there.
The storage runs Debian's xrootd with ``sec.protbind * only gsi`` and an authorization database
that lets only the test user read. Then, from the singleuser client over two workers:

1. without a proxy the distributed run fails, naming the URL and the authentication error, and
   so does a read on a worker;
2. one ``ship_proxy(client)`` later every worker reads, that one included (its GSI had already
   taken a proxy path), and the distributed run agrees with the run over local paths;
3. a worker started after shipping reads too;
4. an expired proxy is refused on the client and no worker's proxy changes;
5. every worker's proxy is 0600 and belongs to uid 1000;
6. the server's log shows the test user's DN.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from pathlib import Path
from typing import Any

import pytest

from afenv.benchmark import generate, run_mode
from afenv.cluster import DATA, SCHEDULER_ADDRESS, Cluster, worker_command
from afenv.options import GridOptions
from afenv.spec import BenchmarkSpec
from afenv.testing import credentials, gsi

from .conftest import ROOT

pytestmark = pytest.mark.docker

SPEC = BenchmarkSpec(events=20_000, files=2, seed=11)
PORT = gsi.PORT
CVMFS_CA = "/cvmfs/grid.cern.ch/etc/grid-security/certificates"
CmsImages = dict[str, dict[str, Any]]

# Run in the client container: connect to the cluster, do one thing, print JSON.
_CLIENT = r"""
import hashlib, json, sys, warnings
warnings.filterwarnings("ignore", message=".*alpha stage.*", category=UserWarning)
from distributed import Client
from afenv_runtime import grid

def state():
    import hashlib, os, re, stat
    path = os.environ.get("X509_USER_PROXY")
    found = {"path": path, "cert_dir": os.environ.get("X509_CERT_DIR"),
             "gsi": sorted(set(re.findall(r"/\S*libXrdSecgsi\S*", open("/proc/self/maps").read())))}
    if path and os.path.exists(path):
        info = os.stat(path)
        found.update(mode=stat.S_IMODE(info.st_mode), uid=info.st_uid,
                     sha256=hashlib.sha256(open(path, "rb").read()).hexdigest())
    return found

def entries(url):
    import ROOT
    opened = ROOT.TFile.Open(url)  # held: the tree dies with its file
    return int(opened.Get("Tree3Mu/ntuple").GetEntries())

client = Client(sys.argv[1], timeout=60)
action, argument = sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None
if action == "ship":
    try:
        print(json.dumps({"shipped": grid.ship_proxy(client, argument).summary()}))
    except grid.ProxyError as error:
        print(json.dumps({"refused": str(error)}))
elif action == "state":
    client.wait_for_workers(int(argument), timeout=120)
    print(json.dumps(client.run(state)))
elif action == "read-on":
    worker, url = argument.split(" ", 1)
    future = client.submit(entries, url, workers=[worker], pure=False)
    try:
        print(json.dumps({"entries": future.result()}))
    except OSError as error:
        print(json.dumps({"error": str(error)}))
"""


def _client(cluster: Cluster, *arguments: str, env: str = "") -> dict[str, Any]:
    command = f"{env} afenv-entrypoint python3 -c {shlex.quote(_CLIENT)} {SCHEDULER_ADDRESS} "
    command += " ".join(shlex.quote(a) for a in arguments)
    done = cluster.notebook.exec(["sh", "-c", command], timeout=300)
    assert done.exit_code == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_workers_read_gsi_protected_root_urls_once_the_proxy_is_shipped(
    cms_images: CmsImages, cms_cluster: Any, storage_image: str, tmp_path: Path
) -> None:
    creds = credentials.make(tmp_path / "creds")
    cvmfs = credentials.fake_cvmfs(tmp_path / "cvmfs", creds, ROOT / "images" / "cms" / "grid")
    worker = cms_images["worker"]["reference"]
    with cms_cluster(grid=GridOptions(cvmfs=cvmfs)) as cluster:
        host = cluster.run.name("storage")
        files = gsi.server_files(tmp_path / "storage", creds, host)
        generated = generate(cluster, worker, SPEC)
        assert generated.exit_code == 0, generated.stderr[-2000:]
        storage = gsi.start_storage(cluster, storage_image, files)
        assert storage.name == host
        urls = [f"root://{host}:{PORT}/{DATA}/ds/ds_{i:03d}.root" for i in range(SPEC.files)]

        # Every start path took the CA directory from the mounted CVMFS.
        before = _client(cluster, "state", "2")
        assert {s["cert_dir"] for s in before.values()} == {CVMFS_CA}
        assert all(s["path"] is None for s in before.values())

        # 1. No proxy: one line naming the URL and GSI's complaint; a worker that tries is
        #    refused too (and its GSI has now taken its proxy path: the renewal case).
        refused = run_mode(cluster.notebook, "dask", tmp_path / "no-proxy", urls)
        assert refused.report is None
        assert f"cannot open {urls[0]}: [FATAL] Auth failed" in refused.problem, refused.problem
        assert "ship_proxy" in refused.problem
        assert "error" in _client(cluster, "read-on", f"worker-1 {urls[0]}")

        # 2. One call ships it (the preload is off: this is the explicit path), and both
        #    workers read, the one that was refused before included.
        proxy_data = creds.proxy.read_bytes()
        cluster.notebook.put_file("/tmp", "x509up_u1000", proxy_data, mode=0o600, owner=1000)
        shipped = _client(cluster, "ship", env="AFENV_SHIP_PROXY=0")
        assert shipped["shipped"].startswith("X509 proxy /tmp/x509up_u1000: " + credentials.USER_DN)
        for name in ("worker-1", "worker-2"):
            read = _client(cluster, "read-on", f"{name} {urls[0]}", env="AFENV_SHIP_PROXY=0")
            assert read == {"entries": SPEC.events // SPEC.files}, read
        remote = run_mode(cluster.notebook, "dask", tmp_path / "root", urls)
        assert remote.report is not None, remote.problem
        local = run_mode(cluster.notebook, "dask", tmp_path / "paths")
        assert local.report is not None, local.problem
        assert remote.report["events"] == local.report["events"] == SPEC.events
        assert remote.report["cutflow"] == local.report["cutflow"]
        assert remote.report["histogram"] == local.report["histogram"]

        # 3. A worker that joins later gets the proxy from the scheduler, and reads.
        cluster.start(worker, "worker-3", worker_command(3))
        read = _client(cluster, "read-on", f"worker-3 {urls[1]}", env="AFENV_SHIP_PROXY=0")
        assert read == {"entries": SPEC.events // SPEC.files}, read

        # 4. An expired proxy never leaves the client.
        cluster.notebook.put_file(
            "/tmp", "expired", creds.expired_proxy.read_bytes(), mode=0o600, owner=1000
        )
        expired = _client(cluster, "ship", "/tmp/expired", env="AFENV_SHIP_PROXY=0")
        assert "expired at" in expired["refused"]
        assert "voms-proxy-init" in expired["refused"]

        # 5. Every worker: its own 0600 copy, owned by the images' user, the valid proxy still;
        #    XRootD's GSI is the ROOT wheel's own plugin.
        states = _client(cluster, "state", "3")
        assert len(states) == 3
        for state in states.values():
            assert state["mode"] == 0o600
            assert state["uid"] == 1000
            assert state["sha256"] == hashlib.sha256(proxy_data).hexdigest()
            assert state["cert_dir"] == CVMFS_CA
            assert [Path(p).name for p in state["gsi"]] == ["libXrdSecgsi-5.so"]
            assert "/site-packages/ROOT/" in state["gsi"][0]

        # 6. The server authenticated the test user by DN.
        log = storage.log()
    assert f"mapping DN '{credentials.USER_DN}' to 'afenvtest'" in log, log[-3000:]

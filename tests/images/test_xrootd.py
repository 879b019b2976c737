"""root:// across containers, as on a facility: the built cms pair reads the benchmark sample
from an XRootD server in a container of its own (the storage), over the cluster's network.

The distributed run (client in the singleuser image, two workers from the worker image) over
root:// URLs must give the cutflow and histogram of the same files read as local paths.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from afenv.benchmark import generate, run_mode
from afenv.cluster import DATA, Cluster
from afenv.spec import BenchmarkSpec
from afenv.testing import xrootd as xrootd_server
from afenv.testing.gsi import wait_for_port

pytestmark = pytest.mark.docker

SPEC = BenchmarkSpec(events=20_000, files=2, seed=5)
XROOTD_PORT = 1094
TIMEOUT = 900
CmsImages = dict[str, dict[str, Any]]


def _start_storage(cluster: Cluster, image: str) -> str:
    """An xrootd exporting the sample read-only; returns the host name the cluster reaches it by."""
    config = (
        f"xrd.port {XROOTD_PORT}\\nall.export {DATA}/ds r/o\\n"
        "all.adminpath /tmp/xrootd\\nall.pidpath /tmp/xrootd\\n"
    )
    server = cluster.start(
        image,
        "storage",
        [
            "sh",
            "-c",
            f"mkdir -p /tmp/xrootd && cd /tmp/xrootd && printf '{config}' > xrootd.cfg"
            " && exec xrootd -c xrootd.cfg -n afenv-storage",
        ],
    )
    wait_for_port(cluster, server, XROOTD_PORT)
    return server.name


def test_distributed_run_reads_root_urls_from_a_storage_container(
    cms_images: CmsImages, cms_cluster: Any, storage_image: str, tmp_path: Path
) -> None:
    worker = cms_images["worker"]["reference"]
    with cms_cluster() as cluster:
        generated = generate(cluster, worker, SPEC)
        assert generated.exit_code == 0, generated.stderr[-2000:]
        host = _start_storage(cluster, storage_image)
        urls = [
            f"root://{host}:{XROOTD_PORT}/{DATA}/ds/ds_{index:03d}.root"
            for index in range(SPEC.files)
        ]
        # The premise: a worker reads these through the server, not from its own /data mount.
        opened = cluster.workers[0].exec(
            xrootd_server.opened_as_command("python3", urls[0]), timeout=120
        )
        assert opened.stdout.strip() == "root", opened.stderr[-2000:]

        remote = run_mode(cluster.notebook, "dask", tmp_path / "urls", urls)
        assert remote.report is not None, remote.problem
        local = run_mode(cluster.workers[0], "local", tmp_path / "paths")
        assert local.report is not None, local.problem

    assert remote.report["settings"]["inputs"] == urls
    assert remote.report["events"] == local.report["events"] == SPEC.events
    assert remote.report["cutflow"] == local.report["cutflow"]
    assert remote.report["histogram"] == local.report["histogram"]
    saved = json.loads((tmp_path / "urls" / "distributed" / "report.json").read_text())
    assert saved["mode"] == "dask"

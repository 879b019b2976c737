"""Harvesting when the workers share a filesystem (a LocalCluster, a shared /tmp on a facility).

Every worker then sees every partial file, and ``client.run`` reads and removes on all workers at
once: each file must come back once, be removed, and the workers' race must not be an error.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from afenv_runtime import harvest

pytestmark = pytest.mark.dask


def test_workers_sharing_a_filesystem_return_each_file_once(tmp_path: Path) -> None:
    from distributed import Client, LocalCluster

    on_workers = tmp_path / "workers"
    on_workers.mkdir()
    # Enough files that the two workers' removals collide on some (5 runs of 5 before the fix).
    written = {on_workers / f"out_{n}.root": f"partial {n}".encode() * 100 for n in range(400)}
    for path, data in written.items():
        path.write_bytes(data)
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        copies = harvest.fetch(client, [str(p) for p in written], tmp_path / "client")
    assert [copy.name for copy in copies] == [path.name for path in written]
    assert [copy.read_bytes() for copy in copies] == list(written.values())
    assert not any(path.exists() for path in written)

"""Grid fixtures: real test credentials (openssl, xrdgsiproxy) and a real Dask cluster of
worker processes, both per module."""

from __future__ import annotations

import pytest

from afenv.testing import credentials


@pytest.fixture(scope="module")
def grid_credentials(tmp_path_factory) -> credentials.Credentials:
    return credentials.make(tmp_path_factory.mktemp("grid"))


@pytest.fixture
def dask_client():
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(2)
        yield client, cluster

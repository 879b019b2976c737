"""`afenv bench ds` on the host runs the benchmark inside the built cms pair."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import uproot

from .conftest import afenv

pytestmark = pytest.mark.docker


@pytest.mark.usefixtures("cms_images")
def test_bench_ds_three_modes_agree_in_the_built_pair(tmp_path: Path) -> None:
    report = tmp_path / "bench"
    result = afenv(
        "bench",
        "ds",
        "cms",
        "--events",
        "20000",
        "--files",
        "2",
        "--seed",
        "3",
        "--modes",
        "local,dask,legacy",
        "--report",
        str(report),
        "--json",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads(result.stdout)
    assert data["modes_agree"] is True
    modes = data["modes"]
    assert set(modes) == {"local", "distributed", "legacy"}
    cutflows = {tuple(r["cutflow"]) for r in modes.values()}
    assert len(cutflows) == 1
    assert next(iter(cutflows))[0] == 20_000
    assert len({tuple(r["histogram"]["counts"]) for r in modes.values()}) == 1
    # Harvested from the worker containers back to the client, then out to the host.
    with uproot.open(report / "distributed" / "selected.root") as selected:
        assert selected["selected"].num_entries == modes["distributed"]["selected"]
    assert (report / "logs").is_dir()


def test_bench_unknown_mode_is_one_line() -> None:
    result = afenv("bench", "ds", "cms", "--modes", "local,gpu")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "afenv: error: --modes: unknown mode(s) ['gpu']; use local, dask, legacy"
    )

"""A plain distributed Snapshot in the cms pair (no shared filesystem, as on a facility without
one): the notebook image's preload turns ROOT's GetBranchNames failure into one line that says
where the files are and what to call; the harvesting one-liner brings them back."""

from __future__ import annotations

import re
from typing import Any

import pytest

pytestmark = pytest.mark.docker

_SCRIPT = r"""
import warnings
warnings.filterwarnings("ignore", message=".*alpha stage.*", category=UserWarning)
import ROOT
from distributed import Client
from afenv_runtime import harvest
client = Client("tcp://scheduler:8786", timeout=60)
client.wait_for_workers(2, timeout=180)
df = ROOT.RDataFrame(1000, executor=client, npartitions=2).Define("x", "rdfentry_ * 1.0")
try:
    df.Snapshot("t", "/tmp/afenv-plain.root", ["x"])
except OSError as error:
    print(f"{type(error).__name__}: {error}")
path = harvest.snapshot(client, df, "t", "/tmp/harvested.root", ["x"])
print("harvested", len(harvest.arrays(path, "t", ["x"])["x"]))
"""


def test_plain_distributed_snapshot_is_one_clear_line(cms_cluster: Any) -> None:
    with cms_cluster() as cluster:
        done = cluster.notebook.exec(["python3", "-c", _SCRIPT], timeout=300)
    assert done.exit_code == 0, done.stderr[-3000:]
    # Distributed RDataFrame draws a progress bar with carriage returns and ANSI erasures.
    lines = [
        part
        for part in re.split(r"[\r\n]|\x1b\[2K", done.stdout)
        if part.startswith(("SnapshotNotHere", "harvested"))
    ]
    assert lines[0].startswith(
        "SnapshotNotHere: the distributed Snapshot wrote 2 files on the workers (/tmp/afenv-plain_"
    ), done.stdout
    assert lines[0].endswith("— use afenv_runtime.harvest.snapshot(client, df, tree, 'out.root',"
                             " columns) to bring them to the client")  # fmt: skip
    assert "GetBranchNames" not in done.stdout + done.stderr
    assert lines[1] == "harvested 1000"

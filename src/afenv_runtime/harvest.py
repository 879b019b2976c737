"""Bring outputs written on Dask workers back to the client, with no shared filesystem assumed.

A distributed ``Snapshot`` writes one file per task on whichever worker ran it:
``<stem>_<n>.root`` for ``Snapshot(tree, "<stem>.root", ...)``. Users cannot reach those files,
and ROOT itself then fails: once the computation is done, distributed RDataFrame opens the partial
files *on the client* to return a new dataframe ("GetBranchNames: error in opening the tree").

``snapshots_to_client`` fixes both: while it is active, each distributed Snapshot result first
copies its partial files from the workers (over the Dask connection, once each, then deletes
them there) into a client folder, and ROOT continues with those copies::

    with harvest.snapshots_to_client(client, Path("out")) as copies:
        # df = ROOT.RDataFrame(..., executor=client)
        df.Snapshot("selected", harvest.scratch_path("selected"), ["run", "evt"])
        ...GetValue()                                  # triggers the distributed computation
    harvest.merge(copies, Path("selected.root"))
    arrays = harvest.arrays("selected.root", "selected", ["run", "evt"])

Or in one line, which runs the computation and returns the merged file on the client::

    path = harvest.snapshot(client, df, "selected", "selected.root", ["run", "evt"])

It suits selected-event outputs of up to a few hundred MB, not full skims. For small outputs,
distributed ``AsNumpy`` already returns arrays to the client; ``arrays`` gives the same from a
harvested file.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["arrays", "fetch", "merge", "scratch_path", "snapshot", "snapshots_to_client"]

SCRATCH_DIRECTORY = (
    "/tmp"  # exists on every Linux worker, unlike the client's tempfile.gettempdir()
)


def scratch_path(stem: str, directory: str = SCRATCH_DIRECTORY) -> str:
    """A unique absolute file name for a distributed Snapshot; it names files on the workers."""
    return f"{directory}/afenv-{stem}-{uuid.uuid4().hex}.root"


def fetch(client: Any, paths: list[str], destination: Path) -> list[Path]:
    """Copy the named files from the workers that hold them into ``destination``, then delete
    them on the workers."""
    destination.mkdir(parents=True, exist_ok=True)
    held: dict[str, dict[str, bytes]] = client.run(_read_files, sorted(paths))
    copies: dict[str, Path] = {}
    for _, contents in sorted(held.items()):
        for path, data in contents.items():
            if path not in copies:  # a shared filesystem shows a file to several workers
                copy = destination / Path(path).name
                copy.write_bytes(data)
                copies[path] = copy
    client.run(_remove_paths, sorted(paths))
    missing = sorted(set(paths) - set(copies))
    if missing:
        raise OSError(f"no worker holds {missing[0]} (a worker left before harvesting?)")
    return sorted(copies.values(), key=_task_number)


@contextlib.contextmanager
def snapshots_to_client(client: Any, destination: Path) -> Iterator[list[Path]]:
    """While active, distributed Snapshot results are harvested into ``destination``.

    Yields the list that receives the local copies. It wraps the client-side step of ROOT's
    distributed Snapshot (``SnapshotResult.GetValue``, ROOT 6.32+), which assumes that the
    client can open the workers' files; the original is restored on exit.
    """
    from ROOT._distrdf.PythonMergeables import SnapshotResult

    original = SnapshotResult.GetValue
    copies: list[Path] = []

    def get_value(self: Any, backend: Any) -> Any:
        local = fetch(client, list(self.filenames), destination)
        copies.extend(local)
        self.filenames = [str(path) for path in local]
        return original(self, backend)

    SnapshotResult.GetValue = get_value
    try:
        yield copies
    finally:
        SnapshotResult.GetValue = original


def snapshot(
    client: Any, df: Any, tree: str, out: str | Path, columns: list[str] | None = None
) -> Path:
    """``df.Snapshot(tree, …, columns)`` on a distributed RDataFrame, harvested and merged into
    ``out`` on the client (where ROOT's own would leave one file per task on the workers)."""
    import tempfile

    target = Path(out)
    selection = (list(columns),) if columns else ()  # no list: every column
    name = scratch_path(target.stem)
    with tempfile.TemporaryDirectory(prefix="afenv-snapshot-") as scratch:
        with snapshots_to_client(client, Path(scratch)) as copies:
            df.Snapshot(tree, name, *selection)
        # The same computation may also run other Snapshots still booked on this dataframe
        # (one whose result failed before): merge this one's files only.
        ours = [copy for copy in copies if copy.name.startswith(f"{Path(name).stem}_")]
        return merge(ours, target)


def merge(paths: list[Path], out: Path) -> Path:
    """Merge ROOT files into ``out`` like hadd; no files give an empty file."""
    import ROOT

    out.parent.mkdir(parents=True, exist_ok=True)
    if not paths:
        empty = ROOT.TFile(str(out), "RECREATE")
        empty.Close()
        return out
    merger = ROOT.TFileMerger(False, False)
    merger.SetPrintLevel(0)
    if not merger.OutputFile(str(out), "RECREATE"):
        raise OSError(f"cannot create {out}")
    for path in paths:
        if not merger.AddFile(str(path), False):
            raise OSError(f"cannot read harvested file {path}")
    if not merger.Merge():
        raise OSError(f"merging {len(paths)} files into {out} failed")
    return out


def arrays(path: Path | str, tree: str, columns: list[str]) -> dict[str, Any]:
    """The columns of a (harvested) file as numpy arrays; empty arrays if it holds no tree."""
    import numpy as np
    import ROOT

    root_file = ROOT.TFile.Open(str(path))
    try:
        has_tree = bool(root_file.Get(tree))
    finally:
        root_file.Close()
    if not has_tree:
        return {column: np.array([]) for column in columns}
    return {k: np.asarray(v) for k, v in ROOT.RDataFrame(tree, str(path)).AsNumpy(columns).items()}


def _task_number(path: Path) -> int:
    match = re.search(r"_(\d+)\.root$", path.name)
    return int(match.group(1)) if match else -1


# The functions below run on the workers (client.run pickles them by reference to this module),
# all at once: workers that share a filesystem (a LocalCluster, a shared /tmp) see the same files
# and race each other, so a file another worker removed first is not an error.
def _read_files(paths: list[str]) -> dict[str, bytes]:
    contents = {}
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            contents[path] = Path(path).read_bytes()
    return contents


def _remove_paths(paths: list[str]) -> int:
    removed = 0
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            Path(path).unlink()
            removed += 1
    return removed

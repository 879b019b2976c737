"""Bring outputs written on Dask workers back to the client, with no shared filesystem assumed.

A distributed ``Snapshot`` writes one file per task on whichever worker ran it: ``<stem>_<n>.root``
for ``Snapshot(tree, "<stem>.root", ...)``. Users cannot reach those files. ``harvest`` finds them
on every worker, copies each file once over the Dask connection (so it suits selected-event
outputs of up to a few hundred MB, not full skims), deletes them from the workers and merges
them into one ROOT file on the client, ordered by task number::

    target = harvest.scratch_path("selected")           # e.g. /tmp/afenv-selected-<uuid>.root
    df.Snapshot("selected", target, ["run", "evt"])   # df = ROOT.RDataFrame(..., executor=client)
    harvest.harvest(client, target, "selected.root", tree="selected")
    arrays = harvest.arrays("selected.root", "selected", ["run", "evt"])

For small outputs, distributed ``AsNumpy`` already returns arrays to the client; ``arrays`` gives
the same from a harvested file. If workers do share a filesystem, every file is still copied once.
"""

from __future__ import annotations

import glob
import re
import tempfile
import uuid
from pathlib import Path
from typing import Any

__all__ = ["arrays", "collect", "harvest", "merge", "scratch_path"]

SCRATCH_DIRECTORY = (
    "/tmp"  # exists on every Linux worker, unlike the client's tempfile.gettempdir()
)


def scratch_path(stem: str, directory: str = SCRATCH_DIRECTORY) -> str:
    """A unique absolute file name for a distributed Snapshot; it names files on the workers."""
    return f"{directory}/afenv-{stem}-{uuid.uuid4().hex}.root"


def collect(client: Any, snapshot_path: str, destination: Path) -> list[Path]:
    """Copy the partial files of ``snapshot_path`` from the workers into ``destination``, once each.

    Returns the local copies ordered by task number, and removes the files from the workers.
    """
    pattern = _partial_pattern(snapshot_path)
    listings: dict[str, list[str]] = client.run(_list_files, pattern)
    owner: dict[str, str] = {}
    for worker, paths in sorted(listings.items()):
        for path in paths:
            owner.setdefault(path, worker)
    destination.mkdir(parents=True, exist_ok=True)
    copies = []
    for worker in sorted(set(owner.values())):
        wanted = sorted(path for path, held_by in owner.items() if held_by == worker)
        contents: dict[str, bytes] = client.run(_read_files, wanted, workers=[worker])[worker]
        for path, data in contents.items():
            copy = destination / Path(path).name
            copy.write_bytes(data)
            copies.append(copy)
    client.run(_remove_files, pattern)
    return sorted(copies, key=_task_number)


def merge(paths: list[Path], out: Path, *, tree: str) -> Path:
    """Merge ROOT files holding ``tree`` into ``out`` like hadd; no files give an empty file."""
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


def harvest(client: Any, snapshot_path: str, out: Path | str, *, tree: str) -> Path:
    """Collect the partial files of a distributed Snapshot and merge them into ``out``."""
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="afenv-harvest-") as scratch:
        return merge(collect(client, snapshot_path, Path(scratch)), out, tree=tree)


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


def _partial_pattern(snapshot_path: str) -> str:
    stem = snapshot_path.partition(".root")[0]
    return f"{glob.escape(stem)}_*.root"


def _task_number(path: Path) -> int:
    match = re.search(r"_(\d+)\.root$", path.name)
    return int(match.group(1)) if match else -1


# The functions below run on the workers (client.run pickles them by reference to this module).
def _list_files(pattern: str) -> list[str]:
    return sorted(str(path) for path in _matches(pattern))


def _read_files(paths: list[str]) -> dict[str, bytes]:
    return {path: Path(path).read_bytes() for path in paths if Path(path).is_file()}


def _remove_files(pattern: str) -> int:
    removed = 0
    for path in _matches(pattern):
        path.unlink(missing_ok=True)
        removed += 1
    return removed


def _matches(pattern: str) -> list[Path]:
    pattern_path = Path(pattern)  # only the file name part holds wildcards
    return list(pattern_path.parent.glob(pattern_path.name))

"""Turning ``--input`` arguments into a checked list of files with the expected tree and branches.

Local paths and globs are expanded here; ``root://`` and other URLs go to ROOT as they are. Every
file is opened once before the analysis so a bad input is reported as one line naming the file,
tree or branch, rather than as a C++ exception from deep inside an event loop.
"""

from __future__ import annotations

import glob
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from afenv_bench import _root
from afenv_bench.errors import InputError

__all__ = ["BRANCH_TYPES", "DEFAULT_TREE", "Dataset", "resolve"]

DEFAULT_TREE = "Tree3Mu/ntuple"

# Branch → accepted ROOT types. run/lumi/evt may be any integer type: the analysis casts them.
_INTEGERS = ("UInt_t", "Int_t", "ULong64_t", "Long64_t", "UShort_t", "Short_t")
BRANCH_TYPES: dict[str, tuple[str, ...]] = {
    "run": _INTEGERS,
    "lumi": _INTEGERS,
    "evt": _INTEGERS,
    "Trigger_hltname": ("vector<string>",),
    "Trigger_hltdecision": ("vector<int>",),
    "Trigger_l1name": ("vector<string>",),
    "Trigger_l1decision": ("vector<int>",),
    "Muon_isGlobal": ("vector<bool>",),
    "Muon_isPF": ("vector<bool>",),
    "RefittedPV2_NTracks": ("vector<int>",),
    **{
        name: ("vector<double>",)
        for name in (
            "MuonPt", "MuonEta", "MuonPhi",
            "TrackPt", "TrackEta", "TrackPhi", "Track_dz", "Track_dxy",
            "Triplet2_Mass", "FlightDistBS_SV_Significance", "TripletVtx2_Chi2",
            "Mu01_Pt", "Mu01_Eta", "Mu01_Phi", "Mu02_Pt", "Mu02_Eta", "Mu02_Phi", "Tr_Pt", "Tr_Eta",
            "Tr_Phi", "RefTrack1_Pt", "RefTrack1_Eta", "RefTrack1_Phi", "RefTrack2_Pt",
            "RefTrack2_Eta", "RefTrack2_Phi",
        )
    },
}  # fmt: skip
TRUTH_BRANCH = "gen_kind"


@dataclass(frozen=True, kw_only=True)
class Dataset:
    """Checked inputs: file names as ROOT should open them, and what we learnt opening them."""

    files: list[str]
    tree: str
    entries: int
    size_bytes: int
    id_types: dict[str, str]  # run/lumi/evt → ROOT type name in the input
    has_truth: bool  # the generator's gen_kind branch is present in every file


def resolve(arguments: list[str], tree: str = DEFAULT_TREE) -> Dataset:
    files = _expand(arguments)
    ROOT = _root.root()
    entries = size = 0
    id_types: dict[str, str] = {}
    has_truth = True
    for name in files:
        root_file, reason = _open(ROOT, name)
        if not root_file or root_file.IsZombie():
            raise InputError(
                f"cannot open {name}{': ' + reason if reason else ''} — {_hint(reason)}"
            )
        try:
            ntuple = root_file.Get(tree)
            if not ntuple or not ntuple.InheritsFrom("TTree"):
                raise InputError(f"{name} has no tree {tree} — pass --tree with the right name")
            for branch_name, accepted in BRANCH_TYPES.items():
                found = _branch_type(ntuple, branch_name)
                if found is None:
                    raise InputError(
                        f"{name}: tree {tree} has no branch {branch_name}"
                        " — the Ds benchmark needs it"
                    )
                if found not in accepted:
                    raise InputError(
                        f"{name}: branch {branch_name} is {found}, expected {' or '.join(accepted)}"
                        " — regenerate the ntuple with the CMS Tree3Mu schema"
                    )
                if branch_name in ("run", "lumi", "evt"):
                    id_types.setdefault(branch_name, found)
            has_truth = has_truth and _branch_type(ntuple, TRUTH_BRANCH) == "vector<int>"
            entries += ntuple.GetEntries()
            size += root_file.GetSize()
        finally:
            root_file.Close()
    return Dataset(
        files=files,
        tree=tree,
        entries=entries,
        size_bytes=size,
        id_types=id_types,
        has_truth=has_truth,
    )


def _open(ROOT: Any, name: str) -> tuple[Any, str]:
    """TFile.Open that reports failure as (None, ROOT's reason), without ROOT's own error lines.

    ROOT 6.40 raises OSError for an unopenable URL, after printing the reason (XRootD's status:
    "[FATAL] Auth failed: …", "[ERROR] Server responded with an error: [3010] …") as an
    ``Error in <…>`` line on stderr, the only place it gives it. That line is captured at the
    file descriptor, where ROOT writes it, so the caller can say it in its one line.
    """
    with tempfile.TemporaryFile() as captured:
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            root_file = ROOT.TFile.Open(name, "READ")
        except OSError:
            root_file = None
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        captured.seek(0)
        lines = captured.read().decode(errors="replace").splitlines()
    reasons = [line.split(">: ", 1)[1] for line in lines if line.startswith("Error in <")]
    if root_file is not None and not root_file.IsZombie():
        for line in lines:  # not ours to swallow
            print(line, file=sys.stderr)
        return root_file, ""
    return None, " ".join(reasons[-1].split())[:300] if reasons else ""


def _hint(reason: str) -> str:
    if "Auth failed" in reason or "authentication" in reason.lower():
        return (
            "the server wants a grid proxy: voms-proxy-init, then ship it to the workers"
            " (afenv_runtime.grid.ship_proxy)"
        )
    return "check the path or URL and that it is a ROOT file"


def _expand(arguments: list[str]) -> list[str]:
    if not arguments:
        raise InputError("no input given — pass --input PATH|GLOB|URL")
    files: list[str] = []
    for argument in arguments:
        if "://" in argument:
            files.append(argument)
        elif glob.has_magic(argument):
            # Users' globs may have wildcards in directories too, which Path.glob cannot start from.
            matches = sorted(glob.glob(argument))  # noqa: PTH207
            if not matches:
                raise InputError(f"no file matches {argument} — check the pattern")
            files.extend(str(Path(match).resolve()) for match in matches)
        else:
            path = Path(argument)
            if not path.is_file():
                raise InputError(f"input file {argument} does not exist — check the path")
            files.append(str(path.resolve()))
    return files


def _branch_type(tree, name: str) -> str | None:
    branch = tree.GetBranch(name)
    if not branch:
        return None
    class_name = branch.GetClassName()
    if class_name:
        return str(class_name).replace("std::", "")
    leaf = branch.GetLeaf(name) or branch.GetListOfLeaves().At(0)
    return str(leaf.GetTypeName()) if leaf else "unknown"

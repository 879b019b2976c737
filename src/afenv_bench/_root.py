"""The one place that imports ROOT and loads our C++ helpers into its interpreter.

ROOT is imported lazily so ``afenv-bench --help`` and the report renderer work without it.
"""

from __future__ import annotations

import functools
import os
import re
from importlib import resources
from pathlib import Path
from typing import Any

CPP_DIR = Path(str(resources.files("afenv_bench") / "cpp"))
SELECTION_HEADER = CPP_DIR / "ds_selection.h"
WRITER_HEADER = CPP_DIR / "ds_writer.h"
LEGACY_SOURCE = CPP_DIR / "ds_legacy.C"

_XROOTD_URL = re.compile(r"^x?roots?://", re.IGNORECASE)

# ROOT opens a root:// URL whose host is this machine as a plain local file when the path is
# readable here (TFile::GetType's locality shortcut), and then names the file by its path alone.
# Distributed RDataFrame (6.40) keys each task's samples by "<URL>/<tree>" and looks them up by
# "<file name>/<tree>", so a worker on the XRootD server's host fails with "Full sample identifier
# '/path/f.root/Tree3Mu/ntuple' cannot be found". TFile.ForceRemote turns the shortcut off: every
# process reads a root:// URL through the server, as the URL says. DistributeCppCode declares this
# in every worker process (and here) once; declaring it runs the initialiser.
_FORCE_REMOTE_CODE = """
#include "TEnv.h"
namespace afenv_bench_io {
inline const bool xrootd_force_remote = [] {
   gEnv->SetValue("TFile.ForceRemote", 1);
   return true;
}();
}
"""


@functools.cache
def root() -> Any:
    """ROOT in batch mode, with Info/Print chatter silenced (warnings and errors still show)."""
    # XRootD's client retries an unreachable server for minutes by default; a benchmark should
    # say "cannot open root://…" within seconds. Settings the user made win.
    os.environ.setdefault("XRD_CONNECTIONRETRY", "2")
    os.environ.setdefault("XRD_CONNECTIONWINDOW", "10")
    import ROOT

    ROOT.gROOT.SetBatch(True)
    ROOT.gErrorIgnoreLevel = ROOT.kWarning
    # RooFit prints a banner on first use; it is noise in a benchmark log.
    ROOT.gEnv.SetValue("RooFit.Banner", 0)
    return ROOT


def declare_header(path: Path) -> None:
    """Make the declarations of a header of ours available to cling in this process."""
    ROOT = root()
    if not ROOT.gInterpreter.Declare(f'#include "{path}"'):
        from afenv_bench.errors import AnalysisError

        raise AnalysisError(
            f"cling cannot compile {path} — check the ROOT installation (g++/headers)"
        )


def is_xrootd_url(name: str) -> bool:
    return bool(_XROOTD_URL.match(name))


def distribute_xrootd_remote_reads() -> None:
    """Make distributed RDataFrame read root:// URLs through the server on every worker.

    Needed only when inputs are root:// URLs; see ``_FORCE_REMOTE_CODE`` for why.
    """
    root().RDF.Distributed.DistributeCppCode(_FORCE_REMOTE_CODE)

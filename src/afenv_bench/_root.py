"""The one place that imports ROOT and loads our C++ helpers into its interpreter.

ROOT is imported lazily so ``afenv-bench --help`` and the report renderer work without it.
"""

from __future__ import annotations

import functools
import os
from importlib import resources
from pathlib import Path
from typing import Any

CPP_DIR = Path(str(resources.files("afenv_bench") / "cpp"))
SELECTION_HEADER = CPP_DIR / "ds_selection.h"
WRITER_HEADER = CPP_DIR / "ds_writer.h"
LEGACY_SOURCE = CPP_DIR / "ds_legacy.C"


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

"""The one place that imports ROOT and loads our C++ helpers into its interpreter.

ROOT is imported lazily so ``afenv-bench --help`` and the report renderer work without it.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shlex
import subprocess
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

CPP_DIR = Path(str(resources.files("afenv_bench") / "cpp"))
SELECTION_HEADER = CPP_DIR / "ds_selection.h"
WRITER_HEADER = CPP_DIR / "ds_writer.h"
LEGACY_SOURCE = CPP_DIR / "ds_legacy.C"
STEPS_SOURCE = CPP_DIR / "ds_steps.C"
STEPS_HEADER = CPP_DIR / "ds_steps.h"
GRAPH_SOURCE = CPP_DIR / "ds_rdf.C"

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


def compile_macro(source: Path) -> Path:
    """ACLiC-compile one of our C++ sources with optimisation (``-O3``, ROOT's own flags) and
    load it; returns the shared library, which distributed RDataFrame can ship to workers.

    The library lives in a per-user cache keyed by ROOT's version (the package may be read-only
    in an image); ACLiC rebuilds it only when the source is newer.
    """
    ROOT = root()
    build_dir = _build_dir()
    ROOT.gSystem.AddIncludePath(f"-I{CPP_DIR}")
    if not ROOT.gSystem.CompileMacro(str(source), "kO", "", str(build_dir)):
        from afenv_bench.errors import AnalysisError

        raise AnalysisError(
            f"ACLiC could not compile {source} in {build_dir} — is a C++ compiler (g++) installed?"
        )
    # ACLiC mirrors the source's absolute directory under the build directory.
    library = build_dir / str(source.parent).lstrip("/") / f"{source.stem}_C.so"
    if not library.is_file():
        from afenv_bench.errors import AnalysisError

        raise AnalysisError(f"ACLiC compiled {source} but left no {library}")
    return library


def _build_dir() -> Path:
    ROOT = root()
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    build_dir = cache / "afenv-bench" / f"aclic-root-{ROOT.gROOT.GetVersion().replace('/', '.')}"
    try:
        build_dir.mkdir(parents=True, exist_ok=True)
        probe = build_dir / ".writable"
        probe.touch()
    except OSError:
        build_dir = Path(tempfile.mkdtemp(prefix="afenv-bench-aclic-"))
    return build_dir


@functools.cache
def step_library() -> Path:
    """The compiled selection steps (``cpp/ds_steps.C``), loaded here; the library's path.

    Built by the C++ compiler with ROOT's own optimisation and language flags, without a ROOT
    dictionary (cling learns the declarations from ``ds_steps.h``), into a per-user cache; the
    name carries a digest of the sources and ROOT's version, so a changed selection never meets
    a stale library and a second call costs a ``dlopen``.

    Dask workers call this too (``analysis.run_on_client`` registers it with distributed
    RDataFrame's ``initialize``), each building or finding the library in its own image. The
    library is not shipped with ``DistributeSharedLibs``: ROOT 6.40 uploads shipped files again
    for every computation, rewriting in place the file the workers have loaded, and truncating
    a mapped file makes the kernel drop even the pages the loader relocated. Workers then
    crashed in the second computation, jumping through unrelocated entries.
    """
    ROOT = root()
    sources = (STEPS_SOURCE, STEPS_HEADER, SELECTION_HEADER)
    digest = hashlib.sha256()
    for path in sources:
        digest.update(path.read_bytes())
    digest.update(ROOT.gROOT.GetVersion().encode())
    library = _build_dir() / f"libafenv_ds_steps-{digest.hexdigest()[:16]}.so"
    if not library.is_file():
        _compile_plain(STEPS_SOURCE, library)
    declare_header(STEPS_HEADER)
    if ROOT.gSystem.Load(str(library)) < 0:
        from afenv_bench.errors import AnalysisError

        raise AnalysisError(f"ROOT cannot load {library} — delete it and run again")
    return library


def _compile_plain(source: Path, library: Path) -> None:
    """Compile ``source`` into a shared library with the flags ROOT's ACLiC would use."""
    ROOT = root()
    make = str(ROOT.gSystem.GetMakeSharedLib())
    standard = re.search(r"-std=\S+", make)
    command = [
        "c++",
        "-shared",
        "-fPIC",
        *shlex.split(str(ROOT.gSystem.GetFlagsOpt())),
        standard.group(0) if standard else "-std=c++17",
        f"-I{ROOT.gROOT.GetIncludeDir()}",
        f"-I{CPP_DIR}",
        str(source),
        "-o",
    ]
    partial = library.with_suffix(f".{os.getpid()}.tmp")
    try:
        done = subprocess.run([*command, str(partial)], capture_output=True, text=True, check=False)
    except OSError as error:
        from afenv_bench.errors import AnalysisError

        raise AnalysisError(
            f"cannot run the C++ compiler for {source}: {error} — is g++ installed?"
        ) from error
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        from afenv_bench.errors import AnalysisError

        first = (done.stderr.strip().splitlines() or ["no output"])[0]
        raise AnalysisError(f"the C++ compiler failed on {source}: {first}")
    partial.replace(library)  # atomic: a concurrent run sees no half-written library


@functools.cache
def local_graph() -> None:
    """Load the compiled local-mode graph (``cpp/ds_rdf.C``, class ``afenv_ds::rdf::Analysis``)."""
    step_library()
    compile_macro(GRAPH_SOURCE)


def is_xrootd_url(name: str) -> bool:
    return bool(_XROOTD_URL.match(name))


def distribute_xrootd_remote_reads() -> None:
    """Make distributed RDataFrame read root:// URLs through the server on every worker.

    Needed only when inputs are root:// URLs; see ``_FORCE_REMOTE_CODE`` for why.
    """
    root().RDF.Distributed.DistributeCppCode(_FORCE_REMOTE_CODE)

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

from afenv_bench.errors import AnalysisError

CPP_DIR = Path(str(resources.files("afenv_bench") / "cpp"))
WRITER_HEADER = CPP_DIR / "ds_writer.h"
LEGACY_SOURCE = CPP_DIR / "ds_legacy.C"
STEPS_SOURCE = CPP_DIR / "ds_steps.C"
STEPS_HEADER = CPP_DIR / "ds_steps.h"
GRAPH_SOURCE = CPP_DIR / "ds_rdf.C"
GRAPH_HEADER = CPP_DIR / "ds_rdf.h"

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
    # cling JIT-compiles at -O1 unless told otherwise. The distributed graph's string expressions
    # and the RDataFrame nodes cling instantiates for them run for every event; at -O2 its event
    # loop took 10-12 % less CPU (one process, 1 M events, alternating runs) for about 0.5 s
    # more JIT. Dask workers this process starts (--mode dask) inherit it; images' workers keep
    # ROOT's default unless the facility sets it ([env] in experiment.toml).
    os.environ.setdefault("EXTRA_CLING_ARGS", "-O2")
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
        raise AnalysisError(
            f"ACLiC could not compile {source} in {build_dir} — is a C++ compiler (g++) installed?"
        )
    # ACLiC mirrors the source's absolute directory under the build directory.
    library = build_dir / str(source.parent).lstrip("/") / f"{source.stem}_C.so"
    if not library.is_file():
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


# Where an image keeps the libraries it built at image build time (afenv-bench ds prepare), so
# that containers never compile; unset or missing, the per-user cache serves.
PREBUILT_ENV = "AFENV_BENCH_PREBUILT"
_PLAIN = {  # our plain (dictionary-free) libraries: name -> (source, header cling needs)
    "afenv_ds_steps": (STEPS_SOURCE, STEPS_HEADER),
    "afenv_ds_graph": (GRAPH_SOURCE, GRAPH_HEADER),
}


@functools.cache
def step_library() -> Path:
    """The compiled selection steps (``cpp/ds_steps.C``), loaded here; the library's path.

    Dask workers call this too (``analysis.run_on_client`` registers it with distributed
    RDataFrame's ``initialize``), each finding (or building) the library in its own image. The
    library is not shipped with ``DistributeSharedLibs``: ROOT 6.40 uploads shipped files again
    for every computation, rewriting in place the file the workers have loaded, and truncating
    a mapped file makes the kernel drop even the pages the loader relocated. Workers then
    crashed in the second computation, jumping through unrelocated entries.
    """
    return _load_plain("afenv_ds_steps")


@functools.cache
def local_graph() -> None:
    """Load the compiled local-mode graph (``cpp/ds_rdf.C``, class ``afenv_ds::rdf::Analysis``)."""
    step_library()
    _load_plain("afenv_ds_graph")


def prepare(directory: Path) -> list[Path]:
    """Build every plain library into ``directory`` (an image does this at build time)."""
    built = []
    for name in _PLAIN:
        library = directory / _library_name(name)
        if not library.is_file():
            directory.mkdir(parents=True, exist_ok=True)
            _compile_plain(_PLAIN[name][0], library)
        built.append(library)
    return built


def _library_name(name: str) -> str:
    """``lib<name>-<digest>.so``: the digest covers the source, every header of ours and ROOT's
    version, so a changed selection never meets a stale library."""
    digest = hashlib.sha256(_PLAIN[name][0].read_bytes())
    for header in sorted(CPP_DIR.glob("*.h")):
        digest.update(header.read_bytes())
    digest.update(root().gROOT.GetVersion().encode())
    return f"lib{name}-{digest.hexdigest()[:16]}.so"


def _load_plain(name: str) -> Path:
    """Built by the C++ compiler with ROOT's own optimisation and language flags, without a ROOT
    dictionary (cling learns the declarations from the header; ACLiC's dictionary generation
    tripled the compile time of the graph); found prebuilt in the image or in the per-user
    cache, else compiled into the cache."""
    ROOT = root()
    filename = _library_name(name)
    prebuilt = os.environ.get(PREBUILT_ENV)
    library = Path(prebuilt) / filename if prebuilt else None
    if library is None or not library.is_file():
        library = _build_dir() / filename
        if not library.is_file():
            _compile_plain(_PLAIN[name][0], library)
    declare_header(_PLAIN[name][1])
    if ROOT.gSystem.Load(str(library)) < 0:
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
        raise AnalysisError(
            f"cannot run the C++ compiler for {source}: {error} — is g++ installed?"
        ) from error
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        first = (done.stderr.strip().splitlines() or ["no output"])[0]
        raise AnalysisError(f"the C++ compiler failed on {source}: {first}")
    partial.replace(library)  # atomic: a concurrent run sees no half-written library


def is_xrootd_url(name: str) -> bool:
    return bool(_XROOTD_URL.match(name))


def distribute_xrootd_remote_reads() -> None:
    """Make distributed RDataFrame read root:// URLs through the server on every worker.

    Needed only when inputs are root:// URLs; see ``_FORCE_REMOTE_CODE`` for why.
    """
    root().RDF.Distributed.DistributeCppCode(_FORCE_REMOTE_CODE)

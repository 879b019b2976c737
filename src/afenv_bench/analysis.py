"""The Ds⁺→φ(μμ)π⁺ selection run three ways, with identical cutflow and histogram.

* ``local``: RDataFrame with implicit multithreading; the graph is booked in compiled C++
  (``cpp/ds_rdf.C``), so nothing is JIT-compiled and no Python-side template is instantiated;
* ``dask``: distributed RDataFrame (``ROOT.RDataFrame(..., executor=client)``), the same graph
  booked from Python (``_book``) with string expressions that only call the compiled steps,
  which every worker loads before its first task (and, for ``root://`` inputs, ROOT's
  locality shortcut turned off there: see ``_root``);
* ``legacy``: the compiled single-threaded TTreeReader loop of ``cpp/ds_legacy.C``.

All three apply the cuts of ``cpp/ds_selection.h``, compiled with optimisation: the legacy loop
candidate by candidate, RDataFrame step by step (``cpp/ds_steps.C``) behind one filter per step,
so an event's columns are read only once a candidate reached the step that needs them (trigger
first, candidates after), as TTreeReader does in the legacy loop.

Harvested output (``harvest``): one ROOT file with tree ``selected`` holding ``run`` (UInt_t),
``lumi`` (UInt_t), ``evt`` (ULong64_t) and ``BestTriplet_mass`` (double), one entry per selected
event, whatever the integer types of the input.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from afenv_bench import _root
from afenv_bench.errors import AnalysisError, ClusterError, InputError
from afenv_bench.inputs import Dataset

__all__ = ["HISTOGRAM", "MODES", "AnalysisResult", "run"]

MODES = ("local", "dask", "legacy")
HISTOGRAM = {"bins": 62, "low": 1.70, "high": 2.05}
STEPS = 6
HARVEST_TREE = "selected"
WORKER_WAIT_S = 60.0  # how long a run waits for the first Dask worker
HARVEST_COLUMNS = ("run", "lumi", "evt", "BestTriplet_mass")

_NS = "afenv_ds::rdf::"
# The selection steps after the trigger, in order: (mask column, call). Each call takes the mask
# of the step before it (the first takes none) and the columns that step alone needs, so an
# event's columns are read only once a candidate reached that step.
_STEPS = (
    ("afenv_window", "window(Triplet2_Mass, RefittedPV2_NTracks, FlightDistBS_SV_Significance)"),
    ("afenv_acceptance", "acceptance({}, Mu01_Pt, Mu01_Eta, Mu02_Pt, Mu02_Eta, Tr_Pt)"),
    ("afenv_separation", "separation({}, Mu01_Eta, Mu01_Phi, Mu02_Eta, Mu02_Phi, Tr_Eta, Tr_Phi)"),
    (
        "afenv_quality",
        "quality({}, Mu01_Pt, Mu02_Pt, Tr_Pt, MuonPt, Muon_isGlobal, Muon_isPF,"
        " TrackPt, Track_dz, Track_dxy)",
    ),
    (
        "afenv_phi_mass",
        "phi_mass({}, RefTrack1_Pt, RefTrack1_Eta, RefTrack1_Phi,"
        " RefTrack2_Pt, RefTrack2_Eta, RefTrack2_Phi)",
    ),
)
_TRIGGER = f"{_NS}trigger(Trigger_hltname, Trigger_hltdecision, Trigger_l1name, Trigger_l1decision)"


@dataclass(kw_only=True)
class AnalysisResult:
    mode: str
    events: int
    cutflow: list[int]
    counts: list[int]
    wall_s: float
    cores: int
    truth: dict[str, list[int]] | None = None  # per-bin counts of true Ds+/D+ best candidates
    harvest: Path | None = None
    settings: dict = field(default_factory=dict)


def run(
    dataset: Dataset,
    mode: str,
    *,
    threads: int = 0,
    scheduler: str | None = None,
    harvest: Path | None = None,
    dask_report: Path | None = None,
    npartitions: int | None = None,
    timeout: float = 10.0,
) -> AnalysisResult:
    if mode == "local":
        return _run_local(dataset, threads=threads, harvest=harvest)
    if mode == "dask":
        return _run_dask(
            dataset,
            scheduler=scheduler,
            workers=threads,
            harvest=harvest,
            dask_report=dask_report,
            npartitions=npartitions,
            timeout=timeout,
        )
    if mode == "legacy":
        return _run_legacy(dataset, harvest=harvest)
    raise InputError(f"unknown mode {mode!r} — use one of {', '.join(MODES)}")


def _book(df, *, with_truth: bool, snapshot: str | None):
    """Book every result on one RDataFrame graph (local or distributed); returns the handles.

    The cutflow is a chain of filters, one per step, with a count after each: an event leaves
    the chain at the first step no candidate passes, and later steps' columns are never read
    for it, as in the legacy loop, whose TTreeReader reads a branch only when it is used.
    """
    ROOT = _root.root()
    model = ("afenv_mass", "", HISTOGRAM["bins"], HISTOGRAM["low"], HISTOGRAM["high"])
    # A Count after every step: distributed RDataFrame (6.40) cannot merge a Report, which the
    # compiled local graph uses instead (ds_rdf.C).
    counts = [df.Count()]
    node = df.Filter(_TRIGGER, "trigger")
    previous = None
    for column, call in _STEPS:
        node = node.Define(column, _NS + call.format(previous))
        if previous is None:  # step 1: the trigger fired and the event has a candidate
            node = node.Filter(f"!{column}.empty()", "candidate")
            counts.append(node.Count())
        node = node.Filter(f"{_NS}any_left({column})", column.removeprefix("afenv_"))
        counts.append(node.Count())
        previous = column
    selected = node.Define("afenv_best", f"{_NS}best({previous}, TripletVtx2_Chi2)").Define(
        "BestTriplet_mass", "Triplet2_Mass[afenv_best]"
    )
    handles = {
        "counts": counts,
        "mass": selected.Histo1D(model, "BestTriplet_mass"),
    }
    if with_truth:
        kind = selected.Define("afenv_best_kind", "gen_kind[afenv_best]")
        handles["truth_ds"] = kind.Filter("afenv_best_kind == 2").Histo1D(
            ("afenv_ds", *model[1:]), "BestTriplet_mass"
        )
        handles["truth_dplus"] = kind.Filter("afenv_best_kind == 1").Histo1D(
            ("afenv_dplus", *model[1:]), "BestTriplet_mass"
        )
    if snapshot is not None:
        ids = (
            selected.Redefine("run", "static_cast<UInt_t>(run)")
            .Redefine("lumi", "static_cast<UInt_t>(lumi)")
            .Redefine("evt", "static_cast<ULong64_t>(evt)")
        )
        options = ROOT.RDF.RSnapshotOptions()
        options.fLazy = True
        options.fMode = "RECREATE"
        handles["snapshot"] = ids.Snapshot(HARVEST_TREE, snapshot, list(HARVEST_COLUMNS), options)
    return handles


def _collect(handles, *, mode: str, wall_s: float, cores: int) -> AnalysisResult:
    cutflow = [int(count.GetValue()) for count in handles["counts"]]
    truth = None
    if "truth_ds" in handles:
        truth = {
            "ds": _bin_counts(handles["truth_ds"].GetValue()),
            "dplus": _bin_counts(handles["truth_dplus"].GetValue()),
        }
    return AnalysisResult(
        mode=mode,
        events=cutflow[0],
        cutflow=cutflow,
        counts=_bin_counts(handles["mass"].GetValue()),
        wall_s=wall_s,
        cores=cores,
        truth=truth,
    )


def _bin_counts(histogram) -> list[int]:
    return [round(histogram.GetBinContent(b)) for b in range(1, histogram.GetNbinsX() + 1)]


def _run_local(dataset: Dataset, *, threads: int, harvest: Path | None) -> AnalysisResult:
    ROOT = _root.root()
    _root.local_graph()
    if threads == 1:
        ROOT.DisableImplicitMT()
    else:
        ROOT.EnableImplicitMT(threads)  # 0: all cores
    try:
        cores = max(1, int(ROOT.GetThreadPoolSize()))
        started = time.perf_counter()
        analysis = ROOT.afenv_ds.rdf.Analysis(
            dataset.tree,
            dataset.files,
            dataset.has_truth,
            HISTOGRAM["bins"],
            HISTOGRAM["low"],
            HISTOGRAM["high"],
        )
        if harvest is not None:
            analysis.Snapshot(HARVEST_TREE, str(harvest))
        try:
            analysis.Run()
        except Exception as error:  # cppyy turns C++ exceptions into Python ones of assorted types
            raise AnalysisError(
                f"RDataFrame event loop failed: {error} — check the inputs"
            ) from error
        wall_s = time.perf_counter() - started
    finally:
        ROOT.DisableImplicitMT()
    truth = None
    if dataset.has_truth:
        truth = {
            "ds": [round(v) for v in analysis.TruthDs()],
            "dplus": [round(v) for v in analysis.TruthDplus()],
        }
    cutflow = [int(v) for v in analysis.Cutflow()]
    return AnalysisResult(
        mode="local",
        events=cutflow[0],
        cutflow=cutflow,
        counts=[round(v) for v in analysis.Counts()],
        wall_s=wall_s,
        cores=cores,
        truth=truth,
        harvest=harvest,
        settings={"threads": cores, "implicit_mt": cores > 1, "graph": "compiled"},
    )


def _run_legacy(dataset: Dataset, *, harvest: Path | None) -> AnalysisResult:
    ROOT = _root.root()
    compile_started = time.perf_counter()
    _compile_legacy()
    compile_s = time.perf_counter() - compile_started
    id_types = [dataset.id_types[name] for name in ("run", "lumi", "evt")]
    started = time.perf_counter()
    try:
        output = ROOT.afenv_ds.run_legacy(
            dataset.files,
            dataset.tree,
            id_types,
            str(harvest) if harvest is not None else "",
            dataset.has_truth,
            HISTOGRAM["bins"],
            HISTOGRAM["low"],
            HISTOGRAM["high"],
        )
    except Exception as error:  # cppyy turns C++ exceptions into Python ones of assorted types
        raise AnalysisError(f"legacy event loop failed: {error} — check the inputs") from error
    wall_s = time.perf_counter() - started
    truth = None
    if dataset.has_truth:
        truth = {
            "ds": [round(v) for v in output.truth_ds],
            "dplus": [round(v) for v in output.truth_dplus],
        }
    return AnalysisResult(
        mode="legacy",
        events=int(output.entries),
        cutflow=[int(v) for v in output.cutflow],
        counts=[round(v) for v in output.counts],
        wall_s=wall_s,
        cores=1,
        truth=truth,
        harvest=harvest,
        settings={"compile_s": round(compile_s, 3)},
    )


def _compile_legacy() -> None:
    ROOT = _root.root()
    if hasattr(ROOT, "afenv_ds") and hasattr(ROOT.afenv_ds, "run_legacy"):
        return
    _root.compile_macro(_root.LEGACY_SOURCE)


def _run_dask(
    dataset: Dataset,
    *,
    scheduler: str | None,
    workers: int,
    harvest: Path | None,
    dask_report: Path | None,
    npartitions: int | None,
    timeout: float,
) -> AnalysisResult:
    with _dask_client(scheduler, workers, timeout) as client:
        return run_on_client(
            dataset, client, harvest=harvest, dask_report=dask_report, npartitions=npartitions
        )


def run_on_client(
    dataset: Dataset,
    client,
    *,
    harvest: Path | None = None,
    dask_report: Path | None = None,
    npartitions: int | None = None,
) -> AnalysisResult:
    """Distributed RDataFrame on an existing ``distributed.Client``."""
    from afenv_runtime import harvest as harvesting

    ROOT = _root.root()
    # Every worker loads the compiled selection steps (building them once per image and ROOT
    # version) before its first task; see _root.step_library for why they are not shipped.
    ROOT.RDF.Distributed.initialize(_root.step_library)
    if any(_root.is_xrootd_url(name) for name in dataset.files):
        _root.distribute_xrootd_remote_reads()
    cores = max(1, sum(client.nthreads().values()))
    partitions = npartitions or max(2 * cores, len(dataset.files))
    snapshot = harvesting.scratch_path("ds-selected") if harvest is not None else None
    report_context = contextlib.nullcontext()
    report_written = None
    if dask_report is not None and importlib.util.find_spec("bokeh") is not None:
        from distributed import performance_report

        report_context = performance_report(filename=str(dask_report))
        report_written = dask_report
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="afenv-harvest-") as scratch:
        try:
            with report_context, harvesting.snapshots_to_client(client, Path(scratch)) as copies:
                df = ROOT.RDataFrame(
                    dataset.tree, dataset.files, executor=client, npartitions=partitions
                )
                handles = _book(df, with_truth=dataset.has_truth, snapshot=snapshot)
                handles["mass"].GetValue()
        except OSError as error:
            raise ClusterError(
                f"lost the Dask cluster during the run: {error} — check the workers' logs"
            ) from error
        wall_s = time.perf_counter() - started
        result = _collect(handles, mode="dask", wall_s=wall_s, cores=cores)
        if harvest is not None:
            harvesting.merge(copies, harvest)
            result.harvest = harvest
    result.settings = {
        "workers": len(client.nthreads()),
        "worker_threads": cores,
        "npartitions": partitions,
        "scheduler": client.scheduler.address,
        "dask_report": str(report_written) if report_written else None,
    }
    return result


@contextlib.contextmanager
def _dask_client(scheduler: str | None, workers: int, timeout: float):
    import dask.config
    from distributed import Client, LocalCluster

    from afenv_runtime import daskdefaults

    if scheduler is None:
        n_workers = workers or os.cpu_count() or 1
        with (
            # The scheduler settings of afenv's images, where no Dask config sets them (a host).
            dask.config.set(daskdefaults.not_configured()),
            LocalCluster(
                n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=":0"
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
        return
    try:
        client = Client(scheduler, timeout=f"{timeout}s")
    except (OSError, TimeoutError) as error:
        raise ClusterError(
            f"cannot reach Dask scheduler {scheduler}"
            " — check the address and that the scheduler is running"
        ) from error
    with client:
        # With no worker, RDataFrame would wait forever: a scheduler restarted under its
        # workers (who then shut down) looks just like that.
        try:
            client.wait_for_workers(1, timeout=WORKER_WAIT_S)
        except TimeoutError as error:
            raise ClusterError(
                f"no Dask worker is connected to {scheduler} (waited {WORKER_WAIT_S:.0f} s)"
                " — the scheduler may have restarted without its workers; start workers or a"
                " new cluster and run again"
            ) from error
        yield client

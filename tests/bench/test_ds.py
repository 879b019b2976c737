"""The Ds benchmark end to end: three modes agree, an independent cutflow, fit, harvest, errors."""

from __future__ import annotations

import json

import pytest

from afenv_bench.cli import main

pytestmark = pytest.mark.root

REPORT_KEYS = {"mode", "events", "cutflow", "histogram", "selected", "fit", "timing", "versions"}


@pytest.fixture(scope="module")
def reference(ds_files):
    from . import reference

    results = [reference.select(str(path)) for path in ds_files]
    return {
        "cutflow": [sum(column) for column in zip(*(r["cutflow"] for r in results), strict=True)],
        "counts": [sum(column) for column in zip(*(r["counts"] for r in results), strict=True)],
        "ids": set().union(*(r["ids"] for r in results)),
    }


def test_generator_is_deterministic_and_writes_truth(tmp_path):
    import uproot

    from afenv_bench.generator import generate

    first = generate(tmp_path / "a", events=2_000, files=2, seed=3)
    second = generate(tmp_path / "b", events=2_000, files=2, seed=3)
    for a, b in zip(first.files, second.files, strict=True):
        left = uproot.open(a)["Tree3Mu/ntuple"].arrays(
            ["Triplet2_Mass", "MuonPt", "evt"], library="np"
        )
        right = uproot.open(b)["Tree3Mu/ntuple"].arrays(
            ["Triplet2_Mass", "MuonPt", "evt"], library="np"
        )
        assert all(
            (x == y).all()
            for x, y in zip(left["Triplet2_Mass"], right["Triplet2_Mass"], strict=True)
        )
        assert (left["evt"] == right["evt"]).all()
    truth = json.loads((tmp_path / "a" / "truth.json").read_text())
    assert truth["generated"] == {"ds": first.ds, "dplus": first.dplus}
    assert 2.0 < first.ds / first.dplus < 4.5


def test_local_report_schema(run_mode):
    run = run_mode("local")
    report = run.report
    assert report.keys() >= REPORT_KEYS
    assert report["mode"] == "local"
    assert len(report["cutflow"]) == 7
    assert all(isinstance(n, int) for n in report["cutflow"])
    assert report["cutflow"] == sorted(report["cutflow"], reverse=True)
    assert report["events"] == report["cutflow"][0]
    assert report["selected"] == report["cutflow"][6]
    histogram = report["histogram"]
    assert (histogram["bins"], histogram["low"], histogram["high"]) == (62, 1.70, 2.05)
    assert len(histogram["counts"]) == 62
    assert {"wall_s", "events_per_s", "events_per_s_per_core", "mb_per_s"} <= report[
        "timing"
    ].keys()
    assert {"root", "python", "dask", "distributed"} <= report["versions"].keys()
    assert (run.directory / "mass_fit.png").stat().st_size > 0
    assert (run.directory / "report.html").stat().st_size > 0


def test_cutflow_matches_independent_reference(run_mode, reference):
    report = run_mode("local").report
    assert report["cutflow"] == reference["cutflow"]
    assert report["histogram"]["counts"] == reference["counts"]


@pytest.mark.dask
def test_three_modes_agree(run_mode):
    local, legacy, dask = (run_mode(mode).report for mode in ("local", "legacy", "dask"))
    assert dask["settings"]["workers"] >= 2
    for other in (legacy, dask):
        assert other["cutflow"] == local["cutflow"]
        assert other["histogram"]["counts"] == local["histogram"]["counts"]


@pytest.mark.dask
def test_repeated_computations_on_one_cluster(ds_files, run_mode):
    """A notebook runs many computations on one cluster; the compiled selection must survive
    that (shipped with DistributeSharedLibs, it was re-uploaded in place and workers crashed).
    The cluster is the one ``--mode dask`` starts, with afenv's Dask settings."""
    from afenv_bench import analysis
    from afenv_bench.inputs import resolve
    from afenv_runtime import daskdefaults

    dataset = resolve([str(path) for path in ds_files])
    local = run_mode("local").report
    with analysis._dask_client(None, 2, 10.0) as client:
        applied = daskdefaults.not_configured()  # what no config here sets
        if "distributed.scheduler.worker-saturation" in applied:
            assert (
                client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.WORKER_SATURATION)
                == applied["distributed.scheduler.worker-saturation"]
            )
        if "distributed.worker.profile.interval" in applied:
            intervals = client.run(
                lambda dask_worker: dask_worker.periodic_callbacks["profile"].callback_time
            )
            assert set(intervals.values()) == {100}  # ms, the worker processes' own config
        workers = set(client.nthreads())
        results = [analysis.run_on_client(dataset, client) for _ in range(3)]
        assert set(client.nthreads()) == workers  # no worker died and was replaced
    for result in results:
        assert result.cutflow == local["cutflow"]
        assert result.counts == local["histogram"]["counts"]


@pytest.mark.dask
def test_dask_writes_performance_report(run_mode):
    pytest.importorskip("bokeh")
    run = run_mode("dask")
    assert run.report["outputs"]["dask_report"] == "dask-report.html"
    assert (run.directory / "dask-report.html").stat().st_size > 0


def test_fit_recovers_truth(run_mode):
    fit = run_mode("local").report["fit"]
    assert fit["status"] == 0
    check = fit["truth_check"]
    assert check["ok"], check
    for name in ("ds", "dplus"):
        assert abs(check[name]["pull"]) < 3


@pytest.mark.parametrize("mode", ["local", "legacy", pytest.param("dask", marks=pytest.mark.dask)])
def test_harvest_returns_every_selected_event_once(run_mode, reference, mode):
    from afenv_runtime import harvest

    run = run_mode(mode)
    arrays = harvest.arrays(run.harvest, "selected", ["run", "lumi", "evt", "BestTriplet_mass"])
    ids = list(
        zip(arrays["run"].tolist(), arrays["lumi"].tolist(), arrays["evt"].tolist(), strict=True)
    )
    assert len(ids) == run.report["selected"] == len(set(ids))
    assert set(ids) == reference["ids"]


def _error_line(capfd) -> str:
    err = capfd.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("afenv-bench: error:")]
    assert len(errors) == 1, err
    assert not [
        line for line in err.splitlines() if line.startswith(("Error", "ERROR", "Traceback"))
    ], err
    return errors[0]


def test_missing_file_is_one_line(tmp_path, capfd):
    missing = tmp_path / "nope.root"
    assert main(["ds", "run", "--input", str(missing), "--report", str(tmp_path / "r")]) == 2
    assert str(missing) in _error_line(capfd)


def test_wrong_tree_is_one_line(ds_files, tmp_path, capfd):
    code = main(
        ["ds", "run", "--input", str(ds_files[0]), "--tree", "Events", "--report", str(tmp_path)]
    )
    assert code == 2
    line = _error_line(capfd)
    assert "Events" in line
    assert str(ds_files[0]) in line


def test_missing_branch_is_one_line(ds_files, tmp_path, capfd):
    from afenv_bench import _root
    from afenv_bench.inputs import BRANCH_TYPES

    ROOT = _root.root()
    stripped = tmp_path / "no_dxy.root"
    columns = [name for name in BRANCH_TYPES if name != "Track_dxy"]
    options = ROOT.RDF.RSnapshotOptions()
    options.fVector2RVec = False  # keep std::vector branches, as in CMS ntuples
    ROOT.RDataFrame("Tree3Mu/ntuple", str(ds_files[0])).Range(100).Snapshot(
        "Tree3Mu/ntuple", str(stripped), columns, options
    )
    assert main(["ds", "run", "--input", str(stripped), "--report", str(tmp_path / "r")]) == 2
    line = _error_line(capfd)
    assert "Track_dxy" in line
    assert str(stripped) in line


def test_unreachable_scheduler_is_one_line(ds_files, tmp_path, capfd):
    scheduler = "tcp://127.0.0.1:9"
    options = ["--mode", "dask", "--scheduler", scheduler, "--timeout", "2"]
    code = main(["ds", "run", "--input", str(ds_files[0]), *options, "--report", str(tmp_path)])
    assert code == 3
    assert scheduler in _error_line(capfd)


def test_prebuilt_libraries_spare_the_compiler(ds_files, tmp_path, run_mode):
    """What an image does at build time (ds prepare) is what a container then loads: the run
    compiles nothing into the user's cache, and its results are those of the normal run."""
    import os
    import subprocess
    import sys

    prebuilt, cache, report = tmp_path / "prebuilt", tmp_path / "cache", tmp_path / "report"
    python = [sys.executable, "-W", "ignore::UserWarning:ROOT", "-m", "afenv_bench", "ds"]
    subprocess.run([*python, "prepare", "--out", str(prebuilt)], check=True, capture_output=True)
    assert len(list(prebuilt.glob("lib*.so"))) == 2
    env = dict(os.environ, AFENV_BENCH_PREBUILT=str(prebuilt), XDG_CACHE_HOME=str(cache))
    inputs = [str(path) for path in ds_files]
    run = [*python, "run", "--input", *inputs, "--mode", "local", "--report", str(report)]
    subprocess.run(run, check=True, capture_output=True, env=env)
    assert not (cache / "afenv-bench").exists()
    result = json.loads((report / "report.json").read_text())
    assert result["cutflow"] == run_mode("local").report["cutflow"]

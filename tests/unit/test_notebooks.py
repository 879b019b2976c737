"""How validation judges an executed notebook (no kernel: executed notebooks as data)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from afenv_runtime.notebooks import judge


class Cell(dict[str, Any]):
    """An nbformat cell: a dict whose keys are also attributes."""

    __getattr__ = dict.__getitem__


def _notebook(*cells: list[dict[str, Any]], markdown_first: bool = True) -> SimpleNamespace:
    code = [Cell(cell_type="code", outputs=outputs) for outputs in cells]
    heading = [Cell(cell_type="markdown", source="# title")] if markdown_first else []
    return SimpleNamespace(cells=heading + code)


def _stream(name: str, text: str) -> dict[str, Any]:
    return {"output_type": "stream", "name": name, "text": text}


def test_a_clean_notebook_passes() -> None:
    warning = "UserWarning: This distribution of ROOT is in alpha stage."
    notebook = _notebook([_stream("stderr", warning)], [_stream("stdout", "Error: none\n")])
    assert judge(notebook) == ""


def test_the_first_problem_is_named_with_its_code_cell() -> None:
    notebook = _notebook(
        [_stream("stdout", "ok\n")],
        [_stream("stderr", "Info in <TCanvas::Print>: png file written\n")],
        [_stream("stderr", "Error in <TFile::TFile>: file /x.root does not exist\n")],
        [{"output_type": "error", "ename": "ValueError", "evalue": "later", "traceback": []}],
    )
    assert judge(notebook) == (
        "cell 3: ROOT error on stderr: Error in <TFile::TFile>: file /x.root does not exist"
    )


def test_an_exception_and_a_version_mismatch_are_failures() -> None:
    raised = _notebook([{"output_type": "error", "ename": "KeyError", "evalue": "'x'"}])
    assert judge(raised) == "cell 1 raised KeyError: 'x'"
    mismatch = _notebook(
        [_stream("stderr", "/x/client.py:1: VersionMismatchWarning: Mismatched versions found\n")],
        [{"output_type": "error", "ename": "TypeError", "evalue": "pickle"}],
    )
    assert judge(mismatch).startswith("cell 1: /x/client.py:1: VersionMismatchWarning")


def test_results_are_read_too() -> None:
    result = {"output_type": "execute_result", "data": {"text/plain": ["Error in <x>: y"]}}
    assert judge(_notebook([result])) == "cell 1: ROOT error on result: Error in <x>: y"


def test_snapshot_guard_names_the_files_and_the_fix(tmp_path) -> None:
    import pytest

    from afenv_runtime import snapshot_guard

    calls = []

    class SnapshotResult:
        def __init__(self, filenames: list[str]) -> None:
            self.filenames = filenames

        def GetValue(self, backend: object) -> str:
            calls.append(backend)
            return "dataframe"

    module = SimpleNamespace(SnapshotResult=SnapshotResult)
    snapshot_guard.guard(module)  # type: ignore[arg-type]
    snapshot_guard.guard(module)  # type: ignore[arg-type]  # once only
    present = tmp_path / "out_0.root"
    present.write_bytes(b"root")
    assert SnapshotResult([str(present), "root://eos//x.root"]).GetValue("dask") == "dataframe"
    with pytest.raises(snapshot_guard.SnapshotNotHere) as raised:
        SnapshotResult(["/tmp/nowhere_0.root", "/tmp/nowhere_1.root"]).GetValue("dask")
    assert str(raised.value).startswith(
        "the distributed Snapshot wrote 2 files on the workers (/tmp/nowhere_0.root, …)"
    )
    assert "harvest.snapshot(client, df" in str(raised.value)
    assert calls == ["dask"]

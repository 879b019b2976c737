from __future__ import annotations

from afenv.validate import versions


def test_only_packages_on_both_sides_with_different_versions_disagree() -> None:
    client = {"python": "3.13.5", "dask": "2026.8.0", "jupyterlab": "4.5.0", "toolz": "1.1.0"}
    scheduler = {"python": "3.13.5", "dask": "2026.8.0", "toolz": "1.1.0"}
    workers = {
        "worker-1": {"python": "3.13.5", "dask": "2026.8.0", "toolz": "1.1.0"},
        "worker-2": {"python": "3.13.5", "dask": "2026.8.0", "toolz": "0.12.1"},
    }
    rows = versions.compare(client, scheduler, workers)
    assert [r.package for r in rows] == ["toolz"]
    assert rows[0].workers == ("1.1.0", "0.12.1")
    table = versions.table(rows)
    assert "| Package | Client | Scheduler | Workers" in table
    assert "| toolz   | 1.1.0  | 1.1.0     | 0.12.1, 1.1.0 |" in table


def test_python_patch_level_counts() -> None:
    rows = versions.compare({"python": "3.13.5"}, {"python": "3.13.5"}, {"w": {"python": "3.13.4"}})
    assert [r.package for r in rows] == ["python"]


def test_agreement_is_empty_and_rows_keep_every_package() -> None:
    same = {"python": "3.13.5", "msgpack": "1.1.2"}
    assert versions.compare(same, same, {"w1": same, "w2": same}) == []
    rows = versions.version_rows({**same, "ipykernel": "7"}, same, {"w1": same})
    assert rows["ipykernel"] == {"client": "7", "scheduler": None, "workers": {"w1": None}}
    assert rows["msgpack"]["workers"] == {"w1": "1.1.2"}

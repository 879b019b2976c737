"""afenv's scheduler settings: what a cluster started by afenv's code applies, and when not."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from afenv_runtime import daskdefaults

KEY = "distributed.scheduler.worker-saturation"


@pytest.fixture(autouse=True)
def _no_dask_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in [n for n in os.environ if n.startswith("DASK_")]:
        monkeypatch.delenv(name)


@pytest.fixture
def config_dir(tmp_path: Path) -> Iterator[Path]:
    """One more folder among those Dask reads config files from (its list is fixed at import,
    from DASK_CONFIG and ~/.config/dask, and collect() binds it as its default)."""
    import dask.config

    folder = tmp_path / "config"
    folder.mkdir()
    dask.config.paths.append(str(folder))
    try:
        yield folder
    finally:
        dask.config.paths.remove(str(folder))


def test_applied_where_nothing_configures_it() -> None:
    assert daskdefaults.not_configured() == {KEY: 1.0}


def test_the_users_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION", "1.5")
    assert daskdefaults.not_configured() == {}


def test_the_users_config_file_wins(config_dir: Path) -> None:
    (config_dir / "mine.yaml").write_text(
        "distributed:\n  scheduler:\n    worker-saturation: inf\n"
    )
    assert daskdefaults.not_configured() == {}


def test_a_scheduler_started_under_them_uses_them() -> None:
    """The value reaches a real scheduler (distributed reads it when the scheduler is made)."""
    import dask.config
    from distributed import Scheduler

    with dask.config.set(daskdefaults.not_configured()):
        scheduler = Scheduler(dashboard_address=None, validate=True)
    assert scheduler.WORKER_SATURATION == 1.0

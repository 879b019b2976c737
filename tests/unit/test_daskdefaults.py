"""afenv's Dask settings: what a cluster started by afenv's code applies, and when not."""

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


def _without(key: str) -> dict[str, float | str]:
    return {k: v for k, v in daskdefaults.SETTINGS.items() if k != key}


def test_applied_where_nothing_configures_them() -> None:
    assert daskdefaults.not_configured() == daskdefaults.SETTINGS
    assert daskdefaults.SETTINGS[KEY] == 1.0


def test_the_users_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION", "1.5")
    assert daskdefaults.not_configured() == _without(KEY)


def test_the_users_config_file_wins(config_dir: Path) -> None:
    (config_dir / "mine.yaml").write_text(
        "distributed:\n  scheduler:\n    worker-saturation: inf\n"
        "  worker:\n    profile:\n      interval: 5ms\n"
    )
    assert daskdefaults.not_configured() == {"distributed.admin.tick.interval": "100ms"}


def test_a_scheduler_started_under_them_uses_them() -> None:
    """The value reaches a real scheduler (distributed reads it when the scheduler is made)."""
    import dask.config
    from distributed import Scheduler

    with dask.config.set(daskdefaults.not_configured()):
        scheduler = Scheduler(dashboard_address=None, validate=True)
    assert scheduler.WORKER_SATURATION == 1.0
    assert scheduler.periodic_callbacks["tick"].callback_time == 100  # ms


def test_a_worker_started_under_them_uses_them() -> None:
    """An idle worker checks its event loop and samples its threads every 100 ms, not every
    20 and 10 ms (distributed reads both when the worker is made; it is never started)."""
    import dask.config
    from distributed import Worker

    with dask.config.set(daskdefaults.not_configured()):
        worker = Worker("tcp://127.0.0.1:1", nthreads=1, dashboard=False)
    assert worker.periodic_callbacks["tick"].callback_time == 100
    assert worker.periodic_callbacks["profile"].callback_time == 100
    default = Worker("tcp://127.0.0.1:1", nthreads=1, dashboard=False)
    assert default.periodic_callbacks["profile"].callback_time == 10  # distributed's own

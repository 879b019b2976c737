"""Run one of ROOT's own distributed-RDataFrame tutorials, as shipped in the installed ROOT,
against an existing Dask cluster.

    python -m afenv_runtime.tutorials distrdf002_dask_connection --out DIR

The tutorials create their own ``LocalCluster(...)`` and pass it to ``Client(...)``. The one
substitution: while the tutorial runs, ``LocalCluster(...)`` (from ``dask.distributed`` or
``distributed``) returns the address in ``DASK_SCHEDULER_ADDRESS`` instead, which ``Client``
accepts as well; the tutorial's own file is run unchanged (``runpy``, as ``__main__``) in ``DIR``,
where it saves its figures. Its exit status is this process's.
"""

from __future__ import annotations

import argparse
import os
import runpy
import sys
from pathlib import Path
from typing import Any

__all__ = ["RUN", "SKIPPED", "main", "tutorial_path"]

TUTORIALS = ("tutorials", "analysis", "dataframe")
# Run against the cluster, with the figure each saves (distrdf003 draws live, saves none).
RUN: dict[str, str | None] = {
    "distrdf002_dask_connection": "distrdf002_dask_connection.png",
    "distrdf003_live_visualization": None,
}
# Not run, and why (the README lists them too).
SKIPPED = {
    "distrdf001_spark_connection": "needs Spark (pyspark), which facilities here do not run",
    "distrdf004_dask_lxbatch": "imports dask_lxplus, CERN's HTCondor-at-lxplus cluster class",
}


def tutorial_path(name: str) -> Path:
    import ROOT

    return Path(ROOT.__file__).parent.joinpath(*TUTORIALS, f"{name}.py")


def _cluster_address(*_args: Any, **_kwargs: Any) -> str:
    address = os.environ.get("DASK_SCHEDULER_ADDRESS")
    if not address:
        sys.exit("afenv_runtime.tutorials: error: DASK_SCHEDULER_ADDRESS is not set")
    return address


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m afenv_runtime.tutorials")
    parser.add_argument("name", choices=sorted(RUN))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    import dask.distributed
    import distributed

    path = tutorial_path(args.name)
    if not path.is_file():
        print(f"afenv_runtime.tutorials: error: {path} is not in this ROOT", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    os.chdir(args.out)
    distributed.LocalCluster = dask.distributed.LocalCluster = _cluster_address  # type: ignore[assignment,misc]
    runpy.run_path(str(path), run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The images' entry point: the grid environment, then the command (``afenv-entrypoint CMD…``).

It sits between tini and whatever the container runs (the notebook start script, ``dask
worker``, ``dask scheduler``, a spawner's command, ``docker run IMAGE bash``), so every one of
them starts with X509_CERT_DIR, X509_VOMS_DIR and X509_VOMSES pointing at CVMFS when it is
mounted. ``VOMS_USERCONF`` follows ``X509_VOMSES``, because voms-proxy-init reads that name.
"""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping, Sequence
from pathlib import Path

from afenv_runtime.gridenv import CVMFS_GRID, IMAGE_GRID, grid_environment

__all__ = ["main", "start_environment"]


def start_environment(environ: MutableMapping[str, str], *, cvmfs: Path = CVMFS_GRID) -> None:
    settings = grid_environment(environ, cvmfs=cvmfs)
    if environ.get("VOMS_USERCONF", IMAGE_GRID["X509_VOMSES"]) == IMAGE_GRID["X509_VOMSES"]:
        settings["VOMS_USERCONF"] = settings["X509_VOMSES"]
    environ.update(settings)


def main(argv: Sequence[str] | None = None) -> None:
    command = list(sys.argv[1:] if argv is None else argv)
    if not command:
        sys.exit("afenv-entrypoint: error: no command given; usage: afenv-entrypoint CMD [ARG…]")
    start_environment(os.environ)
    try:
        os.execvp(command[0], command)
    except OSError as error:
        sys.exit(f"afenv-entrypoint: error: cannot run {command[0]!r}: {error.strerror}")


if __name__ == "__main__":
    main()

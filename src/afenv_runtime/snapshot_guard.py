"""Client preload of the notebook image: a distributed ``Snapshot`` whose files the client
cannot open says so in one line, and what to do.

ROOT's distributed ``Snapshot`` writes one file per task on the workers, then opens those files
*on the client* to return a dataframe. Without a filesystem the workers share with the client,
that fails deep inside ROOT (``GetBranchNames: error in opening the tree``). Named in
``distributed.client.preload`` (``/etc/dask/afenv.yaml``), this module checks the files first
and raises ``SnapshotNotHere``, pointing at ``afenv_runtime.harvest.snapshot``. ROOT is not
imported for it: the check is installed when ROOT's distributed module loads.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["SnapshotNotHere", "dask_setup", "guard"]

TARGET = "ROOT._distrdf.PythonMergeables"
HINT = (
    "use afenv_runtime.harvest.snapshot(client, df, tree, 'out.root', columns) to bring them"
    " to the client"
)


class SnapshotNotHere(OSError):
    """A distributed Snapshot's files are on the workers, not here."""


def guard(module: ModuleType) -> None:
    """Check a distributed Snapshot's files before ROOT opens them on the client (once)."""
    result_class = module.SnapshotResult
    original = result_class.GetValue
    if getattr(original, "afenv_guard", False):
        return

    def get_value(self: Any, *args: Any, **kwargs: Any) -> Any:
        names = [str(name) for name in self.filenames]
        missing = [name for name in names if "://" not in name and not Path(name).is_file()]
        if missing:
            raise SnapshotNotHere(
                f"the distributed Snapshot wrote {len(names)} files on the workers ({missing[0]}"
                f"{', …' if len(names) > 1 else ''}) that this client cannot open — {HINT}"
            )
        return original(self, *args, **kwargs)

    get_value.afenv_guard = True  # type: ignore[attr-defined]
    result_class.GetValue = get_value


class _GuardOnImport(importlib.abc.MetaPathFinder):
    """Applies ``guard`` right after ROOT's distributed module is executed."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,  # noqa: ARG002 (the finder protocol's signature)
        target: ModuleType | None = None,  # noqa: ARG002
    ) -> ModuleSpec | None:
        if fullname != TARGET:
            return None
        sys.meta_path.remove(self)  # find the real spec without finding ourselves again
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        loader: Any = spec.loader
        execute = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            execute(module)
            guard(module)

        loader.exec_module = exec_module
        return spec


def dask_setup(client: Any) -> None:  # noqa: ARG001 (distributed's preload signature)
    if TARGET in sys.modules:
        guard(sys.modules[TARGET])
    elif not any(isinstance(finder, _GuardOnImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _GuardOnImport())

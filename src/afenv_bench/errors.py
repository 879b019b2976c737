"""Errors the benchmark reports to users; each carries the exit code the CLI returns.

The message says what failed, naming the file, tree, branch or scheduler, then ``—`` and what to do.
"""

from __future__ import annotations

__all__ = ["AnalysisError", "BenchError", "ClusterError", "InputError"]


class BenchError(Exception):
    """Base class: a failure the user can act on, reported as one line."""

    exit_code = 1


class InputError(BenchError):
    """An input is unusable: missing file, wrong tree, missing or mistyped branch, bad option."""

    exit_code = 2


class ClusterError(BenchError):
    """The Dask scheduler cannot be reached or the distributed run failed on the cluster."""

    exit_code = 3


class AnalysisError(BenchError):
    """The analysis ran but cannot produce a result (C++ helpers fail to compile, fit fails)."""

    exit_code = 4

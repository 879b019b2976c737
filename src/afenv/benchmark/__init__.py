"""Running the Ds benchmark program (afenv_bench, in every image) inside a container cluster.

Terms: ``afenv_bench`` is the benchmark program shipped in the images; this package runs it in
containers (for `afenv validate` and `afenv bench ds`); ``benchmarks/`` holds the scripts that
measure afenv itself for the README.
"""

from afenv.benchmark.modes import REPORT_NAMES, ModeOutcome, cling_errors, generate, run_mode
from afenv.benchmark.session import default_report_dir, run_benchmark, table

__all__ = [
    "REPORT_NAMES",
    "ModeOutcome",
    "cling_errors",
    "default_report_dir",
    "generate",
    "run_benchmark",
    "run_mode",
    "table",
]

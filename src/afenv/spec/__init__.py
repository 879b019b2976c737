"""Stage 1, the spec: envs/ and images/ read once, every value checked by a strict grammar."""

from afenv.spec.grammar import canonical_name
from afenv.spec.load import load_experiment, load_facility, load_project, with_benchmark
from afenv.spec.model import (
    ROLES,
    BenchmarkSpec,
    DebianSpec,
    Experiment,
    Facility,
    KernelOffer,
    Project,
    PythonSpec,
)

__all__ = [
    "ROLES",
    "BenchmarkSpec",
    "DebianSpec",
    "Experiment",
    "Facility",
    "KernelOffer",
    "Project",
    "PythonSpec",
    "canonical_name",
    "load_experiment",
    "load_facility",
    "load_project",
    "with_benchmark",
]

"""Stage 3, the build: wheelhouse, base image, plan (pure), render, context, engine build."""

from afenv.build.builder import BuiltImage, execute, pair_references, prepare_plan
from afenv.build.plan import BuildPlan, ImagePlan, make_plan
from afenv.build.wheelhouse import Wheelhouse

__all__ = [
    "BuildPlan",
    "BuiltImage",
    "ImagePlan",
    "Wheelhouse",
    "execute",
    "make_plan",
    "pair_references",
    "prepare_plan",
]

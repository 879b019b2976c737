"""Stage 3, the build: wheelhouse, base image, plan (pure), render, context, engine build."""

from afenv.build.builder import BuiltImage, execute, pair_references, prepare_plan
from afenv.build.plan import BuildPlan, ImagePlan, make_plan

__all__ = [
    "BuildPlan",
    "BuiltImage",
    "ImagePlan",
    "execute",
    "make_plan",
    "pair_references",
    "prepare_plan",
]

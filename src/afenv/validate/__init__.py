"""Stage 4, validation: cluster, versions, phases behind one interface, in-image checks,
report, promotion."""

from afenv.validate.pair import Pair, pair_for_experiment, pair_from_images
from afenv.validate.promotion import promote, promotion_tags
from afenv.validate.report import Check, ValidationReport, summary_text, write_summary
from afenv.validate.run import PHASES, validate

__all__ = [
    "PHASES",
    "Check",
    "Pair",
    "ValidationReport",
    "pair_for_experiment",
    "pair_from_images",
    "promote",
    "promotion_tags",
    "summary_text",
    "validate",
    "write_summary",
]

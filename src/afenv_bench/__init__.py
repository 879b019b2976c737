"""The afenv analysis-facility benchmark: Ds⁺→φ(μμ)π⁺ with ROOT RDataFrame, Dask and a legacy loop.

Command line: ``afenv-bench ds generate|run|report`` (``python -m afenv_bench``). Modules:
``generator`` (synthetic ntuples), ``inputs`` (checked input files), ``analysis`` (the three
modes), ``fit`` (RooFit yields), ``report`` (JSON, PNG, HTML), ``errors`` (exit codes). The C++
helpers live in ``cpp/``. Harvesting of worker outputs is ``afenv_runtime.harvest``.
"""

__all__ = ["load_selection"]


def load_selection() -> str:
    """Load the compiled Ds selection functions (``afenv_ds::rdf::trigger``, ``window``, …,
    ``best``; see ``cpp/ds_steps.h``) into ROOT here; returns the library's path. Pass it to
    ``ROOT.RDF.Distributed.initialize`` so every Dask worker loads them from its own image."""
    from afenv_bench import _root

    return str(_root.step_library())

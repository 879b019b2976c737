"""The afenv analysis-facility benchmark: Ds⁺→φ(μμ)π⁺ with ROOT RDataFrame, Dask and a legacy loop.

Command line: ``afenv-bench ds generate|run|report`` (``python -m afenv_bench``). Modules:
``generator`` (synthetic ntuples), ``inputs`` (checked input files), ``analysis`` (the three
modes), ``fit`` (RooFit yields), ``report`` (JSON, PNG, HTML), ``errors`` (exit codes). The C++
helpers live in ``cpp/``. Harvesting of worker outputs is ``afenv_runtime.harvest``.
"""

__all__: list[str] = []

"""afenv: reproducible, validated JupyterHub + Dask image pairs for HEP analysis facilities."""

__version__ = "0.1.0"
__all__ = ["__version__"]

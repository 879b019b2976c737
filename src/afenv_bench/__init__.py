"""afenv_bench."""

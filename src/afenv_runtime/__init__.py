"""afenv_runtime."""

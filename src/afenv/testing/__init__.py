"""Real servers that afenv's own tests and benchmarks start on loopback (not used by afenv)."""

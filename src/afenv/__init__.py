"""afenv."""

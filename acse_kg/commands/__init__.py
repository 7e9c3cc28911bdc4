"""CLI commands, grouped by concern; each module exposes ``register(app)``."""

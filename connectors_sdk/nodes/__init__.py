"""The built-in node types (`core.*`), registered through entry points in pyproject.toml."""

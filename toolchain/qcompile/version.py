"""The package version, in a module of its own so that modules the package's ``__init__``
imports (the output-folder marker, the CLI) can read it without importing the package back.
Keep it equal to ``version`` in pyproject.toml (tests/test_api.py checks)."""

__version__ = "0.1.0"

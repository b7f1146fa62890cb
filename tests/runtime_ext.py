"""The Cython extension for tests that compare C with the reference: a stale or missing
build fails the test run (never a skip), saying to rerun scripts/dev-setup."""

from __future__ import annotations

from types import ModuleType

import pytest

from qcompile.host.source_hash import stale_reason


def require_runtime() -> ModuleType:
    """``qcompile.host._runtime``, built from the tree's C and Cython sources, or a failure."""
    reason = stale_reason()
    if reason is not None:
        pytest.fail(reason, pytrace=False)
    from qcompile.host import _runtime

    return _runtime

"""The float IR's ``strided_slice`` is the quantized one: it selects values whatever their type."""

from __future__ import annotations

from qcompile.reference.kernels.slicing import strided_slice

__all__ = ["strided_slice"]

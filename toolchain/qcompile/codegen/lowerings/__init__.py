"""Portable C lowerings of quantized ops as plug-ins (see :mod:`qcompile.plugins`).

A module here registers ``fn(lo, layer, node) -> macs`` for one or more quantized ops with
``@LOWERINGS.register("maximum")``: it renders the op's parameter struct with
``lo.struct`` (fields from ``qcompile.ops.structs``) and its runtime call with
``lo.call``, exactly like the built-in lowerings in ``codegen/lowering.py``.
"""

from __future__ import annotations

from qcompile.plugins import Registry

LOWERINGS: Registry = Registry(__name__, "C lowering")

"""Float-IR to int8-IR node converters as plug-ins (see :mod:`qcompile.plugins`).

A module here registers ``fn(graph, node)`` for one or more float-IR ops with
``@QUANT_CONVERTERS.register("maximum")``. It runs after activation parameters are
assigned (``graph.tensors[name].quant``) and replaces the node's float attributes by the
integer ones its op schema (``qcompile.ops.SCHEMAS``) lists. Raise ValueError for a
multiplier no kernel can apply; quantize names the node.
"""

from __future__ import annotations

from qcompile.plugins import Registry

QUANT_CONVERTERS: Registry = Registry(__name__, "quantize converter")

"""Float-IR to int8-IR node converters as plug-ins (see :mod:`qcompile.plugins`).

A module here registers ``fn(graph, node)`` for one or more float-IR ops with
``@QUANT_CONVERTERS.register("maximum")``. It runs after activation parameters are
assigned (``graph.tensors[name].quant``) and replaces the node's float attributes by the
integer ones its op schema (``qcompile.ops.SCHEMAS``) lists. Raise ValueError for a
multiplier no kernel can apply; quantize names the node. Register with
``shares_input_params=True`` for ops that move or select int8 values without arithmetic
(their output carries exactly the input's scale and zero point, as ``transpose`` does), and
with ``weight_axis=A`` for ops with constant int8 weights (input 1, output channels on axis
``A``) and an int32 bias (input 2): they are quantized like conv2d (per-channel weights,
multipliers, ``act_range`` to ``act_min``/``act_max``), honouring the PTQ options.
"""

from __future__ import annotations

from qcompile.plugins import Registry

QUANT_CONVERTERS: Registry = Registry(__name__, "quantize converter")

"""int8 ``div`` (TFLM's DIV, docs/QUANTIZATION.md "div"): constant operands are quantized per
tensor from their own range, as for ``mul``; the integer attributes are TFLM's DIV ``Prepare``
(``op_params.div_params``)."""

from __future__ import annotations

from qcompile import op_params
from qcompile.ir import Graph, Node
from qcompile.quant.converters import QUANT_CONVERTERS


@QUANT_CONVERTERS.register("div")
def _convert_div(graph: Graph, node: Node) -> None:
    from qcompile.quant.quantize import _bounds, _q, _quantize_operand

    q1 = _quantize_operand(graph, node, 0)
    q2 = _quantize_operand(graph, node, 1)
    out_q = _q(graph, node.outputs[0])
    act_min, act_max = _bounds(node, out_q)
    node.attrs = op_params.div_params(q1, q2, out_q, act_min=act_min, act_max=act_max)

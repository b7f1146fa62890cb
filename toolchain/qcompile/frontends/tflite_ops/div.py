"""TFLite DIV (int8, broadcasting, fused activation) with TFLM's parameters: ``div`` with
``op_params.div_params`` (``QuantizeMultiplier(float32(s1 / (s2 * s_out)))``, as TFLM's
``CalculateOpDataDiv``). docs/QUANTIZATION.md, "div"."""

from __future__ import annotations

from qcompile import op_params
from qcompile.frontends.tflite_ops import TFLITE_OPS


@TFLITE_OPS.register("DIV")
def _div(imp, op) -> None:
    if len(op.inputs) != 2:
        raise ValueError("DIV takes two inputs")
    a, b, y = op.inputs[0], op.inputs[1], op.outputs[0]
    for i in (a, b, y):
        if imp.t(i).type_name != "INT8":
            raise ValueError(f"DIV tensor {imp.t(i).name!r} must be int8 (TFLM's DIV has no int16 kernel)")
    act_min, act_max = imp.act_bounds(op, y)
    attrs = op_params.div_params(imp.q(a), imp.q(b), imp.q(y), act_min=act_min, act_max=act_max)
    imp.add(op, "div", [imp.name(a), imp.name(b)], [imp.name(y)], attrs)

"""ONNX Max, Min (two inputs, numpy broadcasting, either may be constant) and PRelu
(constant slopes, e.g. one per channel) to the float IR's ``maximum``, ``minimum`` and
``prelu`` (docs/QUANTIZATION.md: the int8 forms are TFLM's MAXIMUM, MINIMUM and PRELU)."""

from __future__ import annotations

from qcompile.frontends.onnx_ops import ONNX_OPS


def _minmax_problem(node, ins, attrs, const) -> str | None:
    real = [i for i in node.input if i]
    if len(real) > 2:
        return f"{node.op_type} of {len(real)} inputs is not supported (at most 2; chain binary {node.op_type} nodes)"
    return None


def _prelu_problem(node, ins, attrs, const) -> str | None:
    if ins[1] not in const:
        return "PRelu slope must be constant"
    return None


def _minmax(conv, node, ins, attrs, op: str) -> None:
    real = [i for i in node.input if i]
    if len(real) == 1:
        conv.val[node.output[0]] = conv.act(real[0])
        return
    conv._binary(node, ins, op)


@ONNX_OPS.register("Max", problem=_minmax_problem)
def _max(conv, node, ins, attrs) -> None:
    _minmax(conv, node, ins, attrs, "maximum")


@ONNX_OPS.register("Min", problem=_minmax_problem)
def _min(conv, node, ins, attrs) -> None:
    _minmax(conv, node, ins, attrs, "minimum")


@ONNX_OPS.register("PRelu", problem=_prelu_problem)
def _prelu(conv, node, ins, attrs) -> None:
    if conv.shape(node.output[0]) != conv.shape(ins[0]):
        raise conv.fail("PRelu slope must broadcast to the input's shape")
    conv._binary(node, ins, "prelu")

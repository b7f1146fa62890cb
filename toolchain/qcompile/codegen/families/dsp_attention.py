"""Per-layer Arm DSP kernels of the attention ops for the ``dsp`` family (int8): ``softmax``,
``batch_matmul`` and ``layer_norm`` with every shape and constant a literal
(``templates/kernels/dsp/softmax.c.j2``, ``batch_matmul.c.j2``, ``layer_norm.c.j2``); :mod:`qcompile.codegen.families.dsp` registers them. The arithmetic
is the reference's exactly (docs/QUANTIZATION.md, "Attention ops on the DSP family").

- ``softmax`` (TFLM's int8 algorithm): ``x - max(row)`` takes at most 256 values, so the
  gemmlowp ``exp_on_negative_values`` of each (0 below ``diff_min``) is a compile-time table of
  int32; the per-element work is a table load, the sum, and one 64-bit multiply-add per
  output (the SRDHM by the row's reciprocal and the rounding shift fused, exact for the
  non-negative operands softmax has). The row's reciprocal is the runtime's
  ``qc_softmax_reciprocal`` (the very function the portable kernel uses).
- ``batch_matmul`` (both operands activations, TFLite BATCH_MATMUL): CMSIS-NN's
  ``arm_batch_matmul_s8`` scheme, the rhs transposed once per product into an int16 scratch
  (offset added), two lhs rows widened at a time, a 2 x 2 SMLAD register block over int16
  pairs (LDRD). Taken when ``K * max|A + lo| * max|B + ro| < 2^31`` so the int32 sums are exact.
- ``layer_norm`` (the integer LayerNorm of docs/QUANTIZATION.md): the row's sum and sum of
  squares four bytes at a time (SXTB16 + SMLAD), ``W = C (C sum x^2 - S^2) + eps C`` (the same
  integer as ``sum (C x - S)^2 + eps C``), 1/sqrt from the runtime's ``qc_layer_norm_rsqrt``,
  and both per-element roundings as one add and one arithmetic shift.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from qcompile.codegen.families.layer_math import emit_layer_kernel
from qcompile.ir import Graph, Node
from qcompile.ops import is_s16, structs
from qcompile.quant.fixedpoint import multiply_by_quantized_multiplier_greater_than_one as mbqm_gt1
from qcompile.reference.ops import SOFTMAX_MAX_DEPTH, exp_on_negative_values

if TYPE_CHECKING:
    from qcompile.codegen.lowering import Layer, Lowering

ATTENTION_OPS = ("softmax", "batch_matmul", "layer_norm")


# ---- compile-time tables and eligibility ----------------------------------------------------


def softmax_exp_table(input_multiplier: int, input_left_shift: int, diff_min: int) -> np.ndarray:
    """``e[d + 255]`` for ``d = x - max(row)`` in [-255, 0]: the reference's Q0.31 exp of the
    scaled difference, 0 where ``d < diff_min`` (those positions add nothing and output -128)."""
    d = np.arange(-255, 1, dtype=np.int64)
    active = d >= int(diff_min)
    scaled = mbqm_gt1(d, int(input_multiplier), int(input_left_shift))
    e = exp_on_negative_values(np.where(active, scaled, 0))
    return np.where(active, e, 0).astype(np.int64)


def _operand_max(offset: int) -> int:
    """Largest ``|x + offset|`` over int8 x."""
    return max(abs(-128 + int(offset)), abs(127 + int(offset)))


def _bmm_fields(graph: Graph, node: Node) -> dict | None:
    """``qc_batch_matmul_params`` fields of a batch_matmul the DSP kernel computes exactly, else None."""
    a = node.attrs
    try:
        f = structs.batch_matmul_fields(graph.tensors[node.inputs[0]].shape, graph.tensors[node.inputs[1]].shape, a)
    except ValueError:
        return None
    bound = f["depth"] * _operand_max(a["lhs_offset"]) * _operand_max(a["rhs_offset"])
    if bound >= 2**31 or not -31 <= int(a["output_shift"]) <= 31:
        return None
    return f


def attention_eligible(graph: Graph, node: Node) -> bool:
    """An int8 softmax / batch_matmul node these kernels compute (else the portable kernel)."""
    if node.op not in ATTENTION_OPS or is_s16(graph, node):
        return False
    if graph.tensors[node.inputs[0]].data is not None:
        return False
    if node.op == "layer_norm":
        try:
            structs.layer_norm_fields(graph.tensors[node.inputs[0]].shape, node.attrs)
        except ValueError:
            return False
        return all(graph.tensors[t].data is not None for t in node.inputs[1:])
    if node.op == "softmax":
        shape = graph.tensors[node.inputs[0]].shape
        left = int(node.attrs["input_left_shift"])
        return len(shape) >= 1 and 1 <= int(shape[-1]) <= SOFTMAX_MAX_DEPTH and 0 <= left <= 31
    return graph.tensors[node.inputs[1]].data is None and _bmm_fields(graph, node) is not None


def _kp(depth: int) -> int:
    return -(-int(depth) // 4) * 4


def attention_scratch(graph: Graph) -> dict[str, int]:
    """Scratch bytes: batch_matmul's int16 transposed rhs ``[N, KP]`` and two lhs rows."""
    result: dict[str, int] = {}
    for node in graph.nodes:
        if node.op == "batch_matmul" and attention_eligible(graph, node):
            f = _bmm_fields(graph, node)
            assert f is not None
            size = 2 * (f["cols"] + 2) * _kp(f["depth"])
            result[node.name] = (size + 15) // 16 * 16
    return result


# ---- lowering ----------------------------------------------------------------------------------


def _requant_form(m: int, s: int) -> str:
    """The cheapest ``qc_dsp_requant*`` (qc_dsp_helpers.h) exact for this multiplier and shift."""
    if m > 0 and -22 <= s <= 0:
        return "qc_dsp_requant_fast"
    return "qc_dsp_requant_lt1" if s <= 0 else "qc_dsp_requant"


def _lower_softmax(lo: Lowering, layer: Layer, node: Node) -> int:
    a = node.attrs
    x, y = node.inputs[0], node.outputs[0]
    f = structs.softmax_fields(lo.shape(x), a)
    table = softmax_exp_table(f["input_multiplier"], f["input_left_shift"], f["diff_min"])
    ident = lo.array("q", f"{node.name}_dsp_exp", "int32_t", table, f"{node.name} exp of x - max, Q0.31")
    lo.functions.add("qc_softmax_reciprocal")
    ctx = {"outer": f["outer"], "depth": f["depth"], "table": ident, "diff_min": f["diff_min"]}
    ctx.update(multiplier=f["input_multiplier"], left_shift=f["input_left_shift"])
    emit_layer_kernel(
        lo, layer, node, "softmax.c.j2", "const int8_t *input, int8_t *output", [lo.src(x), lo.dst(y)], **ctx
    )
    return 0


def _lower_batch_matmul(lo: Lowering, layer: Layer, node: Node) -> int:
    a = node.attrs
    f = _bmm_fields(lo.graph, node)
    assert f is not None
    m, n, k = f["rows"], f["cols"], f["depth"]
    mult, shift = int(a["output_multiplier"]), int(a["output_shift"])
    ctx = {
        "batch": f["batch"],
        "batches": math.prod(f["batch"]),
        "ls": f["lhs_strides"],
        "rs": f["rhs_strides"],
        "m": m,
        "n": n,
        "k": k,
        "kp": _kp(k),
        "a_m": 1 if f["adj_x"] else k,
        "a_k": m if f["adj_x"] else 1,
        "b_k": 1 if f["adj_y"] else n,
        "b_n": k if f["adj_y"] else 1,
        "l_off": int(a["lhs_offset"]),
        "r_off": int(a["rhs_offset"]),
        "mult": mult,
        "shift": shift,
        "requant": _requant_form(mult, shift),
        "out_off": int(a["output_offset"]),
        "act_min": int(a["act_min"]),
        "act_max": int(a["act_max"]),
    }
    sig = "const int8_t *lhs, const int8_t *rhs, int8_t *output, void *scratch"
    args = [lo.src(node.inputs[0]), lo.src(node.inputs[1]), lo.dst(node.outputs[0]), lo.scratch(node)]
    emit_layer_kernel(lo, layer, node, "batch_matmul.c.j2", sig, args, **ctx)
    return math.prod(f["batch"]) * m * n * k


def _lower_layer_norm(lo: Lowering, layer: Layer, node: Node) -> int:
    x, gamma, beta = node.inputs
    y = node.outputs[0]
    f = structs.layer_norm_fields(lo.shape(x), node.attrs)
    lo.functions.add("qc_layer_norm_rsqrt")
    ctx = {k: f[k] for k in ("rows", "cols", "eps", "out_shift", "output_offset", "act_min", "act_max")}
    ctx.update(gamma=lo.tensor_array(gamma), beta=lo.tensor_array(beta))
    emit_layer_kernel(
        lo, layer, node, "layer_norm.c.j2", "const int8_t *input, int8_t *output", [lo.src(x), lo.dst(y)], **ctx
    )
    return 2 * math.prod(lo.shape(x))


def lower_dsp_attention(lo: Lowering, layer: Layer, node: Node) -> int | None:
    """Specialise an int8 softmax / batch_matmul node (its MACs), or None for the portable kernel."""
    if not attention_eligible(lo.graph, node):
        return None
    if node.op == "softmax":
        return _lower_softmax(lo, layer, node)
    if node.op == "layer_norm":
        return _lower_layer_norm(lo, layer, node)
    return _lower_batch_matmul(lo, layer, node)


__all__ = ["ATTENTION_OPS", "attention_eligible", "attention_scratch", "lower_dsp_attention", "softmax_exp_table"]

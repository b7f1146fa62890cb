"""Per-layer DSP-family kernels of the int8 element-wise ops (``add``/``sub`` and ``mul`` with
broadcasting, ``lut``: every tabulated unary op) with shapes, strides and constants as literals
(``templates/kernels/dsp/binary.c.j2``, ``lut.c.j2``); :mod:`qcompile.codegen.families.dsp`
registers them. The arithmetic is the reference's exactly (docs/QUANTIZATION.md, "Element-wise
ops on the DSP family").

The portable kernels pay for generality per element: a broadcast walk through a function
pointer per row, the constants loaded from a struct, three SRDHM + rounding shifts for ADD.
Here the broadcast is folded at compile time into at most a few nested loops with literal
strides (dims where both operands are contiguous merged), ADD rescales each input through a
256-entry int32 table and requantises with one SMLAL when that is exact (the fused conv2d_add
epilogue's scheme, :func:`qcompile.codegen.families.layer_math.add_constants`), MUL takes the
one-SMLAL form under the same condition, and the table lookup handles four bytes per word.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from qcompile.codegen.families.layer_math import add_constants, emit_layer_kernel, requant_table
from qcompile.ir import Graph, Node
from qcompile.ops import is_s16, structs

if TYPE_CHECKING:
    from qcompile.codegen.lowering import Layer, Lowering

ELTWISE_OPS = ("add", "mul", "lut")


def collapse_broadcast(out5: tuple, st1: tuple, st2: tuple) -> list[tuple[int, int, int]]:
    """``(size, in1 stride, in2 stride)`` per loop, outermost first: size-1 dims dropped, and a dim
    merged into the next inner one when both operands step through them contiguously."""
    dims = [(int(d), int(a), int(b)) for d, a, b in zip(out5, st1, st2, strict=True) if int(d) > 1]
    if not dims:
        return [(1, 0, 0)]
    merged = [dims[-1]]
    for d, a, b in reversed(dims[:-1]):
        size, a_in, b_in = merged[0]
        if a == a_in * size and b == b_in * size:
            merged[0] = (d * size, a_in, b_in)
        else:
            merged.insert(0, (d, a, b))
    return merged


def eltwise_eligible(graph: Graph, node: Node) -> bool:
    """An int8 add/mul/lut node these kernels compute (else the portable kernel)."""
    if node.op not in ELTWISE_OPS or is_s16(graph, node):
        return False
    if node.op == "lut":
        return True
    try:
        _fields(graph, node)
    except ValueError:
        return False
    if node.op == "add":
        a = node.attrs
        return all(int(a[k]) <= 0 for k in ("input1_shift", "input2_shift", "output_shift"))
    return True


def _fields(graph: Graph, node: Node) -> dict:
    shapes = [graph.tensors[t].shape for t in node.inputs[:2]]
    make = structs.add_fields if node.op == "add" else structs.mul_fields
    return make(*shapes, node.attrs)


def _index(stride: int) -> str:
    return "j" if stride == 1 else ("0" if stride == 0 else f"j * {stride}")


def _mul_ctx(f: dict) -> dict:
    """MUL constants: the one-SMLAL requantisation when exact, else TFLM's sequence (or its fast form)."""
    m, s = int(f["output_multiplier"]), int(f["output_shift"])
    bound = max(abs(-128 + f["input1_offset"]), abs(127 + f["input1_offset"])) * max(
        abs(-128 + f["input2_offset"]), abs(127 + f["input2_offset"])
    )
    rq = requant_table(np.array([m]), np.array([s]), bound) is not None
    if m > 0 and -22 <= s <= 0:
        requant = "qc_requantize_fast"
    else:
        requant = "qc_requantize_lt1" if s <= 0 else "qc_requantize"
    return {"rq": rq, "requant": requant, "mult": m, "shift": s, "o1": f["input1_offset"], "o2": f["input2_offset"]}


def _lower_binary(lo: Lowering, layer: Layer, node: Node) -> int:
    f = _fields(lo.graph, node)
    loops = collapse_broadcast(f["out_shape"], f["in1_strides"], f["in2_strides"])
    ctx: dict = {
        "op": node.op,
        "dims": [d for d, _, _ in loops],
        "s1": [a for _, a, _ in loops],
        "s2": [b for _, _, b in loops],
        "idx1": _index(loops[-1][1]),
        "idx2": _index(loops[-1][2]),
        "out_off": f["output_offset"],
        "act_min": f["act_min"],
        "act_max": f["act_max"],
        "add": None,
    }
    if node.op == "add":
        ctx["add"] = add_constants(lo, node.name, node.attrs, 1, ("input 1", "input 2"))
    else:
        ctx.update(_mul_ctx(f))
    sig = "const int8_t *in1, const int8_t *in2, int8_t *output"
    args = [lo.src(node.inputs[0]), lo.src(node.inputs[1]), lo.dst(node.outputs[0])]
    emit_layer_kernel(lo, layer, node, "binary.c.j2", sig, args, **ctx)
    return math.prod(lo.shape(node.outputs[0])) if node.op == "mul" else 0


def _lower_lut(lo: Lowering, layer: Layer, node: Node) -> int:
    table = np.asarray(node.attrs["table"], dtype=np.int64).reshape(-1)
    if table.size != 256 or table.min() < -128 or table.max() > 127:
        raise ValueError("lut table must have 256 int8 entries")
    by_byte = table[np.arange(256) ^ 0x80]  # raw byte u is the int8 value (u ^ 0x80) - 128
    ident = lo.array("q", f"{node.name}_dsp_table", "int8_t", by_byte, f"{node.name} table by raw byte")
    x, y = node.inputs[0], node.outputs[0]
    size = math.prod(lo.shape(x))
    emit_layer_kernel(
        lo,
        layer,
        node,
        "lut.c.j2",
        "const int8_t *input, int8_t *output",
        [lo.src(x), lo.dst(y)],
        size=size,
        table=ident,
    )
    return 0


def lower_dsp_eltwise(lo: Lowering, layer: Layer, node: Node) -> int | None:
    """Specialise an int8 add/mul/lut node (MACs: mul's products), or None for the portable kernel."""
    if not eltwise_eligible(lo.graph, node):
        return None
    if node.op == "lut":
        return _lower_lut(lo, layer, node)
    return _lower_binary(lo, layer, node)


__all__ = ["ELTWISE_OPS", "collapse_broadcast", "eltwise_eligible", "lower_dsp_eltwise"]

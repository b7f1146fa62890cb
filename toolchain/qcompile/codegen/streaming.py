"""The C of a row-streamed conv pair (:mod:`qcompile.memory.streams`) for kernels that compute
a band of output rows from a window of input rows.

A family's streamed kernel is a *band call*: output rows ``[r0, r1)`` of its layer, reading
input row ``iy`` at ``input + (iy - in_first) * row`` and writing output row ``oy`` at
``output + (oy - out_first) * row`` (the portable ``qc_conv2d_band_s8`` /
``qc_conv2d_add_band_s8``, the Helium per-layer functions in stream mode). The pair's
intermediate tensor is then a *window* of ``ring`` consecutive rows (the planner's ring
size): before the consumer's output row ``j`` the loop slides the window down to the rows
``j`` reads (one ``qc_copy_s8``, a memmove of the rows it keeps), lets the producer make the
missing rows into it, and runs the consumer's row ``j`` on it. Rows always sit in order, so
every kernel reads its input rows at a constant stride, as in the layer-by-layer build; the
slide costs a copy of at most ``ring - 1`` rows per output row. The producer's rows the
consumer never reads (a strided 1x1 consumer) are not computed.

Lowering registers each streamed node's band call (:func:`emit_band`): the producer's layer
holds only a comment, the consumer's layer the loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from qcompile.ir import Node

if TYPE_CHECKING:
    from qcompile.codegen.lowering_base import Layer, LoweringBase

#: (input, in_first, output, out_first, r0, r1) -> a C call expression that returns QC_OK
BandCall = Callable[[str, str, str, str, str, str], str]


def streamed(lo: LoweringBase, node: Node) -> bool:
    """Whether ``node`` runs inside a row-streamed pair of the plan."""
    streams = lo.plan.streams
    return node.name in streams or any(s.producer == node.name for s in streams.values())


def emit_band(lo: LoweringBase, layer: Layer, node: Node, call: BandCall) -> None:
    """Record ``node``'s band call; the consumer of a pair also emits the pair's loop."""
    lo.band_calls[node.name] = call
    stream = lo.plan.streams.get(node.name)
    if stream is None:
        layer.statements.append("/* runs row by row inside the next layer (streamed through a window of rows) */")
        return
    lo.functions.add("qc_copy_s8")
    a = lo.graph.nodes[stream.step - 1]
    produce = lo.band_calls[a.name]
    t_shape = lo.shape(node.inputs[0])
    w_shape = lo.shape(node.inputs[1])
    attrs = node.attrs
    dh = int(attrs.get("dilations", (1, 1))[0])
    sh, pt, kh = int(attrs["strides"][0]), int(attrs["pads"][0]), int(w_shape[1])
    out_h, in_h, row, ring = lo.shape(node.outputs[0])[1], t_shape[1], stream.row_bytes, stream.ring
    win = f"({lo.dst(node.inputs[0])})"
    fail_a, fail_b = f"return {layer.index};", f"return {layer.index + 1};"
    made_call = produce(lo.src(a.inputs[0]), "0", f"{win} + (made - base) * {row}", "made", "made", "need")
    use_call = call(f"(const int8_t *){win}", "base", lo.dst(node.outputs[0]), "0", "row", "row + 1")
    lines = [
        f"/* layers {layer.index - 1} and {layer.index} streamed: layer {layer.index - 1}'s output in a window of "
        f"{ring} rows */",
        "{",
        "    int32_t row;",
        "    int32_t made = 0;",
        "    int32_t base = 0;",
        f"    for (row = 0; row < {out_h}; ++row) {{",
        f"        int32_t need = row * {sh} + {(kh - 1) * dh + 1 - pt};",
        "        int32_t first;",
        f"        need = need < 0 ? 0 : (need > {in_h} ? {in_h} : need);",
        f"        first = need > {ring} ? need - {ring} : 0;",
        "        if (first > base) {",
        f"            if (made > first && qc_copy_s8({win} + (first - base) * {row}, {win}, (made - first) * {row}) "
        "!= QC_OK) {",
        f"                {fail_b}",
        "            }",
        "            made = made > first ? made : first;",
        "            base = first;",
        "        }",
        f"        if (made < need && {made_call} != QC_OK) {{",
        f"            {fail_a}",
        "        }",
        "        made = made > need ? made : need;",
        f"        if ({use_call} != QC_OK) {{",
        f"            {fail_b}",
        "        }",
        "    }",
        "}",
    ]
    layer.statements.append("\n    ".join(lines))


__all__ = ["BandCall", "emit_band", "streamed"]

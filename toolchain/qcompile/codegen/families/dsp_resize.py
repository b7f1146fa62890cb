"""Per-layer DSP-family kernel of the int8 bilinear resize (TFLM's ``ResizeBilinearInteger``)
with the coordinate tables computed at compile time (``templates/kernels/dsp/resize_bilinear.c.j2``);
:mod:`qcompile.codegen.families.dsp` registers it. Same integers as the reference
(docs/QUANTIZATION.md, "Attention, element-wise ops and transposed conv on the DSP family").

The four-weight blend ``sum x * wy * wx`` is distributive: ``acc = t0 (1024 - dy) + t1 dy`` with
``t_r = x[r, x0] (1024 - dx) + x[r, x1] dx``, each ``t`` one SMUAD of the packed int16 pair
``(x[r, x0], x[r, x1])`` with the compile-time weight word ``(1024 - dx, dx)``. The sum is exact
in int32 when ``128 * max(|1024 - dy| + |dy|) * max(|1024 - dx| + |dx|) < 2^31`` (checked; the
weights leave [0, 1024] only at clamped edges), and the reference's rounding
``(acc +- 2^19) / 2^20`` (C division) is ``(acc + 2^19 - [acc <= 0]) >> 20``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from qcompile.codegen.families.layer_math import _wrap32, emit_layer_kernel
from qcompile.ir import Graph, Node
from qcompile.ops import is_s16, structs
from qcompile.reference.kernels.resize import bilinear_axis

if TYPE_CHECKING:
    from qcompile.codegen.lowering import Layer, Lowering


def _axes(graph: Graph, node: Node) -> tuple[dict, tuple, tuple] | None:
    """(resize fields, (i0, i1, d) along y, along x) of an int8 bilinear resize, else None."""
    if node.op != "resize_bilinear" or is_s16(graph, node):
        return None
    try:
        f = structs.resize_fields(graph.tensors[node.inputs[0]].shape, node.attrs)
    except ValueError:
        return None
    align, half = bool(f["align_corners"]), bool(f["half_pixel_centers"])
    ys = bilinear_axis(f["in_h"], f["out_h"], align, half)
    xs = bilinear_axis(f["in_w"], f["out_w"], align, half)
    return f, ys, xs


def _spread(d: np.ndarray) -> int:
    return int(np.max(np.abs(1024 - d) + np.abs(d)))


def resize_eligible(graph: Graph, node: Node) -> bool:
    """An int8 bilinear resize whose blend the int32 SMUAD form computes exactly."""
    axes = _axes(graph, node)
    if axes is None:
        return False
    _, ys, xs = axes
    return 128 * _spread(ys[2]) * _spread(xs[2]) < 2**31 and _spread(xs[2]) < 2**15


def lower_dsp_resize(lo: Lowering, layer: Layer, node: Node) -> int | None:
    """Specialise an int8 bilinear resize, or None for the portable kernel."""
    if not resize_eligible(lo.graph, node):
        return None
    axes = _axes(lo.graph, node)
    assert axes is not None
    f, (y0, y1, dy), (x0, x1, dx) = axes
    c = f["channels"]
    rows = np.stack([y0 * f["in_w"] * c, y1 * f["in_w"] * c, dy], axis=1)
    cols = np.stack([x0 * c, x1 * c, _wrap32(((1024 - dx) & 0xFFFF) | ((dx & 0xFFFF) << 16))], axis=1)
    ctx = dict(f)
    ctx["rows"] = lo.array("q", f"{node.name}_dsp_rows", "int32_t", rows, f"{node.name} row offsets y0, y1 and dy")
    ctx["cols"] = lo.array("q", f"{node.name}_dsp_cols", "int32_t", cols, f"{node.name} x0, x1 and (1024 - dx, dx)")
    x, y = node.inputs[0], node.outputs[0]
    sig = "const int8_t *input, int8_t *output"
    emit_layer_kernel(lo, layer, node, "resize_bilinear.c.j2", sig, [lo.src(x), lo.dst(y)], **ctx)
    return 0


__all__ = ["lower_dsp_resize", "resize_eligible"]

"""Per-layer Arm DSP (SIMD) 16x8 kernels (int16 activations, int8 weights, int64 bias) for the
``dsp`` family: ``conv2d`` (general and 1x1), ``depthwise_conv2d`` and ``fully_connected``.

TFLM's 16x8 arithmetic (:mod:`qcompile.reference.s16`) is ``acc = bias + sum x * w`` in int64,
then the int64 MultiplyByQuantizedMultiplier (16-bit multiplier ``rm``, one rounding shift by
``15 - shift``). The kernels keep that result exactly while accumulating in int32 with SMLAD:

- every product is at most ``32768 * 128 = 2^22`` in magnitude, and the generator bounds each
  channel's sum by ``32768 * sum |w|`` at compile time; a layer whose bound reaches 2^31 keeps
  the portable kernel, so the int32 SMLAD sums are the exact integer sums;
- when ``|bias| + 32768 * sum |w| < 2^31`` for every channel (``acc32``) the accumulators start at
  the bias (an int32 array) and the requantisation multiplies an int32 by ``rm`` (one SMULL);
  otherwise they start at 0 and the int64 bias is added before the int64 requantisation.

The conv (and FC, rows as pixels) is CMSIS-NN's ``arm_nn_mat_mult_kernel_s16`` scheme: an int16
im2col of two output pixels (zeros for padded taps: int16 zero points are 0) and a 2-pixel x
2-channel register block, weights int8 in flash, four taps of a channel in one word in the
order ``w0 w2 w1 w3`` so that SXTB16 / SXTB16 ROR #8 give the int16 pairs (w0, w1) and (w2, w3)
that match the input pairs one LDRD of the im2col fetches. The depthwise kernel keeps four
channels' accumulators in registers: per tap two input words (channels c, c+1 and c+2, c+3),
one LDRD of int16 weight pairs widened at compile time, SMLABB/SMLATT; the last ``C % 4``
channels are scalar.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from qcompile.codegen.families import render_kernel_template
from qcompile.codegen.families.layer_math import _int_vector, _wrap32, depthwise_geometry
from qcompile.codegen.names import comment_text
from qcompile.ir import Graph, Node
from qcompile.ops import is_s16

if TYPE_CHECKING:
    from qcompile.codegen.lowering import Layer, Lowering

_X_MAX = 32768
"""Largest |int16| value: the bound of every product is ``_X_MAX * |w|``."""

_CONV_OPS = ("conv2d", "fully_connected")


def pack_conv_weights_s16(w: np.ndarray) -> np.ndarray:
    """``[OC, K]`` int8 -> int32 words the 2x2 SMLAD loop reads (K padded to 4, OC to 2 with zeros).

    Per channel pair (c, c+1) and quad of taps: c's word then c+1's, each word the bytes
    ``w0 w2 w1 w3`` (byte 0 lowest), so SXTB16 gives (w0, w1) and SXTB16 ROR #8 gives (w2, w3).
    """
    w = np.asarray(w, dtype=np.int64)
    oc, k = w.shape
    kpad = -(-k // 4) * 4
    ocp = oc + (oc & 1)
    padded = np.zeros((ocp, kpad), dtype=np.int64)
    padded[:oc, :k] = w
    quads = padded.reshape(ocp // 2, 2, kpad // 4, 4)[..., [0, 2, 1, 3]].transpose(0, 2, 1, 3).reshape(-1, 4)
    return _wrap32(((quads & 0xFF) << np.array([0, 8, 16, 24])).sum(axis=1))


def pack_depthwise_weights_s16(w: np.ndarray) -> np.ndarray:
    """``[KH, KW, C]`` int8 (C a multiple of 4) -> int32 words ``[channel quad][tap][(c, c+1), (c+2, c+3)]``,
    each word two int16 lanes (bottom = the first channel), matching two input words."""
    w = np.asarray(w, dtype=np.int64)
    kh, kw, c = w.shape
    lanes = w.reshape(kh * kw, c // 4, 4).transpose(1, 0, 2).reshape(-1, 2)
    return _wrap32((lanes[:, 0] & 0xFFFF) | ((lanes[:, 1] & 0xFFFF) << 16))


def requant_s16_table(multiplier: Any, shift: Any, n: int) -> np.ndarray | None:
    """``[rm, 15 - shift]`` per channel (TFLM's int64 MBQM with its 16-bit multiplier), or None when
    a multiplier is negative or a shift is outside [-31, 7] (the portable kernel then refuses it)."""
    m = _int_vector(multiplier, n)
    s = _int_vector(shift, n)
    if m.min() < 0 or s.min() < -31 or s.max() > 7:
        return None
    rm = np.where(m < 0x7FFF0000, (m + (1 << 15)) >> 16, 0x7FFF)
    return np.stack([rm, 15 - s], axis=1).reshape(-1)


def sum_bounds(w_rows: np.ndarray, bias: np.ndarray | None) -> tuple[int, int]:
    """(max ``32768 * sum |w|``, max ``|bias| + 32768 * sum |w|``) over the channels (rows of ``w_rows``)."""
    s = _X_MAX * np.abs(np.asarray(w_rows, dtype=np.int64)).sum(axis=1)
    b = np.zeros_like(s) if bias is None else np.abs(np.asarray(bias, dtype=np.int64).reshape(-1))
    return int(s.max()), int((s + b).max())


# ---- eligibility ---------------------------------------------------------------------------


def _weights_rows(graph: Graph, node: Node) -> np.ndarray | None:
    """``[channels, taps]`` int8 weights of a layer, or None when they are not a constant."""
    w = graph.tensors[node.inputs[1]].data
    if w is None:
        return None
    w = np.asarray(w, dtype=np.int64)
    if node.op == "depthwise_conv2d":
        return w.reshape(-1, w.shape[-1]).T
    return w.reshape(w.shape[0], -1)


def _bias64(graph: Graph, node: Node) -> np.ndarray | None | bool:
    """The int64 bias values, None without a bias, False for an int32 bias (TFLM's other variant)."""
    if len(node.inputs) > 2 and node.inputs[2]:
        t = graph.tensors[node.inputs[2]]
        if t.dtype != "int64" or t.data is None:
            return False
        return np.asarray(t.data, dtype=np.int64).reshape(-1)
    return None


def eligible_s16(graph: Graph, node: Node) -> bool:
    """A 16x8 conv/depthwise/FC node these kernels compute exactly (else the portable kernel)."""
    if not is_s16(graph, node) or node.op not in (*_CONV_OPS, "depthwise_conv2d"):
        return False
    a = node.attrs
    rows = _weights_rows(graph, node)
    bias = _bias64(graph, node)
    if rows is None or bias is False or graph.tensors[node.inputs[1]].dtype != "int8":
        return False
    if int(a.get("input_offset", 0)) != 0 or int(a.get("output_offset", 0)) != 0:
        return False
    if node.op != "fully_connected":
        xs = graph.tensors[node.inputs[0]].shape
        if len(xs) != 4 or tuple(int(d) for d in a["dilations"]) != (1, 1) or min(int(p) for p in a["pads"]) < 0:
            return False
        if node.op == "conv2d" and int(a.get("groups", 1)) != 1:
            return False
        if node.op == "depthwise_conv2d" and int(a["depth_multiplier"]) != 1:
            return False
    if requant_s16_table(a["multiplier"], a["shift"], rows.shape[0]) is None:
        return False
    return sum_bounds(rows, None if bias is None else bias)[0] < 2**31


def dsp_s16_scratch(graph: Graph) -> dict[str, int]:
    """Scratch bytes of the 16x8 conv/FC layers these kernels run: the int16 im2col of two pixels."""
    result: dict[str, int] = {}
    for node in graph.nodes:
        if node.op in _CONV_OPS and eligible_s16(graph, node):
            rows = _weights_rows(graph, node)
            kpad = -(-int(rows.shape[1]) // 4) * 4
            result[node.name] = (2 * kpad * 2 + 15) // 16 * 16
    return result


# ---- lowering ------------------------------------------------------------------------------


def _requant_ctx(lo: Lowering, node: Node, rows: np.ndarray, pad_to: int) -> dict[str, Any]:
    """Bias array (int32 when ``acc32``, else int64) and the requantisation table: ``[rm, 2^(total-1),
    total]`` per channel for ``qc_requantize_s16_x32`` (``fast``: acc32 and every shift >= -16), else
    ``[multiplier, shift]`` for ``qc_requantize_s64``."""
    a = node.attrs
    n = rows.shape[0]
    bias = _bias64(lo.graph, node)
    b = np.zeros(n, dtype=np.int64) if bias is None else bias
    acc32 = sum_bounds(rows, b)[1] < 2**31
    b = np.concatenate([b, np.zeros(pad_to - n, dtype=np.int64)])
    table = requant_s16_table(a["multiplier"], a["shift"], n).reshape(-1, 2)
    fast = acc32 and int(table[:, 1].max()) <= 31
    if fast:
        values = np.stack([table[:, 0], np.left_shift(1, table[:, 1] - 1), table[:, 1]], axis=1)
        what = "rm, 2^(total-1), total"
    else:
        values = np.stack([_int_vector(a["multiplier"], n), _int_vector(a["shift"], n)], axis=1)
        what = "multiplier, shift"
    return {
        "acc32": acc32,
        "fast": fast,
        "bias": lo.array("q", f"{node.name}_dsp16_bias", "int32_t" if acc32 else "int64_t", b, f"{node.name} bias"),
        "rq": lo.array("q", f"{node.name}_dsp16_rq", "int32_t", values, f"{node.name} requant {what}"),
        "act_min": int(a["act_min"]),
        "act_max": int(a["act_max"]),
    }


def _emit(lo: Lowering, layer: Layer, fn: str, source: str, node: Node) -> None:
    lo.kernel_sources.append(source)
    layer.params.append(f"int {fn}(const int16_t *input, int16_t *output, void *scratch);")
    call = f"{fn}({lo.src(node.inputs[0])}, {lo.dst(node.outputs[0])}, {lo.scratch(node)})"
    layer.statements.append(f"if ({call} != QC_OK) {{\n        return {layer.index + 1};\n    }}")


def _lower_conv(lo: Lowering, layer: Layer, node: Node) -> int:
    a = node.attrs
    x, y = node.inputs[0], node.outputs[0]
    rows = _weights_rows(lo.graph, node)
    oc, k = rows.shape
    ys = lo.shape(y)
    if node.op == "fully_connected":
        n_rows = math.prod(lo.shape(x)) // k
        geo = {"in_h": 1, "in_w": n_rows, "in_c": k, "out_h": 1, "out_w": n_rows, "kh": 1, "kw": 1}
        geo.update(batches=1, sh=1, sw=1, pt=0, pl=0)
    else:
        xs = lo.shape(x)
        _, kh, kw, c = lo.shape(node.inputs[1])
        geo = {"in_h": xs[1], "in_w": xs[2], "in_c": c, "out_h": ys[1], "out_w": ys[2], "kh": kh, "kw": kw}
        geo.update(batches=xs[0], sh=int(a["strides"][0]), sw=int(a["strides"][1]))
        geo.update(pt=int(a["pads"][0]), pl=int(a["pads"][1]))
    kpad = -(-k // 4) * 4
    fn = f"{lo.cname}_l{layer.index}_dsp16"
    packed = lo.array("w", f"{node.name}_dsp16_w", "int32_t", pack_conv_weights_s16(rows), f"{node.name} DSP weights")
    source = render_kernel_template(
        "dsp",
        "conv_s16.c.j2",
        fn=fn,
        index=layer.index,
        comment=comment_text(f"{node.op} {node.name} (16x8)"),
        **geo,
        out_c=oc,
        oc_pad=oc + (oc & 1),
        pixels=geo["out_h"] * geo["out_w"],
        k=k,
        kpad=kpad,
        weights=packed,
        **_requant_ctx(lo, node, rows, oc + (oc & 1)),
    )
    _emit(lo, layer, fn, source, node)
    return math.prod(ys) * k


def _lower_depthwise(lo: Lowering, layer: Layer, node: Node) -> int:
    w = np.asarray(lo.graph.tensors[node.inputs[1]].data, dtype=np.int64)
    kh, kw, c = w.shape
    rows = _weights_rows(lo.graph, node)
    quads = c - c % 4
    fn = f"{lo.cname}_l{layer.index}_dsp16"
    ctx: dict[str, Any] = {"weights": None, "tail_weights": None, "quads": quads, "tail": c - quads}
    if quads:
        packed = pack_depthwise_weights_s16(w[:, :, :quads])
        ctx["weights"] = lo.array("w", f"{node.name}_dsp16_w", "int32_t", packed, f"{node.name} DSP int16 pairs")
    if c > quads:
        ctx["tail_weights"] = lo.array("w", f"{node.name}_dsp16_wt", "int16_t", rows[quads:], f"{node.name} tail")
    ctx["zero_row"] = lo.array("q", f"{node.name}_dsp16_zero", "int16_t", np.zeros(c), f"{node.name} padding row")
    source = render_kernel_template(
        "dsp",
        "depthwise_s16.c.j2",
        fn=fn,
        index=layer.index,
        comment=comment_text(f"{node.op} {node.name} (16x8)"),
        **depthwise_geometry(lo, node),
        **ctx,
        **_requant_ctx(lo, node, rows, c),
    )
    _emit(lo, layer, fn, source, node)
    return math.prod(lo.shape(node.outputs[0])) * kh * kw


def lower_dsp_s16(lo: Lowering, layer: Layer, node: Node) -> int | None:
    """Specialise a 16x8 node (its MACs), or None for the portable ``qc_<op>_s16`` kernel."""
    if not eligible_s16(lo.graph, node):
        return None
    if node.op == "depthwise_conv2d":
        return _lower_depthwise(lo, layer, node)
    return _lower_conv(lo, layer, node)


__all__ = [
    "dsp_s16_scratch",
    "eligible_s16",
    "lower_dsp_s16",
    "pack_conv_weights_s16",
    "pack_depthwise_weights_s16",
    "requant_s16_table",
    "sum_bounds",
]

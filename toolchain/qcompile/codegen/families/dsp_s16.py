"""Per-layer Arm DSP (SIMD) 16x8 kernels (int16 activations, int8 weights, int64 bias) for the
``dsp`` family: ``conv2d`` (general and 1x1), ``depthwise_conv2d``, ``fully_connected``, and the
int16 ``add`` (no broadcast) and ``mean`` (H, W) with literal constants (docs/QUANTIZATION.md,
"16x8 on the DSP family").

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

from qcompile.codegen.families.layer_math import _int_vector, _wrap32, depthwise_geometry, emit_layer_kernel
from qcompile.ir import Graph, Node
from qcompile.ops import is_s16, structs

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


def _add_ok(graph: Graph, node: Node) -> bool:
    """An int16 ADD/SUB without broadcasting whose constants keep ``qc_requantize_fast`` exact."""
    a = node.attrs
    shapes = {tuple(graph.tensors[t].shape) for t in (*node.inputs[:2], node.outputs[0])}
    if len(shapes) != 1 or any(graph.tensors[t].data is not None for t in node.inputs[:2]):
        return False
    if int(a["left_shift"]) != 15 or any(int(a[k]) != 0 for k in ("input1_offset", "input2_offset", "output_offset")):
        return False
    if min(int(a[f"{k}_multiplier"]) for k in ("input1", "input2", "output")) <= 0:
        return False
    return all(-22 <= int(a[f"{k}_shift"]) <= 0 for k in ("input1", "input2")) and -16 <= int(a["output_shift"]) <= 0


def _mean_ok(graph: Graph, node: Node) -> bool:
    """A MEAN over H and W of an int16 NHWC tensor (at most 65536 values per int32 sum)."""
    a = node.attrs
    xs = graph.tensors[node.inputs[0]].shape
    if len(xs) != 4 or int(xs[1]) * int(xs[2]) > 1 << 16 or not -31 <= int(a["shift"]) <= 30:
        return False
    return int(a["input_offset"]) == 0 and int(a["output_offset"]) == 0


def eligible_s16(graph: Graph, node: Node) -> bool:
    """A 16x8 conv/depthwise/FC/add/mean node these kernels compute exactly (else the portable kernel)."""
    if is_s16(graph, node) and node.op == "add":
        return _add_ok(graph, node)
    if is_s16(graph, node) and node.op == "mean":
        return _mean_ok(graph, node)
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


def _layer_kernel(lo: Lowering, layer: Layer, node: Node, template: str, sig: str, args: list[str], **ctx: Any) -> None:
    """This layer's 16x8 function ``<cname>_l<i>_dsp16(sig)`` (:func:`emit_layer_kernel`)."""
    emit_layer_kernel(lo, layer, node, template, sig, args, suffix="dsp16", label=" (16x8)", **ctx)


_IO_SIG = "const int16_t *input, int16_t *output, void *scratch"


def _io_args(lo: Lowering, node: Node) -> list[str]:
    return [lo.src(node.inputs[0]), lo.dst(node.outputs[0]), lo.scratch(node)]


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
    packed = lo.array("w", f"{node.name}_dsp16_w", "int32_t", pack_conv_weights_s16(rows), f"{node.name} DSP weights")
    _layer_kernel(
        lo,
        layer,
        node,
        "conv_s16.c.j2",
        _IO_SIG,
        _io_args(lo, node),
        **geo,
        out_c=oc,
        oc_pad=oc + (oc & 1),
        pixels=geo["out_h"] * geo["out_w"],
        k=k,
        kpad=kpad,
        weights=packed,
        **_requant_ctx(lo, node, rows, oc + (oc & 1)),
    )
    return math.prod(ys) * k


def _lower_depthwise(lo: Lowering, layer: Layer, node: Node) -> int:
    w = np.asarray(lo.graph.tensors[node.inputs[1]].data, dtype=np.int64)
    kh, kw, c = w.shape
    rows = _weights_rows(lo.graph, node)
    quads = c - c % 4
    ctx: dict[str, Any] = {"weights": None, "tail_weights": None, "quads": quads, "tail": c - quads}
    if quads:
        packed = pack_depthwise_weights_s16(w[:, :, :quads])
        ctx["weights"] = lo.array("w", f"{node.name}_dsp16_w", "int32_t", packed, f"{node.name} DSP int16 pairs")
    if c > quads:
        ctx["tail_weights"] = lo.array("w", f"{node.name}_dsp16_wt", "int16_t", rows[quads:], f"{node.name} tail")
    ctx["zero_row"] = lo.array("q", f"{node.name}_dsp16_zero", "int16_t", np.zeros(c), f"{node.name} padding row")
    geo = depthwise_geometry(lo, node)
    rq = _requant_ctx(lo, node, rows, c)
    _layer_kernel(lo, layer, node, "depthwise_s16.c.j2", _IO_SIG, _io_args(lo, node), **geo, **ctx, **rq)
    return math.prod(lo.shape(node.outputs[0])) * kh * kw


def _lower_add(lo: Lowering, layer: Layer, node: Node) -> int:
    a = node.attrs
    consts = {f"{t}{j}": int(a[f"{k}_{f}"]) for j, k in (("1", "input1"), ("2", "input2"), ("o", "output"))
              for t, f in (("m", "multiplier"), ("s", "shift"))}  # fmt: skip
    sig = "const int16_t *in1, const int16_t *in2, int16_t *output"
    args = [lo.src(node.inputs[0]), lo.src(node.inputs[1]), lo.dst(node.outputs[0])]
    size = math.prod(lo.shape(node.outputs[0]))
    bounds = {"act_min": int(a["act_min"]), "act_max": int(a["act_max"])}
    _layer_kernel(
        lo, layer, node, "add_s16.c.j2", sig, args, size=size, subtract=bool(a["subtract"]), **consts, **bounds,
        **_add_requant_exprs(consts),
    )  # fmt: skip
    return 0


def _add_requant_exprs(k: dict[str, int]) -> dict[str, str]:
    """C expressions of the int16 ADD's three rescales. An input rescale with a negative shift is
    ``qc_requantize_x2`` of ``x * 2^16`` (exact: |x * 2^16| <= 2^31 and x * 2^16 = 2 (x * 2^15));
    the output one too when the rescaled inputs' largest magnitudes sum below 2^30 (so ``2 * raw``
    cannot wrap). Otherwise ``qc_requantize_fast`` (its own exactness argument, ``_add_ok``)."""
    from qcompile.quant.fixedpoint import multiply_by_quantized_multiplier

    def x2(value: str, m: int, s: int) -> str:
        return f"qc_requantize_x2({value}, {m}, {1 << (-s - 1)}, {-s})"

    exprs, biggest = {}, 0
    for j in ("1", "2"):
        m, s = k[f"m{j}"], k[f"s{j}"]
        ends = multiply_by_quantized_multiplier(np.array([-32768 * 32768, 32767 * 32768]), m, s)
        biggest += int(np.abs(ends).max())
        exprs[f"rq{j}"] = x2(f"in{j}[i] * 65536", m, s) if s < 0 else f"qc_requantize_fast(in{j}[i] * 32768, {m}, {s})"
    m, s = k["mo"], k["so"]
    exprs["rqo"] = x2("2 * raw", m, s) if s < 0 and biggest < 2**30 else f"qc_requantize_fast(raw, {m}, {s})"
    return exprs


def _lower_mean(lo: Lowering, layer: Layer, node: Node) -> int:
    n, h, w, c = lo.shape(node.inputs[0])
    sig = "const int16_t *input, int16_t *output"
    args = [lo.src(node.inputs[0]), lo.dst(node.outputs[0])]
    rq = {"multiplier": int(node.attrs["multiplier"]), "shift": int(node.attrs["shift"])}
    _layer_kernel(lo, layer, node, "mean_s16.c.j2", sig, args, batches=n, pixels=h * w, channels=c, **rq)
    return 0


# ---- pools, MUL and the int8 <-> int16 requantisations ----------------------------------


def _pool_fields(graph: Graph, node: Node) -> dict[str, int] | None:
    """``qc_pool_params`` fields of a 16x8 pool whose every window overlaps the input (else None:
    the portable kernel keeps the empty-window cases)."""
    try:
        f = structs.pool_fields(graph.tensors[node.inputs[0]].shape, node.attrs, bits=16)
    except (KeyError, ValueError):
        return None
    if node.op == "avg_pool2d" and f["kernel_h"] * f["kernel_w"] > 32768:
        return None
    for n_out, stride, pad, k, size in (("out_h", "stride_h", "pad_top", "kernel_h", "in_h"),
                                        ("out_w", "stride_w", "pad_left", "kernel_w", "in_w")):  # fmt: skip
        if f[pad] >= f[k] or (f[n_out] - 1) * f[stride] - f[pad] >= f[size]:
            return None
    return f


def _mul_layout(graph: Graph, node: Node) -> tuple[int, int, int, int] | None:
    """(outer, inner, big, small) of an int16 MUL the DSP kernel runs: input ``big`` (1 or 2) has the
    output's shape, input ``small`` the same or the output's trailing dims (``inner`` elements, repeated
    ``outer`` times: the squeeze-excite channel scale); None for other broadcasts or nonzero offsets."""
    a = node.attrs
    if any(int(a[k]) != 0 for k in ("input1_offset", "input2_offset", "output_offset")):
        return None
    if not -31 <= int(a["output_shift"]) <= 31:
        return None
    out = tuple(int(d) for d in graph.tensors[node.outputs[0]].shape)
    shapes = [tuple(int(d) for d in graph.tensors[t].shape) for t in node.inputs[:2]]
    for big, small in ((1, 2), (2, 1)):
        if shapes[big - 1] != out:
            continue
        trail = shapes[small - 1]
        while trail and trail[0] == 1:
            trail = trail[1:]
        inner = math.prod(trail)
        if inner and tuple(out[len(out) - len(trail) :]) == trail:
            return math.prod(out) // inner, inner, big, small
    return None


def _lower_pool(lo: Lowering, layer: Layer, node: Node) -> int:
    f = _pool_fields(lo.graph, node)
    geo = {"batches": f["batches"], "in_h": f["in_h"], "in_w": f["in_w"], "channels": f["channels"]}
    geo.update(out_h=f["out_h"], out_w=f["out_w"], kh=f["kernel_h"], kw=f["kernel_w"], sh=f["stride_h"])
    geo.update(sw=f["stride_w"], pt=f["pad_top"], pl=f["pad_left"], act_min=f["act_min"], act_max=f["act_max"])
    sig = "const int16_t *input, int16_t *output"
    args = [lo.src(node.inputs[0]), lo.dst(node.outputs[0])]
    _layer_kernel(lo, layer, node, "pool_s16.c.j2", sig, args, average=node.op == "avg_pool2d", **geo)
    return 0


def _lower_mul(lo: Lowering, layer: Layer, node: Node) -> int:
    outer, inner, big, small = _mul_layout(lo.graph, node)
    a = node.attrs
    ctx = {"multiplier": int(a["output_multiplier"]), "shift": int(a["output_shift"])}
    ctx["rq"] = requantize_fn(ctx["multiplier"], ctx["shift"], 0, min(int(a["act_max"]), 32767))
    ctx.update(act_min=int(a["act_min"]), act_max=int(a["act_max"]), outer=outer, inner=inner, big=big, small=small)
    sig = "const int16_t *in1, const int16_t *in2, int16_t *output"
    args = [lo.src(node.inputs[0]), lo.src(node.inputs[1]), lo.dst(node.outputs[0])]
    _layer_kernel(lo, layer, node, "mul_s16.c.j2", sig, args, **ctx)
    return outer * inner


_C_TYPES = {"int8": "int8_t", "int16": "int16_t"}


def requantize_fn(multiplier: int, shift: int, offset: int, hi: int) -> str:
    """``qc_requantize_fast`` when it gives the same clamped result as ``qc_requantize`` (m > 0,
    shift in [-22, 0]: its saturated sums are >= 2^(31 + shift) - 1, which still clamp to ``hi``
    after ``+ offset``), else ``qc_requantize`` (docs/QUANTIZATION.md, "16x8 on the DSP family")."""
    if multiplier > 0 and -22 <= shift <= 0 and (1 << (31 + shift)) - 1 + offset >= hi:
        return "qc_requantize_fast"
    return "qc_requantize"


def requantize_ok(graph: Graph, node: Node) -> bool:
    """An int8 -> int16, int16 -> int8 or int16 -> int16 QUANTIZE in the portable kernel's ranges."""
    a = node.attrs
    src, dst = (graph.tensors[t].dtype for t in (node.inputs[0], node.outputs[0]))
    if node.op != "requantize" or src not in _C_TYPES or dst not in _C_TYPES or src == dst == "int8":
        return False
    if int(a["output_bits"]) != np.dtype(dst).itemsize * 8 or not -31 <= int(a["shift"]) <= 30:
        return False
    return -32768 <= int(a["input_offset"]) <= 32768 and -32768 <= int(a["output_offset"]) <= 32767


def lower_dsp_requantize(lo: Lowering, layer: Layer, node: Node) -> int | None:
    """A QUANTIZE between int8 and int16 as a layer function (an int8 input: a 256-entry table), or None."""
    if not requantize_ok(lo.graph, node):
        return None
    from qcompile.reference.s16 import requantize

    a = node.attrs
    src, dst = (lo.graph.tensors[t].dtype for t in (node.inputs[0], node.outputs[0]))
    keys = ("input_offset", "output_offset", "multiplier", "shift", "output_bits")
    consts = {k: int(a[k]) for k in keys}
    info = np.iinfo(np.dtype(dst))
    ctx: dict[str, Any] = {"table": None, "src": src, "dst": dst, "src_c": _C_TYPES[src], "dst_c": _C_TYPES[dst]}
    if src == "int8":
        values = requantize(np.arange(-128, 128, dtype=np.int8), **consts)
        ctx["table"] = lo.array("q", f"{node.name}_dsp16_table", _C_TYPES[dst], values, f"{node.name} requantised int8")
    off = consts["output_offset"]
    ctx.update(q_lo=int(info.min), q_hi=int(info.max), lo_m=int(info.min) - off, hi_m=int(info.max) - off)
    m, sh = consts["multiplier"], consts["shift"]
    if m > 0 and -31 <= sh <= -1:  # |2 (x + in_off)| <= 2^17: qc_requantize_x2 is exact (one SMLAL)
        ctx["rq"] = f"qc_requantize_x2(2 * a, {m}, {1 << (-sh - 1)}, {-sh})"
    else:
        ctx["rq"] = f"{requantize_fn(m, sh, off, int(info.max))}(a, {m}, {sh})"
    sig = f"const {ctx['src_c']} *input, {ctx['dst_c']} *output"
    args = [lo.src(node.inputs[0]), lo.dst(node.outputs[0])]
    size = math.prod(lo.shape(node.inputs[0]))
    _layer_kernel(lo, layer, node, "requantize_s16.c.j2", sig, args, size=size, **consts, **ctx)
    return 0


def lower_dsp_s16(lo: Lowering, layer: Layer, node: Node) -> int | None:
    """Specialise a 16x8 node (its MACs), or None for the portable ``qc_<op>_s16`` kernel."""
    if node.op in ("max_pool2d", "avg_pool2d") and is_s16(lo.graph, node):
        return None if _pool_fields(lo.graph, node) is None else _lower_pool(lo, layer, node)
    if node.op == "mul" and is_s16(lo.graph, node):
        return None if _mul_layout(lo.graph, node) is None else _lower_mul(lo, layer, node)
    if node.op == "requantize":
        return lower_dsp_requantize(lo, layer, node)
    if not eligible_s16(lo.graph, node):
        return None
    if node.op == "add":
        return _lower_add(lo, layer, node)
    if node.op == "mean":
        return _lower_mean(lo, layer, node)
    if node.op == "depthwise_conv2d":
        return _lower_depthwise(lo, layer, node)
    return _lower_conv(lo, layer, node)


__all__ = [
    "dsp_s16_scratch",
    "eligible_s16",
    "lower_dsp_requantize",
    "lower_dsp_s16",
    "pack_conv_weights_s16",
    "pack_depthwise_weights_s16",
    "requant_s16_table",
    "requantize_ok",
    "sum_bounds",
]

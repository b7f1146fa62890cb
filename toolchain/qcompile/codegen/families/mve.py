"""Per-layer Arm Helium (MVE, M-profile Vector Extension) int8 kernels for Cortex-M55/M85.

Like the DSP family (:mod:`qcompile.codegen.families.dsp`), each conv-like layer gets its
own C function rendered from ``templates/kernels/mve/*.c.j2`` with every shape, offset and
requantisation constant a literal and its weights packed at compile time, here for 16-lane
loads. The kernels use the ACLE ``arm_mve.h`` intrinsics through ``runtime_c/include/qc_mve.h``,
which emulates them bit for bit on a host without MVE so ``qcompile verify`` proves the
very same source there; the QEMU tests (``mps3-an547``) prove the real instructions.

What is specialised (anything else falls back to the portable runtime kernel):

- ``conv2d`` with ``groups == 1`` and dilation 1 (general, 1x1, strided, first layers with
  few input channels) and ``fully_connected`` (rows as pixels): the K taps of an output are
  segments of contiguous int8, either the kernel rows of the input itself (interior pixels)
  or an im2col copy of the window (border pixels, and layers whose rows are too short to
  fill 16 lanes); four output channels per input chunk, four ``VMLADAVA.S8`` (16 MACs each)
  into scalar accumulators that start at the folded bias (``bias + input_offset * sum(w)``);
  a segment's last partial chunk loads under a ``vctp8q`` predicate. The fused residual ADD
  of ``conv2d_add`` runs vectorised in the epilogue;
- ``depthwise_conv2d`` with depth multiplier 1 and dilation 1: four channels per vector,
  ``VLDRB.S32`` + ``VMUL`` + ``VADD`` per tap through one pointer per kernel row (the input
  itself, or a window copy for border pixels), the last partial group under a ``vctp32q``
  predicate.
- ``lstm`` and ``gru``: the recurrent templates of :mod:`qcompile.codegen.families.dsp_rnn`
  with Helium gate products (``VMLADAVA.S8`` per 16 int8 taps of a row, ``VMLADAVA.S16`` per 8
  taps against the GRU's int16 state) and the element-wise code shared with the portable kernels.

Requantisation is vectorised over four output channels with exactly TFLM's rounding
(``VQRDMULH`` + a fixed-up ``VRSHL``: see ``kernels.c.j2``), then the output offset,
activation clamp and a narrowing ``VSTRB.32`` store.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from qcompile.codegen.families import KernelFamily, render_kernel_template
from qcompile.codegen.families.dsp import _bias_data, _conv_ok, _depthwise_ok, _emit
from qcompile.codegen.families.dsp_rnn import RNN_OPS, lower_rnn
from qcompile.codegen.families.layer_math import _int_vector, _interior, _wrap32
from qcompile.codegen.names import comment_text
from qcompile.codegen.streaming import emit_band_function, streamed
from qcompile.ir import Graph, Node
from qcompile.memory.overlap import CHANNEL, INTERLEAVED, window_of
from qcompile.ops import split_conv_add

if TYPE_CHECKING:
    from qcompile.codegen.lowering import Layer, Lowering

MVE_HEADERS = ("qc_mve.h",)
"""Runtime headers ``<name>_kernels.c`` includes (copied into ``runtime/``)."""


def _render(template: str, **context: Any) -> str:
    return render_kernel_template("mve", template, **context)


def _pad4(n: int) -> int:
    return -(-n // 4) * 4


def _padded(values: np.ndarray, n: int) -> np.ndarray:
    """``values`` (1-D) zero-padded to ``n`` entries, so 4-lane loads never read past the array."""
    out = np.zeros(n, dtype=np.int64)
    out[: values.size] = values
    return out


# ---- weight packing (compile time) ---------------------------------------------------------


def pack_conv_weights(w: np.ndarray, segs: int) -> np.ndarray:
    """``[OC, K]`` int8 (K = segs * L) -> ``[OC/4 groups][segment][chunk][4 channels][16 lanes]``.

    Each segment of L taps is zero-padded to whole 16-lane chunks and OC to a multiple of 4,
    so the inner loop reads 64 consecutive bytes per input chunk.
    """
    w = np.asarray(w, dtype=np.int64)
    oc, k = w.shape
    seg_len = k // segs
    chunks = -(-seg_len // 16)
    padded = np.zeros((_pad4(oc), segs, chunks * 16), dtype=np.int64)
    padded[:oc, :, :seg_len] = w.reshape(oc, segs, seg_len)
    g = _pad4(oc) // 4
    return padded.reshape(g, 4, segs, chunks, 16).transpose(0, 2, 3, 1, 4).reshape(-1)


def pack_depthwise_weights(w: np.ndarray) -> np.ndarray:
    """``[KH, KW, C]`` int8 -> ``[C/4 groups][tap][4 channels]``, zero past the last channel."""
    w = np.asarray(w, dtype=np.int64)
    kh, kw, c = w.shape
    padded = np.zeros((kh * kw, _pad4(c)), dtype=np.int64)
    padded[:, :c] = w.reshape(kh * kw, c)
    return padded.reshape(kh * kw, -1, 4).transpose(1, 0, 2).reshape(-1)


def fold_bias(w: np.ndarray, bias: np.ndarray | None, input_offset: int) -> np.ndarray:
    """``bias + input_offset * sum_k w`` per output channel (rows of ``w``), modulo 2^32, padded to 4.

    Exact: the reference adds the exact sum of ``(x + off) * w`` to the bias modulo 2^32,
    and ``sum((x + off) * w) = sum(x * w) + off * sum(w)`` over the integers.
    """
    w = np.asarray(w, dtype=np.int64)
    oc = w.shape[0]
    b = np.zeros(oc, dtype=np.int64) if bias is None else np.asarray(bias, dtype=np.int64).reshape(-1)
    return _padded(_wrap32(b + int(input_offset) * w.reshape(oc, -1).sum(axis=1)), _pad4(oc))


def use_rows(kh: int, kw: int, in_c: int, out_c: int) -> bool:
    """Read the kernel rows straight from the input, or gather each window (im2col) first.

    Rows cost ``kh * ceil(kw * in_c / 16)`` chunks per 4 channels, a gathered window
    ``ceil(K / 16)`` chunks plus about a dozen instructions per copied row.
    """
    rows = kh * -(-(kw * in_c) // 16)
    gathered = -(-(kh * kw * in_c) // 16)
    return (rows - gathered) * 9 * (_pad4(out_c) // 4) <= 12 * kh


# ---- scratch -------------------------------------------------------------------------------


def _conv_eligible(graph: Graph, node: Node) -> bool:
    if node.op not in ("conv2d", "conv2d_add", "fully_connected") or graph.tensors[node.inputs[1]].data is None:
        return False
    return node.op == "fully_connected" or _conv_ok(graph, node)


def _all_interior(graph: Graph, node: Node) -> bool:
    """Every output pixel's window lies inside the input (no im2col, no scratch)."""
    if node.op == "fully_connected":
        return True
    xs, ys = graph.tensors[node.inputs[0]].shape, graph.tensors[node.outputs[0]].shape
    ws = graph.tensors[node.inputs[1]].shape
    kh, kw = (ws[0], ws[1]) if node.op == "depthwise_conv2d" else (ws[1], ws[2])
    a = node.attrs
    oy = _interior(int(ys[1]), int(a["pads"][0]), int(a["strides"][0]), int(kh), int(xs[1]))
    ox = _interior(int(ys[2]), int(a["pads"][1]), int(a["strides"][1]), int(kw), int(xs[2]))
    return oy == (0, int(ys[1])) and ox == (0, int(ys[2])) and int(ys[1]) > 0 and int(ys[2]) > 0


def mve_scratch(graph: Graph, portable: Mapping[str, int]) -> dict[str, int]:
    """Scratch bytes per node the MVE kernels run (one window copy for layers with border
    pixels; others keep ``portable``)."""
    result = dict(portable)
    for node in graph.nodes:
        if node.op == "depthwise_conv2d" and _depthwise_ok(graph, node):
            if _all_interior(graph, node):
                result.pop(node.name, None)
            else:
                kh, kw, c = (int(d) for d in graph.tensors[node.inputs[1]].shape)
                result[node.name] = (kh * kw * c + 15) // 16 * 16
        elif _conv_eligible(graph, node):
            if _all_interior(graph, node):
                result.pop(node.name, None)
            else:
                k = math.prod(int(d) for d in graph.tensors[node.inputs[1]].shape[1:])
                result[node.name] = (k + 15) // 16 * 16
    return result


# ---- lowering ------------------------------------------------------------------------------


def _requant(lo: Lowering, node: Node, n: int) -> dict[str, Any]:
    """Vector expressions (at channel ``c``) of the multiplier, left shift and negated right shift."""
    mult = _int_vector(node.attrs["multiplier"], n)
    shift = _int_vector(node.attrs["shift"], n)
    if shift.min() < -31 or shift.max() > 31:
        raise ValueError(f"shift out of [-31, 31]: {shift.min()}..{shift.max()}")

    def vec(values: np.ndarray, part: str) -> str:
        if np.all(values == values[0]):
            return f"vdupq_n_s32({int(values[0])})"
        arr = lo.array("q", f"{node.name}_mve_{part}", "int32_t", _padded(values, _pad4(n)), f"{node.name} {part}")
        return f"vldrwq_s32({arr} + c)"

    lsh = np.maximum(shift, 0)
    return {
        "mult": vec(mult, "multiplier"),
        "lsh": vec(lsh, "left_shift") if lsh.max() > 0 else None,
        "nrsh": vec(np.minimum(shift, 0), "neg_right_shift"),
    }


def _add_epilogue(node: Node) -> dict[str, Any]:
    """Literal constants of the fused residual ADD of a conv2d_add node (TFLM int8 ADD)."""
    _, add, operand = split_conv_add(node.attrs)
    if int(add["left_shift"]) < 0 or int(add["left_shift"]) > 23:
        raise ValueError("add left_shift outside TFLM's int8 ADD contract [0, 23]")
    if max(int(add["input1_shift"]), int(add["input2_shift"]), int(add["output_shift"])) > 0:
        raise ValueError("add shifts must be <= 0 (TFLM's int8 ADD contract)")
    ins = {i: {k: int(add[f"input{i}_{k}"]) for k in ("offset", "multiplier", "shift")} for i in (1, 2)}
    y, r = ins[operand], ins[3 - operand]
    first, second = ("ys", "rs") if operand == 1 else ("rs", "ys")
    op = "vsubq_s32" if int(add.get("subtract", 0)) else "vaddq_s32"
    return {
        "left_shift": int(add["left_shift"]),
        "y_off": y["offset"],
        "y_m": y["multiplier"],
        "y_s": y["shift"],
        "r_off": r["offset"],
        "r_m": r["multiplier"],
        "r_s": r["shift"],
        "raw": f"{op}({first}, {second})",
        "o_m": int(add["output_multiplier"]),
        "o_s": int(add["output_shift"]),
        "o_off": int(add["output_offset"]),
        "act_min": int(add["act_min"]),
        "act_max": int(add["act_max"]),
    }


def _conv_geometry(lo: Lowering, node: Node) -> dict[str, int]:
    a = node.attrs
    x, y = node.inputs[0], node.outputs[0]
    w = lo.graph.tensors[node.inputs[1]].data
    if node.op == "fully_connected":
        oc, k = np.asarray(w).shape
        rows = math.prod(lo.shape(x)) // k
        return {"batches": 1, "in_h": 1, "in_w": rows, "in_c": k, "out_h": 1, "out_w": rows, "out_c": oc} | {
            "kh": 1,
            "kw": 1,
            "sh": 1,
            "sw": 1,
            "pt": 0,
            "pl": 0,
        }
    xs, ys = lo.shape(x), lo.shape(y)
    oc, kh, kw, c = np.asarray(w).shape
    return {"batches": xs[0], "in_h": xs[1], "in_w": xs[2], "in_c": c, "out_h": ys[1], "out_w": ys[2], "out_c": oc} | {
        "kh": kh,
        "kw": kw,
        "sh": int(a["strides"][0]),
        "sw": int(a["strides"][1]),
        "pt": int(a["pads"][0]),
        "pl": int(a["pads"][1]),
    }


def _lower_conv(lo: Lowering, layer: Layer, node: Node) -> int:
    geo = _conv_geometry(lo, node)
    kh, kw, c, oc = geo["kh"], geo["kw"], geo["in_c"], geo["out_c"]
    k = kh * kw * c
    w = np.asarray(lo.graph.tensors[node.inputs[1]].data, dtype=np.int64).reshape(oc, k)
    off = int(node.attrs["input_offset"])
    rows = use_rows(kh, kw, c, oc)
    segs = kh if rows else 1
    seg_len = k // segs
    fn = f"{lo.cname}_l{layer.index}_mve"
    weights = lo.array("w", f"{node.name}_mve_w", "int8_t", pack_conv_weights(w, segs), f"{node.name} MVE weights")
    bias = lo.array("q", f"{node.name}_mve_bias", "int32_t", fold_bias(w, _bias_data(lo, node), off), "folded bias")
    oy_lo, oy_hi = _interior(geo["out_h"], geo["pt"], geo["sh"], kh, geo["in_h"])
    ox_lo, ox_hi = _interior(geo["out_w"], geo["pl"], geo["sw"], kw, geo["in_w"])
    add = _add_epilogue(node) if node.op == "conv2d_add" else None
    source = _render(
        "conv.c.j2",
        cname=lo.cname,
        fn=fn,
        index=layer.index,
        comment=comment_text(f"{node.op} {node.name}"),
        **geo,
        k=k,
        oc4=_pad4(oc),
        rows=rows,
        all_interior=_all_interior(lo.graph, node),
        segs=segs,
        seg_len=seg_len,
        full=seg_len // 16,
        tail=seg_len % 16,
        oy_lo=oy_lo,
        oy_hi=oy_hi,
        ox_lo=ox_lo,
        ox_hi=ox_hi,
        zp=-off,
        input_offset=off,
        weights=weights,
        bias=bias,
        output_offset=int(node.attrs["output_offset"]),
        act_min=int(node.attrs["act_min"]),
        act_max=int(node.attrs["act_max"]),
        add=add,
        stream=streamed(lo, node),
        **_requant(lo, node, oc),
    )
    if streamed(lo, node):
        emit_band_function(lo, layer, node, fn, source, lo.src(node.inputs[3]) if add else None)
    else:
        _emit(lo, layer, fn, source, node, residual=lo.src(node.inputs[3]) if add else None)
    return math.prod(lo.shape(node.outputs[0])) * k


def _lower_depthwise(lo: Lowering, layer: Layer, node: Node) -> int:
    a = node.attrs
    xs, ys = lo.shape(node.inputs[0]), lo.shape(node.outputs[0])
    w = np.asarray(lo.graph.tensors[node.inputs[1]].data, dtype=np.int64)
    kh, kw, c = w.shape
    sh, sw, pt, pl = int(a["strides"][0]), int(a["strides"][1]), int(a["pads"][0]), int(a["pads"][1])
    off = int(a["input_offset"])
    fn = f"{lo.cname}_l{layer.index}_mve"
    weights = lo.array("w", f"{node.name}_mve_w", "int8_t", pack_depthwise_weights(w), f"{node.name} MVE weights")
    folded = fold_bias(w.reshape(kh * kw, c).T, _bias_data(lo, node), off)
    bias = lo.array("q", f"{node.name}_mve_bias", "int32_t", folded, f"{node.name} folded bias")
    oy_lo, oy_hi = _interior(ys[1], pt, sh, kh, xs[1])
    ox_lo, ox_hi = _interior(ys[2], pl, sw, kw, xs[2])
    source = _render(
        "depthwise.c.j2",
        cname=lo.cname,
        fn=fn,
        index=layer.index,
        comment=comment_text(f"{node.op} {node.name}"),
        batches=xs[0],
        in_h=xs[1],
        in_w=xs[2],
        in_c=c,
        out_c=c,
        out_h=ys[1],
        out_w=ys[2],
        kh=kh,
        kw=kw,
        sh=sh,
        sw=sw,
        pt=pt,
        pl=pl,
        oy_lo=oy_lo,
        oy_hi=oy_hi,
        ox_lo=ox_lo,
        ox_hi=ox_hi,
        all_interior=_all_interior(lo.graph, node),
        full_groups=c // 4,
        input_offset=off,
        zp=-off,
        weights=weights,
        bias=bias,
        output_offset=int(a["output_offset"]),
        act_min=int(a["act_min"]),
        act_max=int(a["act_max"]),
        add=None,
        stream=False,
        **_requant(lo, node, c),
    )
    _emit(lo, layer, fn, source, node)
    return math.prod(ys) * kh * kw


def mve_overlap_contracts(graph: Graph) -> dict[str, str]:
    """Node -> access-order contract (:mod:`qcompile.memory.overlap`) of its kernel here: the
    Helium depthwise writes four channels of a pixel after reading their taps, before it reads
    the next four (``CHANNEL``); the Helium conv writes four output channels of a pixel at a
    time while it re-reads the pixel's window for the next four (``INTERLEAVED``); the layers
    it does not specialise keep the portable kernel's contract."""
    from qcompile.codegen.families.portable import portable_overlap_contract

    result: dict[str, str] = {}
    for node in graph.nodes:
        if window_of(graph, node) is None:
            continue
        if node.op == "depthwise_conv2d" and _depthwise_ok(graph, node):
            result[node.name] = CHANNEL
        elif _conv_eligible(graph, node):
            result[node.name] = INTERLEAVED
        elif (contract := portable_overlap_contract(graph, node)) is not None:
            result[node.name] = contract
    return result


class MveFamily(KernelFamily):
    """Helium per-layer kernels; everything not specialised runs portable C.

    No row bands (the conv kernels keep one im2col window, not the portable row-band
    scratch) and no fused head (the specialised FC beats the portable fused head). ``qcompile
    bench`` measures the DSP family beside it: the code a Helium core ran before this family.
    """

    name = "mve"
    description = "Cortex-M Helium (MVE) per-layer kernels"
    kernel_headers = MVE_HEADERS
    bench_baselines = ("dsp",)

    def scratch(self, graph: Graph, portable: Mapping[str, int]) -> dict[str, int]:
        return mve_scratch(graph, portable)

    def overlap_contracts(self, graph: Graph) -> dict[str, str]:
        return mve_overlap_contracts(graph)

    def stream_ops(self, graph: Graph) -> set[str]:
        """The specialised batch-1 convs (their functions take a band of output rows and
        windows of rows, :mod:`qcompile.codegen.streaming`)."""
        return {
            n.name
            for n in graph.nodes
            if n.op in ("conv2d", "conv2d_add")
            and _conv_eligible(graph, n)
            and int(graph.tensors[n.inputs[0]].shape[0]) == 1
        }

    def lower(self, lo: Lowering, layer: Layer, node: Node) -> int | None:
        if node.op in RNN_OPS:  # the recurrent templates with Helium gate products
            return lower_rnn(lo, layer, node, mve=True)
        if node.op == "depthwise_conv2d" and _depthwise_ok(lo.graph, node):
            return _lower_depthwise(lo, layer, node)
        if _conv_eligible(lo.graph, node):
            return _lower_conv(lo, layer, node)
        return None

    def render_kernels_file(self, cname: str, model_comment: str, sources: list[str]) -> str:
        return _render("kernels.c.j2", cname=cname, model_comment=model_comment, kernels=sources) + "\n"


FAMILY = MveFamily()

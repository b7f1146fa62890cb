"""Per-layer Arm DSP (SIMD) int8 kernels: C functions rendered from Jinja templates.

The code generator knows every shape, stride, pad, zero point and multiplier at compile
time, so instead of calling a general library kernel (CMSIS-NN) each conv-like layer
gets its own C function (``templates/kernels/dsp/*.c.j2``) with those values as
literals, and its weights pre-packed in the order the SMLAD inner loop reads them.
The functions go into ``<name>_kernels.c``; they use the ``qc_*`` intrinsics of
``runtime_c/include/qc_acle.h``, which are single DSP instructions on a core with the
DSP extension and a bit-exact portable emulation elsewhere, so ``qcompile verify`` proves
the very same source on the host.

What is specialised (anything else falls back to the portable runtime kernel):

- ``conv2d`` with ``groups == 1`` and dilation 1 (general, 1x1, first layers with 1-3
  input channels): input offset folded into the bias (``bias + input_offset * sum(w)``),
  padded taps read the input zero point, an int16 im2col of two output pixels interleaved
  per four taps, 2 pixels x 2 channels SMLAD register block fed by LDRDs (weights packed per
  channel pair into int32 words, so they are word aligned); a fused residual ADD
  (``conv2d_add``) rescales both int8 operands through 256-entry tables;
- ``fully_connected``: the same kernel, rows as pixels and ``K = in_features``;
- ``depthwise_conv2d`` with depth multiplier 1 and dilation 1: four channels'
  accumulators in registers, SXTB16 + one LDRD of int16 weights + SMLABB/SMLATT per tap,
  taps at constant offsets for interior pixels and through a pointer table (padded taps
  -> a zero point row) on the border; the last ``channels % 4`` channels are scalar
  (int8 loads, int16 weights, the same folded bias and requantisation).

Requantisation takes one SMLAL per output (``qc_requantize_x2`` (qc_fixedpoint.h)) whenever that is exact
for the layer (positive multipliers, right shifts 1..31, ``2 * |acc| < 2^31`` for every
int8 input: ``requant_table``); otherwise the general TFLM sequence.

``softmax`` and ``batch_matmul``: :mod:`qcompile.codegen.families.dsp_attention`; ``add``,
``mul`` (broadcasting) and ``lut`` (every tabulated unary op): :mod:`qcompile.codegen.families.dsp_eltwise`;
``transpose_conv2d``: :mod:`qcompile.codegen.families.dsp_tconv`; ``resize_bilinear``:
:mod:`qcompile.codegen.families.dsp_resize`.

Pools keep the portable kernels: their cost is a compare (max pool) or a division per
output, neither of which has a 16-bit dual-lane DSP form that beats the compiler's scalar code.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from qcompile.codegen.families import KernelFamily, render_kernel_template
from qcompile.codegen.families.dsp_attention import attention_scratch, lower_dsp_attention
from qcompile.codegen.families.dsp_eltwise import lower_dsp_eltwise
from qcompile.codegen.families.dsp_resize import lower_dsp_resize
from qcompile.codegen.families.dsp_rnn import RNN_OPS, lower_rnn
from qcompile.codegen.families.dsp_s16 import dsp_s16_scratch, eligible_s16, lower_dsp_requantize, lower_dsp_s16
from qcompile.codegen.families.dsp_tconv import lower_dsp_tconv, tconv_scratch
from qcompile.codegen.families.layer_math import (
    _int_vector,
    _wrap32,
    acc_bound,
    add_constants,
    depthwise_geometry,
    requant_table,
)
from qcompile.codegen.names import comment_text
from qcompile.ir import Graph, Node
from qcompile.memory.overlap import CHANNEL, PIXELS, window_of
from qcompile.ops import is_s16, split_conv_add

if TYPE_CHECKING:
    from qcompile.codegen.lowering import Layer, Lowering

DSP_HEADERS = ("qc_dsp_helpers.h",)  # its includes follow (runtime_files)
"""Runtime headers ``<name>_kernels.c`` includes (copied into ``runtime/``)."""


def _render(template: str, **context: Any) -> str:
    return render_kernel_template("dsp", template, **context)


# ---- weight packing (compile time) ---------------------------------------------------------


def pack_conv_weights(w: np.ndarray) -> np.ndarray:
    """``[OC, K]`` int8 -> the stream the 2x2 SMLAD loop reads.

    K is zero-padded to a multiple of 4 and OC to a multiple of 2; for each channel pair
    (c, c+1) and each group of four taps the stream holds c's four bytes then c+1's.
    """
    w = np.asarray(w, dtype=np.int64)
    oc, k = w.shape
    kpad = -(-k // 4) * 4
    ocp = oc + (oc & 1)
    padded = np.zeros((ocp, kpad), dtype=np.int64)
    padded[:oc, :k] = w
    # [pairs, 2, quads, 4] -> [pairs, quads, 2, 4]
    return padded.reshape(ocp // 2, 2, kpad // 4, 4).transpose(0, 2, 1, 3).reshape(-1)


def words_from_bytes(b: np.ndarray) -> np.ndarray:
    """int8 values (a multiple of 4) -> little-endian int32 words, so the array is 4-byte aligned (LDRD)."""
    u = (np.asarray(b, dtype=np.int64).reshape(-1, 4) & 0xFF) << np.array([0, 8, 16, 24])
    return _wrap32(u.sum(axis=1))


def fold_conv_bias(w: np.ndarray, bias: np.ndarray | None, input_offset: int) -> np.ndarray:
    """``bias + input_offset * sum_k w`` per channel, modulo 2^32, padded to an even count.

    Exact: the reference adds the exact sum of ``(x + off) * w`` to the bias modulo 2^32,
    and ``sum((x + off) * w) = sum(x * w) + off * sum(w)`` over the integers.
    """
    w = np.asarray(w, dtype=np.int64)
    oc = w.shape[0]
    b = np.zeros(oc, dtype=np.int64) if bias is None else np.asarray(bias, dtype=np.int64).reshape(-1)
    folded = _wrap32(b + int(input_offset) * w.sum(axis=1))
    if oc & 1:
        folded = np.concatenate([folded, np.zeros(1, dtype=np.int64)])
    return folded


def pack_depthwise_weights(w: np.ndarray, double: bool = False) -> np.ndarray:
    """``[KH, KW, C]`` int8 -> int32 words ``[channel quad][tap][(c, c+2), (c+1, c+3)]``.

    Each word holds two int16 lanes (bottom = first channel), the order SXTB16 and SXTB16
    ROR #8 leave the input's four channels in, so one LDRD fetches a tap's four weights.
    ``double`` stores ``2 * w`` (still int16) for the doubled-accumulator requantisation.
    """
    w = np.asarray(w, dtype=np.int64) * (2 if double else 1)
    kh, kw, c = w.shape
    lanes = w.reshape(kh * kw, c // 4, 4)[:, :, [0, 2, 1, 3]].transpose(1, 0, 2).reshape(-1, 2)
    return _wrap32((lanes[:, 0] & 0xFFFF) | ((lanes[:, 1] & 0xFFFF) << 16))


# ---- scratch -------------------------------------------------------------------------------


def _conv_geometry(graph: Graph, node: Node) -> tuple[int, int] | None:
    """(K, in_c) of a conv/fc node this module specialises, else None."""
    if node.op not in _CONV_OPS or graph.tensors[node.inputs[1]].data is None:
        return None
    w = graph.tensors[node.inputs[1]]
    if node.op in ("conv2d", "conv2d_add"):
        if not _conv_ok(graph, node):
            return None
        _, kh, kw, c = (int(d) for d in w.shape)
        return kh * kw * c, c
    if node.op == "fully_connected":
        _, k = (int(d) for d in w.shape)
        return k, k
    return None


_CONV_OPS = ("conv2d", "conv2d_add", "fully_connected")


def _conv_ok(graph: Graph, node: Node) -> bool:
    a = node.attrs
    xs = graph.tensors[node.inputs[0]].shape
    if node.op == "conv2d_add" and tuple(graph.tensors[node.inputs[3]].shape) != tuple(
        graph.tensors[node.outputs[0]].shape
    ):
        return False
    return (
        len(xs) == 4
        and int(a.get("groups", 1)) == 1
        and tuple(int(d) for d in a["dilations"]) == (1, 1)
        and all(int(p) >= 0 for p in a["pads"])
    )


def _depthwise_ok(graph: Graph, node: Node) -> bool:
    a = node.attrs
    xs = graph.tensors[node.inputs[0]].shape
    return (
        len(xs) == 4
        and int(a["depth_multiplier"]) == 1
        and tuple(int(d) for d in a["dilations"]) == (1, 1)
        and int(xs[3]) >= 1
        and all(int(p) >= 0 for p in a["pads"])
    )


def _direct_im2col(k: int, in_c: int, is_fc: bool) -> bool:
    """Widen straight from the input (runs of whole channel quads) or through an int8 stage."""
    return (in_c % 4 == 0) if not is_fc else (k % 4 == 0)


def dsp_scratch(graph: Graph, portable: Mapping[str, int]) -> dict[str, int]:
    """Scratch bytes per node when the DSP kernels are selected (others keep ``portable``)."""
    result = dict(portable)
    result.update(attention_scratch(graph))
    result.update(tconv_scratch(graph))
    for node in graph.nodes:
        if node.op == "depthwise_conv2d" and _depthwise_ok(graph, node):
            result.pop(node.name, None)
            continue
        geom = _conv_geometry(graph, node)
        if geom is None:
            continue
        k, in_c = geom
        kpad = -(-k // 4) * 4
        size = 2 * kpad * 2
        if not _direct_im2col(k, in_c, node.op == "fully_connected"):
            size += kpad
        result[node.name] = (size + 15) // 16 * 16
    return result


# ---- lowering ------------------------------------------------------------------------------


def _requant_setup(lo: Lowering, node: Node, n: int) -> tuple[str, str, str]:
    from qcompile.codegen.lowering import _requant_arrays

    shift = np.asarray(node.attrs["shift"], dtype=np.int64).reshape(-1)
    if shift.min() < -31 or shift.max() > 31:
        raise ValueError(f"shift out of [-31, 31]: {shift.min()}..{shift.max()}")
    mult = np.asarray(node.attrs["multiplier"], dtype=np.int64).reshape(-1)
    m, s = _requant_arrays(lo, node, n)
    if shift.max() <= 0 and shift.min() >= -22 and mult.min() > 0:
        requant = "qc_dsp_requant_fast"
    elif shift.max() <= 0:
        requant = "qc_dsp_requant_lt1"
    else:
        requant = "qc_dsp_requant"
    return m, s, requant


def _bias_data(lo: Lowering, node: Node) -> np.ndarray | None:
    if len(node.inputs) > 2 and node.inputs[2]:
        return np.asarray(lo.graph.tensors[node.inputs[2]].data)
    return None


def _emit(lo: Lowering, layer: Layer, fn: str, source: str, node: Node, residual: str | None = None) -> None:
    x, y = node.inputs[0], node.outputs[0]
    lo.kernel_sources.append(source)
    if residual is None:
        layer.params.append(f"int {fn}(const int8_t *input, int8_t *output, void *scratch);")
        call = f"{fn}({lo.src(x)}, {lo.dst(y)}, {lo.scratch(node)})"
    else:
        layer.params.append(f"int {fn}(const int8_t *input, const int8_t *residual, int8_t *output, void *scratch);")
        call = f"{fn}({lo.src(x)}, {residual}, {lo.dst(y)}, {lo.scratch(node)})"
    layer.statements.append(f"if ({call} != QC_OK) {{\n        return {layer.index + 1};\n    }}")


def _stream_role(lo: Lowering, node: Node) -> dict[str, int] | None:
    """Ring geometry of a row-streamed conv (:mod:`qcompile.memory.streams`), else None."""
    consumer = lo.plan.streams.get(node.name)
    if consumer is not None:
        return {"in_ring": consumer.ring, "out_ring": 0}
    for s in lo.plan.streams.values():
        if s.producer == node.name:
            return {"in_ring": 0, "out_ring": s.ring}
    return None


def _emit_stream(lo: Lowering, layer: Layer, fn: str, source: str, node: Node, residual: str) -> None:
    """A streamed pair's C: the producer only declares its function; the consumer's layer is
    the loop over its output rows that first makes the producer rows it needs (into the ring)."""
    lo.kernel_sources.append(source)
    sig = (
        "const int8_t *input, const int8_t *residual, int8_t *output, void *scratch, int32_t row_begin, int32_t row_end"
    )
    layer.params.append(f"int {fn}({sig});")
    stream = lo.plan.streams.get(node.name)
    if stream is None:
        layer.statements.append("/* runs row by row inside the next layer (streamed through a ring of rows) */")
        return
    a = lo.graph.nodes[stream.step - 1]
    fa = f"{lo.cname}_l{layer.index - 1}_dsp"
    b = node.attrs
    ys, ts = lo.shape(node.outputs[0]), lo.shape(node.inputs[0])
    kh, sh, pt = int(lo.graph.tensors[node.inputs[1]].shape[1]), int(b["strides"][0]), int(b["pads"][0])
    ring = lo.dst(node.inputs[0])
    lines = [
        f"/* layers {layer.index - 1} and {layer.index} streamed: layer {layer.index - 1}'s output in a ring of "
        f"{stream.ring} rows */",
        "{",
        "        int32_t row;",
        "        int32_t made = 0;",
        f"        for (row = 0; row < {ys[1]}; ++row) {{",
        f"            int32_t need = row * {sh} + {kh - pt};",
        f"            if (need > {ts[1]}) {{",
        f"                need = {ts[1]};",
        "            }",
        "            for (; made < need; ++made) {",
        f"                if ({fa}({lo.src(a.inputs[0])}, NULL, {ring}, {lo.scratch(a)}, made, made + 1) != QC_OK) {{",
        f"                    return {layer.index};",
        "                }",
        "            }",
        f"            if ({fn}({lo.src(node.inputs[0])}, {residual}, {lo.dst(node.outputs[0])}, {lo.scratch(node)}, "
        "row, row + 1) != QC_OK) {",
        f"                return {layer.index + 1};",
        "            }",
        "        }",
        "    }",
    ]
    layer.statements.append("\n    ".join(lines))


def _add_epilogue(lo: Lowering, node: Node) -> dict[str, Any]:
    """Literal constants of the fused residual ADD of a conv2d_add node (TFLM int8 ADD)."""
    _, add, operand = split_conv_add(node.attrs)
    return add_constants(lo, node.name, add, operand)


def _lower_conv(lo: Lowering, layer: Layer, node: Node) -> int:
    a = node.attrs
    x, w_name, y = node.inputs[0], node.inputs[1], node.outputs[0]
    is_fc = node.op == "fully_connected"
    w = np.asarray(lo.graph.tensors[w_name].data, dtype=np.int64)
    ys = lo.shape(y)
    if is_fc:
        oc, k = w.shape
        rows = math.prod(lo.shape(x)) // k
        geo = {"batches": 1, "in_h": 1, "in_w": rows, "in_c": k, "out_h": 1, "out_w": rows, "out_c": oc}
        geo.update(kh=1, kw=1, sh=1, sw=1, pt=0, pl=0)
        w2 = w
    else:
        xs = lo.shape(x)
        oc, kh, kw, c = w.shape
        k = kh * kw * c
        geo = {"batches": xs[0], "in_h": xs[1], "in_w": xs[2], "in_c": c, "out_h": ys[1], "out_w": ys[2], "out_c": oc}
        geo.update(kh=kh, kw=kw, sh=int(a["strides"][0]), sw=int(a["strides"][1]))
        geo.update(pt=int(a["pads"][0]), pl=int(a["pads"][1]))
        w2 = w.reshape(oc, k)
    kpad = -(-k // 4) * 4
    off = int(a["input_offset"])
    fn = f"{lo.cname}_l{layer.index}_dsp"
    packed = lo.array(
        "w", f"{node.name}_dsp_w", "int32_t", words_from_bytes(pack_conv_weights(w2)), f"{node.name} packed DSP weights"
    )
    b = _bias_data(lo, node)
    bias = lo.array(
        "q",
        f"{node.name}_dsp_bias",
        "int32_t",
        fold_conv_bias(w2, b, off),
        f"{node.name} folded bias",
    )
    table = requant_table(_int_vector(a["multiplier"], oc), _int_vector(a["shift"], oc), acc_bound(w2, b, off))
    extra: dict[str, Any] = {"rq": None, "mult": None, "shift": None, "requant": None}
    if table is not None:
        extra["rq"] = lo.array("q", f"{node.name}_dsp_rq", "int32_t", table, f"{node.name} requant m, 2^(e-1), e")
    else:
        extra["mult"], extra["shift"], extra["requant"] = _requant_setup(lo, node, oc)
    add = _add_epilogue(lo, node) if node.op == "conv2d_add" else None
    stream = _stream_role(lo, node)
    source = _render(
        "conv.c.j2",
        cname=lo.cname,
        fn=fn,
        index=layer.index,
        comment=comment_text(f"{node.op} {node.name}"),
        **geo,
        pixels=geo["out_h"] * geo["out_w"],
        k=k,
        kpad=kpad,
        oc_pad=oc + (oc & 1),
        zp=-off,
        input_offset=off,
        direct=_direct_im2col(k, geo["in_c"], is_fc),
        weights=packed,
        bias=bias,
        dbl=table is not None,
        unroll=math.prod(ys) * k >= 400_000,
        output_offset=int(a["output_offset"]),
        act_min=int(a["act_min"]),
        act_max=int(a["act_max"]),
        add=add,
        stream=stream,
        **extra,
    )
    residual = lo.src(node.inputs[3]) if add else "NULL"
    if stream is None:
        _emit(lo, layer, fn, source, node, residual=residual)
    else:
        _emit_stream(lo, layer, fn, source, node, residual)
    return math.prod(ys) * k


def _depthwise_arrays(lo: Lowering, node: Node, w: np.ndarray) -> dict[str, Any]:
    """The const arrays of a DSP depthwise layer (packed weights, scalar-tail weights, folded
    bias, zero-point row, requantisation) as template context."""
    kh, kw, c = w.shape
    off = int(node.attrs["input_offset"])
    b = _bias_data(lo, node)
    b_vals = np.zeros(c, dtype=np.int64) if b is None else np.asarray(b, dtype=np.int64).reshape(-1)
    w_cm = w.reshape(kh * kw, c).T  # [C, taps]
    a = node.attrs
    table = requant_table(_int_vector(a["multiplier"], c), _int_vector(a["shift"], c), acc_bound(w_cm, b_vals, off))
    dbl = table is not None
    scale = 2 if dbl else 1
    quads = c - c % 4
    ctx: dict[str, Any] = {"dbl": dbl, "quads": quads, "tail": c - quads, "weights": None, "tail_weights": None}
    ctx.update(rq=None, mult=None, shift=None, requant=None)
    if quads:
        packed = pack_depthwise_weights(w[:, :, :quads], dbl)
        ctx["weights"] = lo.array("w", f"{node.name}_dsp_w", "int32_t", packed, f"{node.name} DSP weights int16 pairs")
    if c > quads:  # channels past the last quad: scalar taps, weights [tail channel][tap]
        tail_w = w_cm[quads:] * scale
        ctx["tail_weights"] = lo.array("w", f"{node.name}_dsp_wt", "int16_t", tail_w, f"{node.name} DSP tail weights")
    folded = _wrap32(scale * (b_vals + off * w_cm.sum(axis=1)))
    ctx["bias"] = lo.array("q", f"{node.name}_dsp_bias", "int32_t", folded, f"{node.name} folded bias")
    zp_row = np.full(c, -off)
    ctx["zp_row"] = lo.array("q", f"{node.name}_dsp_zp", "int8_t", zp_row, f"{node.name} input zero point row")
    if dbl:
        ctx["rq"] = lo.array("q", f"{node.name}_dsp_rq", "int32_t", table, f"{node.name} requant m, 2^(e-1), e")
    else:
        ctx["mult"], ctx["shift"], ctx["requant"] = _requant_setup(lo, node, c)
    return ctx


def _lower_depthwise(lo: Lowering, layer: Layer, node: Node) -> int:
    a = node.attrs
    w = np.asarray(lo.graph.tensors[node.inputs[1]].data, dtype=np.int64)
    kh, kw, _ = w.shape
    off = int(a["input_offset"])
    fn = f"{lo.cname}_l{layer.index}_dsp"
    source = _render(
        "depthwise.c.j2",
        cname=lo.cname,
        fn=fn,
        index=layer.index,
        comment=comment_text(f"{node.op} {node.name}"),
        **depthwise_geometry(lo, node),
        input_offset=off,
        zp=-off,
        output_offset=int(a["output_offset"]),
        act_min=int(a["act_min"]),
        act_max=int(a["act_max"]),
        **_depthwise_arrays(lo, node, w),
    )
    _emit(lo, layer, fn, source, node)
    return math.prod(lo.shape(node.outputs[0])) * kh * kw


def lower_dsp(lo: Lowering, layer: Layer, node: Node) -> int | None:
    """Specialise ``node`` into a DSP kernel: fills ``layer`` and ``lo.kernel_sources``.

    Returns the layer's MAC count, or None when this node is not specialised (the caller
    then uses the portable lowering).
    """
    graph = lo.graph
    for special in (lower_dsp_attention, lower_dsp_eltwise, lower_dsp_tconv, lower_dsp_resize):
        if (macs := special(lo, layer, node)) is not None:
            return macs
    if node.op == "depthwise_conv2d" and _depthwise_ok(graph, node):
        return _lower_depthwise(lo, layer, node)
    if node.op in _CONV_OPS and _conv_geometry(graph, node) is not None:
        return _lower_conv(lo, layer, node)
    if node.op == "requantize":  # int8 -> int16 at the edge of a 16x8 region
        return lower_dsp_requantize(lo, layer, node)
    if node.op in RNN_OPS:
        return lower_rnn(lo, layer, node)
    return None


def dsp_overlap_contracts(graph: Graph) -> dict[str, str]:
    """Node -> access-order contract (:mod:`qcompile.memory.overlap`) of its kernel here: the
    DSP depthwise writes four channels of a pixel before reading the next four (``CHANNEL``);
    the DSP conv im2cols both pixels of a pair before writing them (``PIXELS``); the layers
    it does not specialise keep the portable kernel's contract."""
    from qcompile.codegen.families.portable import portable_overlap_contract

    result: dict[str, str] = {}
    for node in graph.nodes:
        if window_of(graph, node) is None:
            continue
        if is_s16(graph, node):  # the 16x8 kernels keep the int8 ones' order; the portable s16 ones none
            if eligible_s16(graph, node):
                result[node.name] = CHANNEL if node.op == "depthwise_conv2d" else PIXELS
            continue
        if node.op == "depthwise_conv2d" and _depthwise_ok(graph, node):
            result[node.name] = CHANNEL
        elif node.op in _CONV_OPS and _conv_geometry(graph, node) is not None:
            result[node.name] = PIXELS
        elif (contract := portable_overlap_contract(graph, node)) is not None:
            result[node.name] = contract
    return result


def render_kernels_file(cname: str, model_comment: str, sources: list[str]) -> str:
    """The ``<name>_kernels.c`` text holding every rendered layer function."""
    return _render("kernels.c.j2", cname=cname, model_comment=model_comment, kernels=sources) + "\n"


class DspFamily(KernelFamily):
    """Armv7E-M DSP (SIMD) per-layer kernels; everything not specialised runs portable C.

    No row bands (the specialised conv needs its whole im2col scratch) and no fused head
    (the specialised FC beats the portable fused head, at the same arena)."""

    name = "dsp"
    description = "Cortex-M DSP extension (SMLAD) per-layer kernels"
    kernel_headers = DSP_HEADERS

    def scratch(self, graph: Graph, portable: Mapping[str, int]) -> dict[str, int]:
        return dsp_scratch(graph, portable)

    def overlap_contracts(self, graph: Graph) -> dict[str, str]:
        return dsp_overlap_contracts(graph)

    def stream_ops(self, graph: Graph) -> set[str]:
        """The specialised convs (batch 1): their template reads and writes rows through a ring."""
        return {
            n.name
            for n in graph.nodes
            if n.op in ("conv2d", "conv2d_add")
            and _conv_geometry(graph, n) is not None
            and int(graph.tensors[n.inputs[0]].shape[0]) == 1
            and not is_s16(graph, n)
        }

    def lower(self, lo: Lowering, layer: Layer, node: Node) -> int | None:
        return lower_dsp(lo, layer, node)

    def lower_s16(self, lo: Lowering, layer: Layer, node: Node) -> int | None:
        return lower_dsp_s16(lo, layer, node)

    def scratch_s16(self, graph: Graph) -> dict[str, int]:
        return dsp_s16_scratch(graph)

    def render_kernels_file(self, cname: str, model_comment: str, sources: list[str]) -> str:
        return render_kernels_file(cname, model_comment, sources)


FAMILY = DspFamily()

__all__ = [
    "DSP_HEADERS",
    "FAMILY",
    "acc_bound",
    "dsp_overlap_contracts",
    "depthwise_geometry",
    "dsp_scratch",
    "fold_conv_bias",
    "lower_dsp",
    "pack_conv_weights",
    "pack_depthwise_weights",
    "render_kernels_file",
    "requant_table",
    "words_from_bytes",
]

"""Per-layer Arm NEON (Advanced SIMD) int8 kernels for Cortex-A cores (AArch64 Linux).

Like the Cortex-M ``dsp`` family, every conv-like layer gets its own C function
(``templates/kernels/neon/*.c.j2``) with shapes, offsets and requantisation constants as
literals and its weights packed at compile time, so the code needs no runtime dispatch
and no packing at load time (XNNPACK packs when the model is loaded).

- ``conv2d``, ``conv2d_add`` (``groups == 1``, dilation 1, non-negative pads) and
  ``fully_connected``: one int8 row of ``K`` taps per output channel, ``K`` padded with
  zeros to a multiple of 16 (one q register); the input offset folded into the bias as in
  the DSP family. A 4-pixel x 4-channel register block of 16 int32x4 accumulators takes 16
  taps per step: ``SDOT`` when the target has the dot-product extension, ``SMULL`` +
  ``SMLAL2`` + ``SADALP`` otherwise (``SMULL`` + ``SADALP`` twice when the weights hold -128,
  where two products can overflow int16). Lane sums are reduced with ``ADDP`` and four
  channels are requantised at once (``SSHL``, ``SQRDMULH``, ``SQADD`` fix-up, ``SRSHL``: exactly
  TFLM's rounding, see ``kernels.c.j2``). Taps are read in place from the input, one run per
  kernel row (:class:`TapLayout`); padded windows read a zero-point-padded strip of their
  output row, and layers whose runs would pad K too much gather (im2col). ``conv2d_add``
  runs TFLM's int8 ADD on the requantised lanes before storing (in int16 until shifted on
  SDOT targets).

- ``depthwise_conv2d`` (depth multiplier 1, dilation 1, non-negative pads): per output pixel a
  table of tap pointers (taps outside the input point at a zero-point row, so the inner
  loop has no branches), 16 channels at a time: ``SMULL``/``SMULL2`` of a tap's inputs and
  weights widened into four int32x4 accumulators; channels past the last 16 are scalar.

- global ``avg_pool2d`` (the kernel covers the whole unpadded image) and ``mean`` over H and
  W: SADDW sums of 16 channels, then TFLM's rounding division or MEAN's requantisation per
  channel.

Everything else (other pools, add, softmax, ...) runs the portable runtime kernel.
On a host without NEON the rendered functions compute the same sums with scalar loops,
so the host ``qcompile verify`` checks packing, folding and epilogues of this family, and
``qcompile verify --qemu`` the NEON code itself.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from qcompile.codegen.families import KernelFamily, render_kernel_template
from qcompile.codegen.families.dsp import _bias_data, _conv_ok, _depthwise_ok, _emit, fold_conv_bias
from qcompile.codegen.families.layer_math import _int_vector
from qcompile.codegen.names import comment_text
from qcompile.codegen.streaming import emit_band_function, streamed
from qcompile.ir import Graph, Node
from qcompile.memory.overlap import CHANNEL, INTERLEAVED4, window_of
from qcompile.ops import split_conv_add

if TYPE_CHECKING:
    from qcompile.codegen.lowering import Layer, Lowering

NEON_HEADERS = ("qc_fixedpoint.h",)
"""Runtime headers ``<name>_kernels.c`` includes (the scalar fallback's requantisation)."""

_CONV_OPS = ("conv2d", "conv2d_add", "fully_connected")
_MR = 4  # output pixels per register block (the im2col scratch holds this many rows)


def _render(template: str, **context: Any) -> str:
    return render_kernel_template("neon", template, **context)


def _pad16(k: int) -> int:
    return -(-k // 16) * 16


def _pad(k: int, q: int) -> int:
    return -(-k // q) * q


def pack_dot(w: np.ndarray, oc_pad: int, kp: int | None = None) -> np.ndarray:
    """``[OC, K]`` int8 -> the SDOT-by-element layout ``[oc_pad / 16][kp / 4][16 channels][4 taps]``
    (``oc_pad`` a multiple of 16, ``kp`` of 4; K padded to 16 by default), so one 64-byte load
    holds four taps of 16 channels."""
    rows = pack_rows(w, oc_pad, kp)
    kp = rows.shape[1]
    return rows.reshape(oc_pad // 16, 16, kp // 4, 4).transpose(0, 2, 1, 3).reshape(-1)


def pack_rows(w: np.ndarray, oc_pad: int, kp: int | None = None) -> np.ndarray:
    """``[OC, K]`` int8 -> ``[oc_pad, kp]`` (K padded to 16 by default) with zero rows and columns
    (row-major)."""
    w = np.asarray(w, dtype=np.int64)
    oc, k = w.shape
    out = np.zeros((oc_pad, _pad16(k) if kp is None else kp), dtype=np.int64)
    out[:oc, :k] = w
    return out


def pack_segments(w: np.ndarray, nseg: int, segp: int) -> np.ndarray:
    """``[OC, nseg * seg]`` -> ``[OC, nseg * segp]``: each of the ``nseg`` runs of taps padded with
    zero weights to ``segp``."""
    w = np.asarray(w, dtype=np.int64)
    oc, k = w.shape
    out = np.zeros((oc, nseg, segp), dtype=np.int64)
    out[:, :, : k // nseg] = w.reshape(oc, nseg, k // nseg)
    return out.reshape(oc, nseg * segp)


@dataclass(frozen=True)
class TapLayout:
    """Where a conv layer's K taps per output pixel come from and how they are packed.

    ``nseg`` runs of ``seg`` taps, each padded to ``segp`` (a multiple of the step: 4 taps for
    SDOT by element, 16 for SMULL/SADALP), so ``kp = nseg * segp`` packed taps. ``segmented``:
    the runs are the kernel rows (``kw * C`` taps, contiguous in the NHWC input), and a pixel
    whose window lies inside the input is read in place, segment ``g`` at ``g * row`` bytes from
    its first tap; the kernel reads ``pad16(segp)`` bytes per segment (whole q registers), so
    a pixel whose last read would pass the input's end (``last_direct``: the highest index of
    the window's last-row first tap that may read in place) is not read in place either. Such
    pixels read a strip instead: the ``kh`` input rows of their output row, padded with the
    zero point to ``strip_w`` pixels (``strip_w * C`` bytes per row, ``strip`` bytes with the
    over-read slack), filled once per output row into a ring of ``ring`` strips (a block of 4
    pixels spans at most that many output rows). Every pixel of an unsegmented layout (one run
    of all K taps) is gathered (im2col) into a scratch slot of ``slot`` bytes. ``gather``: some
    pixel is not read in place."""

    k: int
    nseg: int
    seg: int
    segp: int
    kp: int
    segmented: bool
    row: int
    last_direct: int
    slot: int
    gather: bool
    strip_w: int
    strip: int
    ring: int

    @property
    def scratch(self) -> int:
        """Scratch bytes: the strip ring (segmented) or ``_MR`` gather slots, none without gathers."""
        if not self.gather:
            return 0
        return self.ring * self.strip if self.segmented else _MR * self.slot


# Growth of the packed K a segmented layout may cost over one run of all taps (key: SDOT): reading
# in place saves the gather, padding each kernel row costs MACs. Measured on ResNet-8's first layer
# (C = 3): SDOT, 36 packed taps in place vs 28 gathered: 96.9 k vs 122.6 k instructions;
# SMULL/SADALP, 48 in place vs 32 gathered: 325.0 k vs 289.8 k.
_SEGMENT_GROWTH = {True: 2.0, False: 1.0}


def tap_layout(graph: Graph, node: Node, dotprod: bool) -> TapLayout | None:
    """The tap layout of a layer this family specialises (conv2d, conv2d_add, fully_connected),
    else None."""
    if node.op not in _CONV_OPS or graph.tensors[node.inputs[1]].data is None:
        return None
    w = graph.tensors[node.inputs[1]]
    xs = tuple(int(d) for d in graph.tensors[node.inputs[0]].shape)
    if node.op == "fully_connected":
        k = int(w.shape[1])
        kh = kw = sh = sw = 1
        c, in_h, in_w, pt, pl = k, 1, math.prod(xs) // k, 0, 0
    else:
        if not _conv_ok(graph, node):
            return None
        _, kh, kw, c = (int(d) for d in w.shape)
        a = node.attrs
        in_h, in_w = xs[1], xs[2]
        sh, sw = (int(s) for s in a["strides"])
        pt, pl = int(a["pads"][0]), int(a["pads"][1])
        k = kh * kw * c
    q = 4 if dotprod else 16
    segp = _pad(kw * c, q)
    segmented = kh == 1 or kh * segp <= _pad(k, q) * _SEGMENT_GROWTH[dotprod]
    nseg, seg = (kh, kw * c) if segmented else (1, k)
    segp = _pad(seg, q)
    rd = _pad16(segp)
    last = (in_h * in_w * c - rd) // c if segmented else -1
    ys = graph.tensors[node.outputs[0]].shape
    oh, ow = (1, int(math.prod(ys)) // int(ys[-1])) if node.op == "fully_connected" else (int(ys[1]), int(ys[2]))
    iy0 = np.arange(oh)[:, None] * sh - pt
    ix0 = np.arange(ow)[None, :] * sw - pl
    direct = (iy0 >= 0) & (iy0 + kh <= in_h) & (ix0 >= 0) & (ix0 + kw <= in_w) & ((iy0 + kh - 1) * in_w + ix0 <= last)
    strip_w = (ow - 1) * sw + kw
    return TapLayout(k=k, nseg=nseg, seg=seg, segp=segp, kp=nseg * segp, segmented=segmented, row=in_w * c,
                     last_direct=last, slot=_pad16((nseg - 1) * segp + rd),
                     gather=not (segmented and bool(direct.all())), strip_w=strip_w,
                     strip=_pad16(kh * strip_w * c + max(0, rd - kw * c)), ring=min(oh, 2 + 3 // ow))  # fmt: skip


def neon_scratch(graph: Graph, portable: Mapping[str, int], dotprod: bool) -> dict[str, int]:
    """Scratch bytes per node with the NEON kernels (:attr:`TapLayout.scratch` for conv layers)."""
    result = dict(portable)
    for node in graph.nodes:
        if (node.op == "depthwise_conv2d" and _depthwise_ok(graph, node)) or _global_pool(graph, node):
            result.pop(node.name, None)
            continue
        layout = tap_layout(graph, node, dotprod)
        if layout is None:
            continue
        if layout.scratch:
            result[node.name] = layout.scratch
        else:
            result.pop(node.name, None)
    return result


def _requant_array(lo: Lowering, node: Node, oc: int, ocp: int) -> str:
    """Per-channel multipliers, left shifts (>= 0) and SRSHL amounts (<= 0), each padded to ``ocp``,
    one after the other in one array."""
    m = np.zeros(ocp, dtype=np.int64)
    s = np.zeros(ocp, dtype=np.int64)
    m[:oc] = _int_vector(node.attrs["multiplier"], oc)
    s[:oc] = _int_vector(node.attrs["shift"], oc)
    if s.min() < -31 or s.max() > 31:
        raise ValueError(f"{node.name}: shift out of [-31, 31]: {s.min()}..{s.max()}")
    rows = np.concatenate([m, np.maximum(s, 0), np.minimum(s, 0)])
    return lo.array("q", f"{node.name}_neon_rq", "int32_t", rows, f"{node.name} multipliers, left shifts, right shifts")


def _fast_requant(node: Node, oc: int) -> bool:
    """Every channel shifts right by at least 1 and none left: ``<name>_neon_mbqm_r`` applies."""
    return bool(_int_vector(node.attrs["shift"], oc).max() < 0)


def _add_constants(node: Node) -> dict[str, Any]:
    """Literal constants of the fused residual ADD of a conv2d_add node (TFLM int8 ADD)."""
    _, add, operand = split_conv_add(node.attrs)
    ins = {
        i: (int(add[f"input{i}_offset"]), int(add[f"input{i}_multiplier"]), int(add[f"input{i}_shift"])) for i in (1, 2)
    }
    (y_off, y_m, y_s), (r_off, r_m, r_s) = ins[operand], ins[3 - operand]
    ls = int(add["left_shift"])
    if not 0 <= ls <= 23 or max(y_s, r_s, int(add["output_shift"])) > 0:
        raise ValueError(f"{node.name}: add parameters outside TFLM's int8 ADD contract")
    first, second = ("ys", "rs") if operand == 1 else ("rs", "ys")
    sub = bool(int(add.get("subtract", 0)))
    return {
        "y_off": y_off, "y_m": y_m, "y_s": y_s, "r_off": r_off, "r_m": r_m, "r_s": r_s, "left_shift": ls,
        "raw": f"(uint32_t){first} {'-' if sub else '+'} (uint32_t){second}",
        "vraw": f"{'vsubq_s32' if sub else 'vaddq_s32'}({first}, {second})",
        "o_m": int(add["output_multiplier"]), "o_s": int(add["output_shift"]), "o_off": int(add["output_offset"]),
        "act_min": int(add["act_min"]), "act_max": int(add["act_max"]),
    }  # fmt: skip


def _geometry(lo: Lowering, node: Node, w: np.ndarray) -> dict[str, int]:
    x, y = node.inputs[0], node.outputs[0]
    if node.op == "fully_connected":
        oc, k = w.shape
        rows = math.prod(lo.shape(x)) // k
        return {"batches": 1, "in_h": 1, "in_w": rows, "in_c": k, "out_h": 1, "out_w": rows, "out_c": oc,
                "kh": 1, "kw": 1, "sh": 1, "sw": 1, "pt": 0, "pl": 0}  # fmt: skip
    a, xs, ys = node.attrs, lo.shape(x), lo.shape(y)
    oc, kh, kw, c = w.shape
    return {"batches": xs[0], "in_h": xs[1], "in_w": xs[2], "in_c": c, "out_h": ys[1], "out_w": ys[2], "out_c": oc,
            "kh": kh, "kw": kw, "sh": int(a["strides"][0]), "sw": int(a["strides"][1]),
            "pt": int(a["pads"][0]), "pl": int(a["pads"][1])}  # fmt: skip


def _lower_conv(lo: Lowering, layer: Layer, node: Node, dotprod: bool) -> int:
    a = node.attrs
    w = np.asarray(lo.graph.tensors[node.inputs[1]].data, dtype=np.int64)
    geo = _geometry(lo, node, w)
    w2 = w.reshape(w.shape[0], -1)
    oc, k = w2.shape
    ocp = -(-oc // 16) * 16 if dotprod else -(-oc // 4) * 4
    layout = tap_layout(lo.graph, node, dotprod)
    assert layout is not None
    off = int(a["input_offset"])
    fn = f"{lo.cname}_l{layer.index}_neon"
    rows = pack_segments(w2, layout.nseg, layout.segp)
    packed = pack_dot(rows, ocp, layout.kp) if dotprod else pack_rows(rows, ocp, layout.kp)
    weights = lo.array("w", f"{node.name}_neon_w", "int8_t", packed, f"{node.name} NEON weights")
    folded = np.zeros(ocp, dtype=np.int64)
    folded[:oc] = fold_conv_bias(w2, _bias_data(lo, node), off)[:oc]
    bias = lo.array("q", f"{node.name}_neon_bias", "int32_t", folded, f"{node.name} folded bias")
    add = _add_constants(node) if node.op == "conv2d_add" else None
    source = _render(
        "conv_dot.c.j2" if dotprod else "conv.c.j2",
        cname=lo.cname,
        fn=fn,
        index=layer.index,
        comment=comment_text(f"{node.op} {node.name}"),
        **geo,
        pixels=geo["out_h"] * geo["out_w"],
        k=k,
        L=layout,
        kp=layout.kp,
        ocp=ocp,
        zp=-off,
        input_offset=off,
        weights=weights,
        bias=bias,
        safe=bool(w2.min() < -127),
        output_offset=int(a["output_offset"]),
        act_min=int(a["act_min"]),
        act_max=int(a["act_max"]),
        add=add,
        rq=_requant_array(lo, node, oc, ocp),
        fast=_fast_requant(node, oc),
        stream=streamed(lo, node),
    )
    residual = lo.src(node.inputs[3]) if add else "NULL"
    if streamed(lo, node):
        emit_band_function(lo, layer, node, fn, source, residual)
    else:
        _emit(lo, layer, fn, source, node, residual=residual)
    return geo["batches"] * geo["out_h"] * geo["out_w"] * oc * k


def _lower_depthwise(lo: Lowering, layer: Layer, node: Node) -> int:
    a = node.attrs
    xs, ys = lo.shape(node.inputs[0]), lo.shape(node.outputs[0])
    w = np.asarray(lo.graph.tensors[node.inputs[1]].data, dtype=np.int64)
    kh, kw, c = w.shape
    cp = _pad16(c)
    off = int(a["input_offset"])
    fn = f"{lo.cname}_l{layer.index}_neon"
    packed = np.zeros((kh * kw, cp), dtype=np.int64)
    packed[:, :c] = w.reshape(kh * kw, c)
    folded = np.zeros(cp, dtype=np.int64)
    folded[:c] = fold_conv_bias(w.reshape(kh * kw, c).T, _bias_data(lo, node), off)[:c]
    source = _render(
        "depthwise.c.j2",
        cname=lo.cname,
        fn=fn,
        index=layer.index,
        comment=comment_text(f"{node.op} {node.name}"),
        batches=xs[0], in_h=xs[1], in_w=xs[2], channels=c, out_h=ys[1], out_w=ys[2],
        kh=kh, kw=kw, sh=int(a["strides"][0]), sw=int(a["strides"][1]), pt=int(a["pads"][0]), pl=int(a["pads"][1]),
        taps=kh * kw, cp=cp, groups=c // 16, zp=-off, input_offset=off,
        zp_row=lo.array("q", f"{node.name}_neon_zp", "int8_t", np.full(c, -off), f"{node.name} input zero point row"),
        weights=lo.array("w", f"{node.name}_neon_w", "int8_t", packed, f"{node.name} NEON weights [tap][channel]"),
        bias=lo.array("q", f"{node.name}_neon_bias", "int32_t", folded, f"{node.name} folded bias"),
        output_offset=int(a["output_offset"]), act_min=int(a["act_min"]), act_max=int(a["act_max"]),
        rq=_requant_array(lo, node, c, cp),
    )  # fmt: skip
    _emit(lo, layer, fn, source, node, residual="NULL")
    return math.prod(ys) * kh * kw


def _global_pool(graph: Graph, node: Node) -> bool:
    """An average pool over the whole image (no padding; the model heads of ResNet-8 and DS-CNN) or
    a TFLite MEAN over H and W (a global pool quantized with its own output scale)."""
    xs = graph.tensors[node.inputs[0]].shape
    a = node.attrs
    if node.op == "mean":
        return len(xs) == 4
    return (
        node.op == "avg_pool2d"
        and len(xs) == 4
        and tuple(int(k) for k in a["kernel"]) == (int(xs[1]), int(xs[2]))
        and not any(int(p) for p in a["pads"])
    )


def _lower_avg_pool(lo: Lowering, layer: Layer, node: Node) -> int:
    xs = lo.shape(node.inputs[0])
    fn = f"{lo.cname}_l{layer.index}_neon"
    a = node.attrs
    mean = None
    if node.op == "mean":
        mean = {k: int(a[k]) for k in ("input_offset", "output_offset", "multiplier", "shift")}
    source = _render(
        "avgpool.c.j2",
        cname=lo.cname,
        fn=fn,
        index=layer.index,
        comment=comment_text(f"{node.op} {node.name}"),
        batches=xs[0],
        hw=xs[1] * xs[2],
        channels=xs[3],
        mean=mean,
        act_min=int(a.get("act_min", -128)),
        act_max=int(a.get("act_max", 127)),
    )
    _emit(lo, layer, fn, source, node, residual="NULL")
    return 0


def lower_neon(lo: Lowering, layer: Layer, node: Node, dotprod: bool = False) -> int | None:
    """Specialise ``node`` into a NEON kernel (fills ``layer`` and ``lo.kernel_sources``) and return
    its MACs, or None to use the portable runtime kernel. ``dotprod``: pack conv weights for SDOT by
    element (the target has the dot-product extension)."""
    if node.op == "depthwise_conv2d" and _depthwise_ok(lo.graph, node):
        return _lower_depthwise(lo, layer, node)
    if _global_pool(lo.graph, node):
        return _lower_avg_pool(lo, layer, node)
    if node.op in _CONV_OPS and tap_layout(lo.graph, node, dotprod) is not None:
        return _lower_conv(lo, layer, node, dotprod)
    return None


class NeonFamily(KernelFamily):
    """AArch64 NEON per-layer kernels; everything not specialised runs portable C.

    No row bands (the NEON conv needs its own im2col rows) and no fused pool + FC head (the
    specialised FC is faster)."""

    name = "neon"
    description = "Cortex-A NEON per-layer kernels (SDOT with +dotprod, SMULL/SADALP otherwise)"
    kernel_headers = NEON_HEADERS

    def __init__(self, dotprod: bool = False) -> None:
        self.dotprod = dotprod

    def for_target(self, cflags: tuple[str, ...]) -> NeonFamily:
        """The dot-product weight layout when the target's ``-march`` has ``+dotprod``: packing is
        decided at compile time, and a build without the extension still runs it (emulated SDOT)."""
        dotprod = any(f.startswith("-march=") and "+dotprod" in f for f in cflags)
        return self if dotprod == self.dotprod else NeonFamily(dotprod)

    def scratch(self, graph: Graph, portable: Mapping[str, int]) -> dict[str, int]:
        return neon_scratch(graph, portable, self.dotprod)

    def overlap_contracts(self, graph: Graph) -> dict[str, str]:
        """The NEON conv writes a block of 4 pixels x 16 channels while the block's windows are
        still read for the next 16 channels (``INTERLEAVED4``; layers whose border pixels read
        strips filled once per output row, segmented layouts with gathers, declare none); the
        NEON depthwise writes 16 channels of a pixel after reading their taps, then the next 16
        (``CHANNEL``)."""
        result: dict[str, str] = {}
        for node in graph.nodes:
            if window_of(graph, node) is None:
                continue
            if node.op == "depthwise_conv2d" and _depthwise_ok(graph, node):
                result[node.name] = CHANNEL
                continue
            layout = tap_layout(graph, node, self.dotprod)
            if layout is not None and not (layout.gather and layout.segmented):
                result[node.name] = INTERLEAVED4
        return result

    def stream_ops(self, graph: Graph) -> set[str]:
        """The specialised batch-1 convs (stream mode: a band of output rows through windows of rows)."""
        return {
            n.name
            for n in graph.nodes
            if n.op in ("conv2d", "conv2d_add")
            and tap_layout(graph, n, self.dotprod) is not None
            and int(graph.tensors[n.inputs[0]].shape[0]) == 1
        }

    def stream_slack(self, graph: Graph) -> dict[str, int]:
        """Bytes past a streamed consumer's window of rows: reads of whole q registers in place
        may pass the last row's last tap by up to the run's read length (zero weights)."""
        names = self.stream_ops(graph)
        layouts = {n.name: tap_layout(graph, n, self.dotprod) for n in graph.nodes if n.name in names}
        return {name: _pad16(layout.segp) for name, layout in layouts.items() if layout is not None}

    def lower(self, lo: Lowering, layer: Layer, node: Node) -> int | None:
        return lower_neon(lo, layer, node, self.dotprod)

    def render_kernels_file(self, cname: str, model_comment: str, sources: list[str]) -> str:
        return _render("kernels.c.j2", cname=cname, model_comment=model_comment, kernels=sources) + "\n"


FAMILY = NeonFamily()

__all__ = [
    "FAMILY",
    "NEON_HEADERS",
    "TapLayout",
    "lower_neon",
    "neon_scratch",
    "pack_dot",
    "pack_rows",
    "pack_segments",
    "tap_layout",
]

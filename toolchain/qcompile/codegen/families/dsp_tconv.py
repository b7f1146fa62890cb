"""Per-layer DSP-family kernel of the int8 transposed convolution (TFLite TRANSPOSE_CONV, ONNX
ConvTranspose) with every shape and constant a literal (``templates/kernels/dsp/tconv.c.j2``);
:mod:`qcompile.codegen.families.dsp` registers it. Same exact integer sums as the reference
(docs/QUANTIZATION.md, "transpose_conv2d on the DSP family").

A gather, phase by phase: output row ``oy`` receives filter rows ``fy = (oy + pad_top) mod sh,
+ sh, ...`` from input rows ``iy = (oy + pad_top - fy) / sh`` (likewise columns), so the output
pixels of one phase ``((oy + pad_top) mod sh, (ox + pad_left) mod sw)`` form a plain convolution
with that phase's sub-filter. At compile time each phase's sub-filter is packed as int16 pairs
(``[phase][channel pair][quad of taps][channel][2 words]``, taps beyond the filter zero); per
output pixel an int16 column of its gathered input values (``x + input_offset``, 0 for taps
outside the input: a transposed conv has no padding values, those taps add nothing) feeds a
1 pixel x 2 channel SMLAD block (three LDRDs and four SMLADs per four taps).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from qcompile.codegen.families.layer_math import _int_vector, _wrap32, acc_bound, emit_layer_kernel, requant_table
from qcompile.ir import Graph, Node
from qcompile.ops import is_s16, structs

if TYPE_CHECKING:
    from qcompile.codegen.lowering import Layer, Lowering


def _geometry(kh: int, kw: int, sh: int, sw: int, ic: int) -> tuple[int, int, int]:
    """(taps per phase along y, along x, column length padded to a multiple of 4)."""
    nty, ntx = -(-kh // sh), -(-kw // sw)
    return nty, ntx, -(-(nty * ntx * ic) // 4) * 4


def pack_tconv_weights(w: np.ndarray, sh: int, sw: int) -> np.ndarray:
    """``[OC, KH, KW, IC]`` int8 -> int32 words of int16 pairs (bottom = even tap), per phase
    ``(py, px)`` and channel pair: for each quad of column taps, channel c's two words then c+1's.
    Column tap ``(t, u, i)`` of phase ``(py, px)`` is filter tap ``(py + t sh, px + u sw, i)``."""
    w = np.asarray(w, dtype=np.int64)
    oc, kh, kw, ic = w.shape
    nty, ntx, kp = _geometry(kh, kw, sh, sw, ic)
    ocp = oc + (oc & 1)
    out = np.zeros((sh, sw, ocp, kp), dtype=np.int64)
    for py in range(sh):
        for px in range(sw):
            sub = np.zeros((oc, nty, ntx, ic), dtype=np.int64)
            fy, fx = np.arange(py, kh, sh), np.arange(px, kw, sw)
            sub[:, : fy.size, : fx.size] = w[:, fy][:, :, fx]
            out[py, px, :oc, : nty * ntx * ic] = sub.reshape(oc, -1)
    # [phase, pair, 2, quads, 2 words, 2 lanes] -> [phase, pair, quads, 2 channels, 2 words, 2 lanes]
    lanes = out.reshape(sh * sw, ocp // 2, 2, kp // 4, 2, 2).transpose(0, 1, 3, 2, 4, 5).reshape(-1, 2)
    return _wrap32((lanes[:, 0] & 0xFFFF) | ((lanes[:, 1] & 0xFFFF) << 16))


def tconv_eligible(graph: Graph, node: Node) -> bool:
    """An int8 transposed conv with constant weights whose int32 sums the kernel keeps exact."""
    if node.op != "transpose_conv2d" or is_s16(graph, node) or graph.tensors[node.inputs[1]].data is None:
        return False
    try:
        structs.transpose_conv_fields(
            graph.tensors[node.inputs[0]].shape, graph.tensors[node.inputs[1]].shape, node.attrs
        )
    except ValueError:
        return False
    shift = _int_vector(node.attrs["shift"], int(graph.tensors[node.inputs[1]].shape[0]))
    return bool(-31 <= shift.min() and shift.max() <= 31)


def tconv_scratch(graph: Graph) -> dict[str, int]:
    """Scratch bytes: one output pixel's int16 column."""
    result: dict[str, int] = {}
    for node in graph.nodes:
        if tconv_eligible(graph, node):
            _, kh, kw, ic = (int(d) for d in graph.tensors[node.inputs[1]].shape)
            sh, sw = (int(s) for s in node.attrs["strides"])
            result[node.name] = (2 * _geometry(kh, kw, sh, sw, ic)[2] + 15) // 16 * 16
    return result


def _requant(lo: Lowering, node: Node, w: np.ndarray, bias: np.ndarray) -> dict[str, Any]:
    a = node.attrs
    oc = w.shape[0]
    mult, shift = _int_vector(a["multiplier"], oc), _int_vector(a["shift"], oc)
    table = requant_table(mult, shift, acc_bound(w.reshape(oc, -1), bias, int(a["input_offset"])))
    if table is not None:
        return {"dbl": True, "rq": lo.array("q", f"{node.name}_dsp_rq", "int32_t", table, f"{node.name} m, 2^(e-1), e")}
    values = np.stack([mult, shift], axis=1)
    return {"dbl": False, "rq": lo.array("q", f"{node.name}_dsp_rq", "int32_t", values, f"{node.name} m, shift")}


def lower_dsp_tconv(lo: Lowering, layer: Layer, node: Node) -> int | None:
    """Specialise an int8 transposed conv (its MACs), or None for the portable kernel."""
    if not tconv_eligible(lo.graph, node):
        return None
    a = node.attrs
    x, y = node.inputs[0], node.outputs[0]
    f = structs.transpose_conv_fields(lo.shape(x), lo.shape(node.inputs[1]), a)
    w = np.asarray(lo.graph.tensors[node.inputs[1]].data, dtype=np.int64)
    oc, kh, kw, ic = w.shape
    sh, sw = f["stride_h"], f["stride_w"]
    nty, ntx, kp = _geometry(kh, kw, sh, sw, ic)
    has_bias = len(node.inputs) > 2 and node.inputs[2]
    bias = np.zeros(oc, dtype=np.int64)
    if has_bias:
        bias = np.asarray(lo.graph.tensors[node.inputs[2]].data, dtype=np.int64).reshape(-1)
    ctx: dict[str, Any] = {k: f[k] for k in ("batches", "in_h", "in_w", "out_h", "out_w", "pad_top", "pad_left")}
    ctx.update(ic=ic, oc=oc, ocp=oc + (oc & 1), kh=kh, kw=kw, sh=sh, sw=sw, nty=nty, ntx=ntx, kp=kp)
    ctx.update(off=int(a["input_offset"]), out_off=int(a["output_offset"]), act_min=int(a["act_min"]))
    ctx["act_max"] = int(a["act_max"])
    packed = pack_tconv_weights(w, sh, sw)
    ctx["weights"] = lo.array("w", f"{node.name}_dsp_w", "int32_t", packed, f"{node.name} int16 phase sub-filters")
    padded_bias = np.concatenate([_wrap32(bias), np.zeros(oc & 1, dtype=np.int64)])
    ctx["bias"] = lo.array("q", f"{node.name}_dsp_bias", "int32_t", padded_bias, f"{node.name} bias")
    ctx.update(_requant(lo, node, w, bias))
    sig = "const int8_t *input, int8_t *output, void *scratch"
    emit_layer_kernel(lo, layer, node, "tconv.c.j2", sig, [lo.src(x), lo.dst(y), lo.scratch(node)], **ctx)
    _, h, wd, _ = lo.shape(x)
    return f["batches"] * h * wd * ic * oc * kh * kw


__all__ = ["lower_dsp_tconv", "pack_tconv_weights", "tconv_eligible", "tconv_scratch"]

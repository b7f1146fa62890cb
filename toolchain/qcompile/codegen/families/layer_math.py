"""Layer arithmetic the specialised kernel families share (the DSP family's int8 and 16x8
modules, MVE, NEON): int32 wrapping, per-channel vectors, the interior of a convolution
window, depthwise geometry, the exact one-SMLAL requantisation table and the int8 ADD
constants (the fused conv2d_add epilogue and the standalone DSP add). Apart from ``dsp.py`` so that ``dsp_s16.py`` uses them without
importing the module that imports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from qcompile.codegen.families import render_kernel_template
from qcompile.codegen.names import comment_text
from qcompile.quant.fixedpoint import multiply_by_quantized_multiplier_smaller_than_one_exp as mbqm_lt1
from qcompile.quant.fixedpoint import wrap_int32

if TYPE_CHECKING:
    from qcompile.codegen.lowering_base import LoweringBase as Lowering
    from qcompile.ir import Node

_MASK32 = (1 << 32) - 1


def _wrap32(values: np.ndarray) -> np.ndarray:
    """int64 values reduced modulo 2^32 into int32 range (the reference's int32 wrap)."""
    v = np.asarray(values, dtype=np.int64) & _MASK32
    return np.where(v >= 2**31, v - 2**32, v).astype(np.int64)


def _interior(out: int, pad: int, stride: int, kernel: int, size: int) -> tuple[int, int]:
    """Output index range [lo, hi) whose whole window lies inside the input."""
    lo = -(-pad // stride)
    hi = min(out, (size + pad - kernel) // stride + 1)
    return (lo, hi) if hi > lo else (0, 0)


def depthwise_geometry(lo: Lowering, node: Node) -> dict[str, Any]:
    """Shapes, strides, pads, interior pixel ranges and tap offsets (elements) of a depthwise
    layer, as template context (the int8 and the 16x8 depthwise templates)."""
    a = node.attrs
    xs, ys = lo.shape(node.inputs[0]), lo.shape(node.outputs[0])
    kh, kw, c = lo.shape(node.inputs[1])
    sh, sw = int(a["strides"][0]), int(a["strides"][1])
    pt, pl = int(a["pads"][0]), int(a["pads"][1])
    oy_lo, oy_hi = _interior(ys[1], pt, sh, kh, xs[1])
    ox_lo, ox_hi = _interior(ys[2], pl, sw, kw, xs[2])
    geo = {"batches": xs[0], "in_h": xs[1], "in_w": xs[2], "channels": c, "out_h": ys[1], "out_w": ys[2]}
    geo.update(kh=kh, kw=kw, sh=sh, sw=sw, pt=pt, pl=pl, oy_lo=oy_lo, oy_hi=oy_hi, ox_lo=ox_lo, ox_hi=ox_hi)
    geo.update(taps=kh * kw, tap_offsets=[(ky * xs[2] + kx) * c for ky in range(kh) for kx in range(kw)])
    return geo


def _int_vector(values: Any, n: int) -> np.ndarray:
    """A per-channel attribute as n int64 values (a scalar is broadcast)."""
    arr = np.asarray(values, dtype=np.int64).reshape(-1)
    return np.repeat(arr, n) if arr.size == 1 else arr


def requant_table(multiplier: np.ndarray, shift: np.ndarray, acc_bound: int) -> np.ndarray | None:
    """``[m, 2^(e-1), e]`` per channel (``e = -shift``) for ``qc_requantize_x2`` (qc_fixedpoint.h), or None.

    That requantisation takes ``2 * acc`` and is exact (see kernels.c.j2) when every
    multiplier is positive, every shift is in [-31, -1] and ``2 * |acc| < 2^31`` for every
    accumulator the layer can produce (``acc_bound`` bounds ``|acc|``); otherwise the
    caller keeps the general requantisation.
    """
    m = np.asarray(multiplier, dtype=np.int64).reshape(-1)
    e = -np.asarray(shift, dtype=np.int64).reshape(-1)
    if m.min() <= 0 or e.min() < 1 or e.max() > 31 or 2 * int(acc_bound) >= 2**31:
        return None
    return np.stack([m, np.left_shift(1, e - 1), e], axis=1).reshape(-1)


def _fast_ok(m: int, s: int) -> bool:
    """``qc_requantize_fast`` (``qc_fixedpoint.h``) may replace TFLM's MultiplyByQuantizedMultiplier
    for this multiplier/shift (see that header for when it is exact)."""
    return m > 0 and -22 <= s <= 0


def add_constants(
    lo: Lowering, name: str, add: Mapping[str, Any], operand: int, what: tuple[str, str] = ("conv output", "residual")
) -> dict[str, Any]:
    """Literal constants of a TFLM int8 ADD/SUB (``add``: its attributes) as template context:
    ``y`` is input ``operand`` (1 or 2), ``r`` the other; 256-entry rescale tables when the
    one-SMLAL output requantisation is exact (``lut``). Shared with the standalone DSP add."""
    fast = "qc_requantize_fast"

    def rq(m: int, s: int) -> str:
        return fast if _fast_ok(m, s) else "qc_requantize_lt1"

    ins = {
        1: (int(add["input1_offset"]), int(add["input1_multiplier"]), int(add["input1_shift"])),
        2: (int(add["input2_offset"]), int(add["input2_multiplier"]), int(add["input2_shift"])),
    }
    y_off, y_m, y_s = ins[operand]
    r_off, r_m, r_s = ins[3 - operand]
    first, second = ("ys", "rs") if operand == 1 else ("rs", "ys")
    sign = "-" if int(add.get("subtract", 0)) else "+"
    o_m, o_s = int(add["output_multiplier"]), int(add["output_shift"])
    if int(add["left_shift"]) < 0 or int(add["left_shift"]) > 23 or max(y_s, r_s, o_s) > 0:
        raise ValueError("add parameters outside TFLM's int8 ADD contract")
    # Each input's rescaled value is a function of one int8: two 256-entry tables replace two
    # multiplications; the sum then takes the one-SMLAL requantisation when it is exact.
    q = np.arange(-128, 128, dtype=np.int64)
    ls = int(add["left_shift"])
    y_tab = mbqm_lt1(wrap_int32((q + y_off) << ls), y_m, y_s)
    r_tab = mbqm_lt1(wrap_int32((q + r_off) << ls), r_m, r_s)
    raw_bound = int(np.abs(y_tab).max() + np.abs(r_tab).max())
    lut = requant_table(np.array([o_m]), np.array([o_s]), raw_bound) is not None
    y_lut = r_lut = None
    if lut:
        y_lut = lo.array("q", f"{name}_dsp_add_y", "int32_t", y_tab, f"{name} rescaled {what[0]} per int8")
        r_lut = lo.array("q", f"{name}_dsp_add_r", "int32_t", r_tab, f"{name} rescaled {what[1]} per int8")
    return {
        "lut": lut,
        "y_lut": y_lut,
        "r_lut": r_lut,
        "y_off": y_off,
        "y_m": y_m,
        "y_s": y_s,
        "y_rq": rq(y_m, y_s),
        "r_off": r_off,
        "r_m": r_m,
        "r_s": r_s,
        "r_rq": rq(r_m, r_s),
        "left_shift": int(add["left_shift"]),
        "raw": f"(uint32_t){first} {sign} (uint32_t){second}",
        "o_m": o_m,
        "o_s": o_s,
        "o_rq": rq(o_m, o_s),
        "o_off": int(add["output_offset"]),
        "act_min": int(add["act_min"]),
        "act_max": int(add["act_max"]),
    }


def acc_bound(w: np.ndarray, bias: np.ndarray | None, input_offset: int) -> int:
    """Largest ``|bias + sum (x + input_offset) * w|`` over int8 inputs, any channel (rows of ``w``)."""
    w = np.abs(np.asarray(w, dtype=np.int64).reshape(np.asarray(w).shape[0], -1))
    xmax = max(abs(-128 + int(input_offset)), abs(127 + int(input_offset)))
    b = 0 if bias is None else np.abs(np.asarray(bias, dtype=np.int64).reshape(-1))
    return int(np.max(b + xmax * w.sum(axis=1)))


def emit_layer_kernel(
    lo: Lowering,
    layer: Any,
    node: Node,
    template: str,
    sig: str,
    args: list[str],
    suffix: str = "dsp",
    label: str = "",
    **ctx: object,
) -> None:
    """Render the dsp ``template`` as this layer's function ``<cname>_l<i>_<suffix>(sig)`` into
    ``<name>_kernels.c`` and call it with ``args`` (a nonzero status fails the layer); ``label``
    ends the function's comment (the 16x8 kernels' `` (16x8)``)."""
    fn = f"{lo.cname}_l{layer.index}_{suffix}"
    comment = comment_text(f"{node.op} {node.name}{label}")
    lo.kernel_sources.append(render_kernel_template("dsp", template, fn=fn, index=layer.index, comment=comment, **ctx))
    layer.params.append(f"int {fn}({sig});")
    layer.statements.append(f"if ({fn}({', '.join(args)}) != QC_OK) {{\n        return {layer.index + 1};\n    }}")

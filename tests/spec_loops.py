"""The int8 spec (docs/QUANTIZATION.md, TFLM's reference kernels) as plain Python loops, one
output element at a time: an oracle that shares no code with the vectorised numpy reference
(``qcompile.reference``) except the scalar fixed-point primitives of
``qcompile.quant.fixedpoint``, which are themselves checked against C and TFLM."""

from __future__ import annotations

from typing import Any

import numpy as np

from qcompile.quant.fixedpoint import (
    multiply_by_quantized_multiplier,
    multiply_by_quantized_multiplier_smaller_than_one_exp,
)


def wrap32(v: int) -> int:
    return ((v + 2**31) % 2**32) - 2**31


def requant(acc: int, m: int, s: int, out_off: int, lo: int, hi: int) -> int:
    """TFLM's per-channel requantisation of one int32 accumulator to int8."""
    v = int(multiply_by_quantized_multiplier(np.int64(wrap32(acc)), m, s))
    return min(max(wrap32(v + out_off), lo), hi)


def conv_loop(x, w, b, strides, dilations, pads, groups, io, oo, mult, shift, lo, hi, depthwise_dm=None):
    """conv2d (w ``[OC,KH,KW,C/groups]``) or, with ``depthwise_dm``, depthwise (w ``[KH,KW,C*dm]``)."""
    n_, h, wd, _ = x.shape
    if depthwise_dm is None:
        oc_n, kh, kw, cg = w.shape
        ocg = oc_n // groups
    else:
        kh, kw, oc_n = w.shape
    top, left, bottom, right = pads
    oh = (h + top + bottom - dilations[0] * (kh - 1) - 1) // strides[0] + 1
    ow = (wd + left + right - dilations[1] * (kw - 1) - 1) // strides[1] + 1
    out = np.zeros((n_, oh, ow, oc_n), np.int8)
    for n in range(n_):
        for y in range(oh):
            for xx in range(ow):
                for oc in range(oc_n):
                    acc = 0 if b is None else int(b[oc])
                    for ky in range(kh):
                        for kx in range(kw):
                            iy = y * strides[0] - top + ky * dilations[0]
                            ix = xx * strides[1] - left + kx * dilations[1]
                            if not (0 <= iy < h and 0 <= ix < wd):
                                continue
                            if depthwise_dm is None:
                                g = oc // ocg
                                for i in range(cg):
                                    acc += (int(x[n, iy, ix, g * cg + i]) + io) * int(w[oc, ky, kx, i])
                            else:
                                acc += (int(x[n, iy, ix, oc // depthwise_dm]) + io) * int(w[ky, kx, oc])
                    out[n, y, xx, oc] = requant(acc, int(mult[oc]), int(shift[oc]), oo, lo, hi)
    return out


def conv_attrs_loop(x, w, b, a: dict[str, Any]) -> np.ndarray:
    """:func:`conv_loop` with a conv2d node's attributes."""
    n = w.shape[0]
    mult = np.broadcast_to(np.asarray(a["multiplier"]).reshape(-1), (n,))
    shift = np.broadcast_to(np.asarray(a["shift"]).reshape(-1), (n,))
    return conv_loop(
        x, w, b, a["strides"], a["dilations"], a["pads"], a["groups"], a["input_offset"], a["output_offset"],
        mult, shift, a["act_min"], a["act_max"],
    )  # fmt: skip


def add_loop(x1: np.ndarray, x2: np.ndarray, a: dict[str, Any]) -> np.ndarray:
    """TFLM's int8 ADD/SUB on two tensors of one shape."""
    mbqm = multiply_by_quantized_multiplier_smaller_than_one_exp
    out = np.zeros(x1.shape, np.int8)
    for i in np.ndindex(x1.shape):
        s1 = int(
            mbqm(
                np.int64((int(x1[i]) + a["input1_offset"]) << a["left_shift"]),
                a["input1_multiplier"],
                a["input1_shift"],
            )
        )
        s2 = int(
            mbqm(
                np.int64((int(x2[i]) + a["input2_offset"]) << a["left_shift"]),
                a["input2_multiplier"],
                a["input2_shift"],
            )
        )
        raw = s1 - s2 if a["subtract"] else s1 + s2
        v = int(mbqm(np.int64(raw), a["output_multiplier"], a["output_shift"])) + a["output_offset"]
        out[i] = min(max(v, a["act_min"]), a["act_max"])
    return out


def avg_pool_loop(x: np.ndarray, kernel, strides, pads, lo: int, hi: int) -> np.ndarray:
    """TFLM's int8 AVERAGE_POOL_2D: the mean over the window's real pixels (padding excluded),
    rounded half away from zero with C's truncating division, then clamped."""
    n_, h, wd, c = x.shape
    top, left, bottom, right = pads
    oh = (h + top + bottom - kernel[0]) // strides[0] + 1
    ow = (wd + left + right - kernel[1]) // strides[1] + 1
    out = np.zeros((n_, oh, ow, c), np.int8)
    for n, y, xx, ch in np.ndindex(out.shape):
        ys = range(max(0, y * strides[0] - top), min(h, y * strides[0] - top + kernel[0]))
        xs = range(max(0, xx * strides[1] - left), min(wd, xx * strides[1] - left + kernel[1]))
        total = sum(int(x[n, iy, ix, ch]) for iy in ys for ix in xs)
        count = len(ys) * len(xs)
        half = count // 2 if total > 0 else -(count // 2)
        avg = int((total + half) / count)  # C division truncates toward zero
        out[n, y, xx, ch] = min(max(avg, lo), hi)
    return out


def fc_loop(x: np.ndarray, w: np.ndarray, b, a: dict[str, Any]) -> np.ndarray:
    """TFLM's int8 FULLY_CONNECTED on ``[rows, K]`` (per-tensor or per-channel requantisation)."""
    rows, k = x.shape
    n = w.shape[0]
    mult = np.broadcast_to(np.asarray(a["multiplier"]).reshape(-1), (n,))
    shift = np.broadcast_to(np.asarray(a["shift"]).reshape(-1), (n,))
    out = np.zeros((rows, n), np.int8)
    for r in range(rows):
        for o in range(n):
            acc = (0 if b is None else int(b[o])) + sum(
                (int(x[r, i]) + a["input_offset"]) * int(w[o, i]) for i in range(k)
            )
            out[r, o] = requant(acc, int(mult[o]), int(shift[o]), a["output_offset"], a["act_min"], a["act_max"])
    return out

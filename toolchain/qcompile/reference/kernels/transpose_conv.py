"""numpy reference of the int8 transposed convolution (TFLite TRANSPOSE_CONV, ONNX ConvTranspose).

TFLM's ``reference_integer_ops::TransposeConv`` scatters every input pixel through the
filter into an int32 accumulator per output element, then requantizes per channel::

    acc[n, oy, ox, o] = bias[o] + sum (x[n, iy, ix, i] + input_offset) * w[o, fy, fx, i]
                        over iy*sh - pad_top + fy = oy,  ix*sw - pad_left + fx = ox
    out = clamp(MBQM(acc, multiplier[o], shift[o]) + output_offset, act_min, act_max)

Weights are ``[OC, KH, KW, IC]`` (TFLite's layout). The output is
``(H-1)*sh + KH - pad_top - pad_bottom`` high (likewise wide); ``pad_bottom``/``pad_right``
may be negative (ONNX ``output_padding``: extra rows that get only the bias). The sums
are exact integers, so the C kernel may gather per output instead of scattering.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qcompile.reference.conv import _channel_params, _check_common, _requantize


def transpose_conv_out_hw(x_shape: Sequence[int], w_shape: Sequence[int], strides, pads) -> tuple[int, int]:
    """(OH, OW) of a transposed conv; pads (top, left, bottom, right)."""
    _, h, wd, _ = (int(d) for d in x_shape)
    _, kh, kw, _ = (int(d) for d in w_shape)
    sh, sw = (int(s) for s in strides)
    top, left, bottom, right = (int(p) for p in pads)
    if sh < 1 or sw < 1 or top < 0 or left < 0 or top >= kh or left >= kw:
        raise ValueError(f"transpose_conv2d strides {tuple(strides)} / pads {tuple(pads)} are not supported")
    oh = (h - 1) * sh + kh - top - bottom
    ow = (wd - 1) * sw + kw - left - right
    if oh < 1 or ow < 1:
        raise ValueError(f"transpose_conv2d output {oh}x{ow} is empty")
    return oh, ow


def transpose_conv2d(
    x: np.ndarray,
    w: np.ndarray,
    bias: np.ndarray | None = None,
    *,
    strides: Sequence[int],
    pads: Sequence[int],
    input_offset: int,
    output_offset: int,
    multiplier,
    shift,
    act_min: int,
    act_max: int,
) -> np.ndarray:
    """int8 NHWC transposed convolution (see the module docstring)."""
    x, w = np.asarray(x), np.asarray(w)
    _check_common(x, w, input_offset, act_min, act_max)
    if x.ndim != 4 or w.ndim != 4 or w.shape[3] != x.shape[3]:
        raise ValueError(f"transpose_conv2d needs x [N,H,W,C] and w [OC,KH,KW,C], got {x.shape} and {w.shape}")
    n, h, wd, _ = x.shape
    oc, kh, kw, _ = w.shape
    oh, ow = transpose_conv_out_hw(x.shape, w.shape, strides, pads)
    sh, sw = (int(s) for s in strides)
    top, left = int(pads[0]), int(pads[1])
    mult, sft, b = _channel_params(multiplier, shift, bias, oc)
    xs = x.astype(np.int64) + int(input_offset)
    # full (uncropped) scatter canvas, then the window [top, top + oh) x [left, left + ow)
    full_h = max((h - 1) * sh + kh, top + oh)
    full_w = max((wd - 1) * sw + kw, left + ow)
    acc = np.zeros((n, full_h, full_w, oc), dtype=np.int64)
    wt = w.astype(np.int64)
    for fy in range(kh):
        for fx in range(kw):
            contrib = xs @ wt[:, fy, fx, :].T  # [n, h, wd, oc]
            acc[:, fy : fy + (h - 1) * sh + 1 : sh, fx : fx + (wd - 1) * sw + 1 : sw, :] += contrib
    acc = acc[:, top : top + oh, left : left + ow, :]
    return _requantize(acc, b, mult, sft, output_offset, act_min, act_max)

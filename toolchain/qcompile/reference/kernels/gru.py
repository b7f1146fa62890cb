"""int8 reference of the ONNX GRU (the spec of ``qc_gru_s8``, ``runtime_c/src/qc_gru.c``).

Quantized in the style of TFLite Micro's int8x8_16 LSTM: int8 input and weights, int16 gate
pre-activations at calibrated scales, TFLM's int16 sigmoid and tanh (Q15 outputs,
:mod:`qcompile.reference.kernels.sigmoid_s16`), an int16 Q15 hidden state inside the
kernel, int8 ``Y``. docs/QUANTIZATION.md ("gru") gives the formulas; per direction ``d``,
step ``t`` (backwards for a reverse direction), gate ``g`` in (z, r, n), row ``j``::

    px_g = MBQM64(sum_i W[g,j,i] (x_i + input_offset) + wb[g,j], mx[g,j], ex[g,j])
    z    = sigmoid16(sat16(px_z + MBQM64(sum_k R[z,j,k] h_k + rb[z,j], mh, eh)))      (r likewise)
    lbr 0: rh = RDBPOT(r h, 15);  pn = MBQM64(sum_k R[n,j,k] rh_k + rb[n,j], mh, eh)
    lbr 1: hn = sat16(MBQM64(sum_k R[n,j,k] h_k + rb[n,j], mh, eh));  pn = MBQM(r hn, rhn_multiplier, rhn_shift)
    n    = tanh16(sat16(px_n + pn))
    h    = sat16(n + RDBPOT(z (h - n), 15))
    Y    = clamp8(MBQM(h, output_multiplier, output_shift) + output_offset)

``h`` starts at ``sat16(MBQM(h0 + h0_offset, h0_multiplier, h0_shift))`` (zeros without ``h0``).
An int16 ``h0`` is the Q15 state itself (``h = h0``, the ``h0_*`` attributes unused), and the
kernel then also returns each direction's final Q15 state ``[D, B, H]`` (``qc_gru_state16_s8``):
``--stateful`` carries a GRU's state between calls that way, without an int8 rounding per call.
"""

from __future__ import annotations

import numpy as np

from qcompile.quant.fixedpoint import (
    multiply_by_quantized_multiplier,
    multiply_by_quantized_multiplier_int64,
    rounding_divide_by_pot,
)
from qcompile.reference.float_kernels.gru import gru_directions
from qcompile.reference.kernels.sigmoid_s16 import logistic_values, tanh_values

#: largest hidden size and input size the kernel takes (int64 sums cannot overflow far beyond)
MAX_FEATURES = 4096


def _sat16(v: np.ndarray) -> np.ndarray:
    return np.clip(np.asarray(v, dtype=np.int64), -32768, 32767)


def _check(x, w, r, wb, rb, requant, hidden: int, directions: int) -> None:
    if x.dtype != np.int8 or w.dtype != np.int8 or r.dtype != np.int8:
        raise ValueError("gru input and weights must be int8")
    h, d = int(hidden), int(directions)
    if x.ndim != 3 or d not in (1, 2) or not 1 <= h <= MAX_FEATURES or not 1 <= x.shape[2] <= MAX_FEATURES:
        raise ValueError(f"gru needs x [T, B, I] with I and hidden in 1..{MAX_FEATURES}, 1 or 2 directions")
    want = {
        "w": (d, 3 * h, x.shape[2]),
        "r": (d, 3 * h, h),
        "wb": (d, 3 * h),
        "rb": (d, 3 * h),
        "requant": (d, 3 * h, 4),
    }
    for name, arr in (("w", w), ("r", r), ("wb", wb), ("rb", rb), ("requant", requant)):
        if tuple(arr.shape) != want[name]:
            raise ValueError(f"gru {name} has shape {tuple(arr.shape)}, expected {want[name]}")
    shifts = requant[..., 1::2]
    if np.any(requant[..., 0::2] < 0) or np.any(shifts < -31) or np.any(shifts > 7):
        raise ValueError("gru gate multipliers must be >= 0 with shifts in [-31, 7]")


def gru(
    x, w, r, wb, rb, requant, h0=None, *,
    hidden, directions, reverse, linear_before_reset, input_offset, h0_offset, h0_multiplier, h0_shift,
    output_offset, output_multiplier, output_shift, gate_multiplier, gate_shift, rhn_multiplier, rhn_shift,
):  # fmt: skip
    """int8 ``Y [T, D, B, H]`` of the quantized GRU (module docstring). ``requant [D, 3H, 4]``
    holds per row ``(mx, ex, mh, eh)``; ``gate_multiplier``/``gate_shift`` are the int16
    sigmoid/tanh input parameters of z, r and n (TFLM's LOGISTIC/TANH ``Prepare``)."""
    x, w, r = np.asarray(x), np.asarray(w), np.asarray(r)
    wb, rb, requant = np.asarray(wb, np.int64), np.asarray(rb, np.int64), np.asarray(requant, np.int64)
    _check(x, w, r, wb, rb, requant, hidden, directions)
    h_n, (steps, batch, _) = int(hidden), x.shape
    y = np.zeros((steps, int(directions), batch, h_n), dtype=np.int8)
    q15 = h0 is not None and np.asarray(h0).dtype == np.int16
    last = np.zeros((int(directions), batch, h_n), dtype=np.int16)
    xs = x.astype(np.int64) + int(input_offset)
    gm, gs = [int(v) for v in gate_multiplier], [int(v) for v in gate_shift]
    for d, backwards in enumerate(gru_directions(int(directions), int(reverse))):
        wd, rd, q = w[d].astype(np.int64), r[d].astype(np.int64), requant[d]
        if h0 is None:
            h = np.zeros((batch, h_n), dtype=np.int64)
        elif q15:
            h = np.asarray(h0)[d].astype(np.int64)
        else:
            h0d = np.asarray(h0)[d].astype(np.int64) + int(h0_offset)
            h = _sat16(multiply_by_quantized_multiplier(h0d, int(h0_multiplier), int(h0_shift)))
        for t in reversed(range(steps)) if backwards else range(steps):
            px = multiply_by_quantized_multiplier_int64(xs[t] @ wd.T + wb[d], q[:, 0], q[:, 1])
            zr = 2 * h_n
            ph = multiply_by_quantized_multiplier_int64(h @ rd[:zr].T + rb[d][:zr], q[:zr, 2], q[:zr, 3])
            z = logistic_values(_sat16(px[:, :h_n] + ph[:, :h_n]).astype(np.int16), gm[0], gs[0]).astype(np.int64)
            rr = logistic_values(_sat16(px[:, h_n:zr] + ph[:, h_n:]).astype(np.int16), gm[1], gs[1]).astype(np.int64)
            if linear_before_reset:
                acc = h @ rd[zr:].T + rb[d][zr:]
                hn = _sat16(multiply_by_quantized_multiplier_int64(acc, q[zr:, 2], q[zr:, 3]))
                pn = multiply_by_quantized_multiplier(rr * hn, int(rhn_multiplier), int(rhn_shift))
            else:
                rh = rounding_divide_by_pot(rr * h, 15)
                pn = multiply_by_quantized_multiplier_int64(rh @ rd[zr:].T + rb[d][zr:], q[zr:, 2], q[zr:, 3])
            n = tanh_values(_sat16(px[:, zr:] + pn).astype(np.int16), gm[2], gs[2]).astype(np.int64)
            h = _sat16(n + rounding_divide_by_pot(z * (h - n), 15))
            out = multiply_by_quantized_multiplier(h, int(output_multiplier), int(output_shift)) + int(output_offset)
            y[t, d] = np.clip(out, -128, 127)
        last[d] = h
    return (y, last) if q15 else y

"""TFLite Micro's integer LSTM (``UNIDIRECTIONAL_SEQUENCE_LSTM``, ``lstm_eval.h`` with int8
activations, int8 weights, int16 gates and cell state, int32 biases): the spec of the C
kernel ``qc_lstm_unidirectional_s8`` (``runtime_c/src/qc_lstm.c``, docs/QUANTIZATION.md "LSTM").

The node's inputs are ``x`` (int8 ``[B, T, I]``, or ``[T, B, I]`` when ``time_major``), ``w``
(int8 ``[4, H, I]``: the input weights of the input, forget, cell and output gates, TFLite's
gate order), ``r`` (int8 ``[4, H, H]``: the recurrent weights), ``b`` (int32 ``[4, H]``: the
gate biases at scale ``s_x * s_w[g]``), ``h0`` (int8 ``[B, H]``) and ``c0`` (int16 ``[B, H]``);
its outputs ``y`` (every step's hidden state, ``x``'s layout), ``h`` and ``c`` after the last
step. Per step and gate ``g`` (all from the previous ``h``)::

    pre[g] = sat16(clamp16(MBQM(b[g] + w[g] (x + input_offset), gate_in_multiplier[g], gate_in_shift[g]))
                 + clamp16(MBQM(r[g] (h - hidden_zero_point), gate_rec_multiplier[g], gate_rec_shift[g])))

(the gate pre-activations at scale 2^-12), then with TFLM's int16 sigmoid/tanh
(:mod:`qcompile.reference.kernels.sigmoid_s16`, outputs at 2^-15)::

    i, f, o = sigmoid(pre[0]), sigmoid(pre[1]), sigmoid(pre[3]);  g = tanh(pre[2])
    c = sat16(clamp16(MBQM(f * c, cell_forget_*)) + clamp16(MBQM(i * g, cell_input_*)))
    c = clamp(c, -cell_clip, cell_clip)                      (when cell_clip >= 0)
    h = clamp8(MBQM(tanh_c(c) * o, hidden_*) + hidden_zero_point)

``tanh_c`` is the int16 tanh with ``cell_tanh_multiplier`` / ``cell_tanh_shift`` (TFLM's
``Tanh(cell_state_scale_power)``). :func:`lstm_params` is TFLM's ``Prepare``.
"""

from __future__ import annotations

import numpy as np

from qcompile.op_params import channel_multipliers
from qcompile.quant.fixedpoint import multiply_by_quantized_multiplier, quantize_multiplier
from qcompile.reference.kernels.sigmoid_s16 import checked_log2, logistic_values, tanh_values

I16 = (-32768, 32767)
#: the gate pre-activation scale (Q3.12) and the sigmoid/tanh output scale (Q0.15)
GATE_SCALE = 2.0**-12
NONLINEAR_OUTPUT_SCALE = 2.0**-15


def _mbqm16(acc: np.ndarray, m, s) -> np.ndarray:
    return np.clip(multiply_by_quantized_multiplier(acc, m, s), *I16)


def gate_rows(values, hidden: int) -> np.ndarray:
    """A gate FC's multipliers or shifts as ``[4, H]`` (or ``[4, 1]``): 4 values are one per gate
    (TFLM's format, every row of a gate alike), ``4 H`` one per gate row (the ONNX LSTM's per-row
    int8 weights, docs/QUANTIZATION.md "lstm from ONNX")."""
    v = np.asarray(values, dtype=np.int64).reshape(-1)
    if v.size not in (4, 4 * hidden):
        raise ValueError(
            f"lstm gate multipliers/shifts need 4 (per gate) or 4 * {hidden} (per row) values, got {v.size}"
        )
    return v.reshape(4, -1)


def _check(x, w, r, b, h0, c0) -> tuple[int, int, int]:
    for name, a, dt in (("x", x, np.int8), ("w", w, np.int8), ("r", r, np.int8), ("b", b, np.int32)):
        if np.asarray(a).dtype != dt:
            raise ValueError(f"{name} must be {np.dtype(dt).name}, got {np.asarray(a).dtype}")
    if np.asarray(h0).dtype != np.int8 or np.asarray(c0).dtype != np.int16:
        raise ValueError("h0 must be int8 and c0 int16")
    if x.ndim != 3 or w.ndim != 3 or w.shape[0] != 4:
        raise ValueError(f"x must be rank 3 and w [4, H, I], got {x.shape} and {w.shape}")
    hidden, inputs = w.shape[1], w.shape[2]
    if r.shape != (4, hidden, hidden) or b.shape != (4, hidden) or x.shape[2] != inputs:
        raise ValueError(f"r {r.shape} / b {b.shape} / x {x.shape} do not match w {w.shape}")
    return hidden, inputs, x.shape[1]


def lstm(
    x: np.ndarray,
    w: np.ndarray,
    r: np.ndarray,
    b: np.ndarray,
    h0: np.ndarray,
    c0: np.ndarray,
    *,
    time_major: int,
    input_offset: int,
    hidden_zero_point: int,
    gate_in_multiplier,
    gate_in_shift,
    gate_rec_multiplier,
    gate_rec_shift,
    cell_forget_multiplier: int,
    cell_forget_shift: int,
    cell_input_multiplier: int,
    cell_input_shift: int,
    hidden_multiplier: int,
    hidden_shift: int,
    cell_clip: int,
    cell_tanh_multiplier: int,
    cell_tanh_shift: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TFLM's int8x8_16 LSTM over a sequence: ``(y, h, c)`` (module docstring)."""
    x, w, r, b = (np.asarray(a) for a in (x, w, r, b))
    hidden, _, _ = _check(x, w, r, b, np.asarray(h0), np.asarray(c0))
    xs = x.transpose(1, 0, 2) if int(time_major) else x  # [B, T, I]
    batches, steps = xs.shape[0], xs.shape[1]
    h = np.asarray(h0, dtype=np.int64).reshape(batches, hidden)
    c = np.asarray(c0, dtype=np.int64).reshape(batches, hidden)
    w64, r64, b64 = w.astype(np.int64), r.astype(np.int64), b.astype(np.int64)
    m_in, s_in = gate_rows(gate_in_multiplier, hidden), gate_rows(gate_in_shift, hidden)
    m_rec, s_rec = gate_rows(gate_rec_multiplier, hidden), gate_rows(gate_rec_shift, hidden)
    y = np.empty((batches, steps, hidden), dtype=np.int8)
    for t in range(steps):
        xt = xs[:, t, :].astype(np.int64) + int(input_offset)
        hr = h - int(hidden_zero_point)
        pre = []
        for g in range(4):
            a = _mbqm16(xt @ w64[g].T + b64[g], m_in[g], s_in[g])
            rr = _mbqm16(hr @ r64[g].T, m_rec[g], s_rec[g])
            pre.append(np.clip(a + rr, *I16).astype(np.int16))
        i, f, o = (logistic_values(pre[k], 0, 0).astype(np.int64) for k in (0, 1, 3))
        gc = tanh_values(pre[2], 0, 0).astype(np.int64)
        c = np.clip(
            _mbqm16(f * c, cell_forget_multiplier, cell_forget_shift)
            + _mbqm16(i * gc, cell_input_multiplier, cell_input_shift),
            *I16,
        )
        if int(cell_clip) >= 0:
            c = np.clip(c, -int(cell_clip), int(cell_clip))
        tc = tanh_values(c.astype(np.int16), cell_tanh_multiplier, cell_tanh_shift).astype(np.int64)
        hm = multiply_by_quantized_multiplier(tc * o, int(hidden_multiplier), int(hidden_shift))
        h = np.clip(hm + int(hidden_zero_point), -128, 127)
        y[:, t, :] = h
    y_out = y.transpose(1, 0, 2) if int(time_major) else y
    shape_h = np.asarray(h0).shape
    return np.ascontiguousarray(y_out), h.astype(np.int8).reshape(shape_h), c.astype(np.int16).reshape(shape_h)


def cell_tanh_params(cell_scale: float) -> tuple[int, int]:
    """TFLM's ``Tanh(cell_state_scale_power)``: (multiplier, shift) of the int16 tanh of the cell
    state, from ``p = round(log2(cell_scale))`` (``CheckedLog2``; TFLM does not require a power of two)."""
    _, power = checked_log2(cell_scale)
    shift = 15 + power - 3
    if shift > 12:
        raise ValueError(f"cell state scale {cell_scale} is too large (at most 1, a power of two)")
    return (3, -shift) if shift < 0 else (0, shift)


def lstm_params(
    x_scale: float,
    x_zero_point: int,
    w_scales,
    r_scales,
    h_scale: float,
    h_zero_point: int,
    cell_scale: float,
    cell_clip: float,
    *,
    time_major: bool,
) -> dict:
    """The ``lstm`` node's attributes as TFLM's ``PrepareGateParametersInteger`` and
    ``CreateLstmCellStateInfo`` derive them (``w_scales`` / ``r_scales``: one per gate, i f c o,
    or one per gate row ``[4, H]``: the ``gate_*`` attributes then hold ``4 H`` values, :func:`gate_rows`)."""
    m_in, s_in = channel_multipliers(x_scale, np.asarray(w_scales, dtype=np.float64).reshape(-1), GATE_SCALE)
    m_rec, s_rec = channel_multipliers(h_scale, np.asarray(r_scales, dtype=np.float64).reshape(-1), GATE_SCALE)
    cs, nl = float(np.float32(cell_scale)), NONLINEAR_OUTPUT_SCALE
    forget = quantize_multiplier(nl * cs / cs)
    inp = quantize_multiplier(nl * nl / cs)
    hid = quantize_multiplier(nl * nl / float(np.float32(h_scale)))
    clip = -1
    if float(cell_clip) > 0:
        clip = int(min(max(float(np.float32(cell_clip)) / cs, -32768.0), 32767.0))
    tm, ts = cell_tanh_params(cell_scale)
    return {
        "time_major": int(bool(time_major)),
        "input_offset": -int(x_zero_point),
        "hidden_zero_point": int(h_zero_point),
        "gate_in_multiplier": tuple(int(v) for v in m_in),
        "gate_in_shift": tuple(int(v) for v in s_in),
        "gate_rec_multiplier": tuple(int(v) for v in m_rec),
        "gate_rec_shift": tuple(int(v) for v in s_rec),
        "cell_forget_multiplier": forget[0],
        "cell_forget_shift": forget[1],
        "cell_input_multiplier": inp[0],
        "cell_input_shift": inp[1],
        "hidden_multiplier": hid[0],
        "hidden_shift": hid[1],
        "cell_clip": clip,
        "cell_tanh_multiplier": tm,
        "cell_tanh_shift": ts,
    }

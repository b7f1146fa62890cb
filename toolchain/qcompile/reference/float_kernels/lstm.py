"""Float LSTM of one direction (ONNX's default activations), the float IR's ``lstm`` as the ONNX
importer emits it (:mod:`qcompile.frontends.onnx_ops.lstm`). Besides ``y`` and the final state it
returns the internals calibration observes (docs/QUANTIZATION.md, "lstm"): every step's gate
pre-activations and cell state."""

from __future__ import annotations

import numpy as np


def _sigmoid(v: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-v))


def lstm(x, w, r, b, h0, c0, *, hidden: int):
    """``x [T, B, I]`` (time major), ``w [4, H, I]``, ``r [4, H, H]``, ``b [4, H]`` in TFLite's
    gate order (input, forget, cell, output), ``h0`` / ``c0 [B, H]``. Returns ``(y [T, B, H],
    h [B, H], c [B, H], gates [T, B, 4H], cells [T, B, H])``."""
    x = np.asarray(x, dtype=np.float64)
    steps, batch = x.shape[0], x.shape[1]
    w64, r64, b64 = (np.asarray(a, np.float64) for a in (w, r, b))
    h, c = np.asarray(h0, np.float64).reshape(batch, hidden), np.asarray(c0, np.float64).reshape(batch, hidden)
    y, cells = np.zeros((steps, batch, hidden)), np.zeros((steps, batch, hidden))
    gates = np.zeros((steps, batch, 4 * hidden))
    for t in range(steps):
        pre = [x[t] @ w64[g].T + h @ r64[g].T + b64[g] for g in range(4)]
        i, f, o = _sigmoid(pre[0]), _sigmoid(pre[1]), _sigmoid(pre[3])
        c = f * c + i * np.tanh(pre[2])
        h = o * np.tanh(c)
        y[t], cells[t], gates[t] = h, c, np.concatenate(pre, axis=1)
    return tuple(v.astype(np.float32) for v in (y, h, c, gates, cells))

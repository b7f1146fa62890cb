"""Float ONNX GRU (default activations: sigmoid for z and r, tanh for n), the float IR's
``gru``. Besides ``Y`` it returns the gate internals calibration observes (docs/QUANTIZATION.md,
"gru"): the pre-activations of z, r and n and, with ``linear_before_reset``, the recurrent
term ``H R_n^T + Rb_n`` that r multiplies."""

from __future__ import annotations

import numpy as np


def _sigmoid(v: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-v))


def gru_directions(directions: int, reverse: int) -> list[bool]:
    """Per direction: does it run the sequence backwards (ONNX: direction 1 of a bidirectional GRU)."""
    return [bool(reverse)] if directions == 1 else [False, True]


def gru(x, w, r, b, h0=None, *, hidden: int, directions: int, reverse: int, linear_before_reset: int):
    """ONNX GRU on ``x [T, B, I]``; ``w [D, 3H, I]``, ``r [D, 3H, H]``, ``b [D, 6H]`` in ONNX's
    gate order (z, r, n); ``h0 [D, B, H]`` or None (zeros). Returns ``(Y [T, D, B, H], z_pre,
    r_pre, n_pre, hn)``, the last four ``[T, D, B, H]`` (``hn`` is zeros without
    ``linear_before_reset``)."""
    x = np.asarray(x, dtype=np.float64)
    steps, batch = x.shape[0], x.shape[1]
    h_n = int(hidden)
    y = np.zeros((steps, directions, batch, h_n))
    internals = [np.zeros_like(y) for _ in range(4)]
    for d, backwards in enumerate(gru_directions(directions, reverse)):
        wd, rd = np.asarray(w[d], np.float64), np.asarray(r[d], np.float64)
        wb, rb = np.asarray(b[d][: 3 * h_n], np.float64), np.asarray(b[d][3 * h_n :], np.float64)
        h = np.zeros((batch, h_n)) if h0 is None else np.asarray(h0[d], np.float64)
        for t in reversed(range(steps)) if backwards else range(steps):
            gx = x[t] @ wd.T + wb
            gh = h @ rd[: 2 * h_n].T + rb[: 2 * h_n]
            pre_z, pre_r = gx[:, :h_n] + gh[:, :h_n], gx[:, h_n : 2 * h_n] + gh[:, h_n:]
            z, rr = _sigmoid(pre_z), _sigmoid(pre_r)
            if linear_before_reset:
                hn = h @ rd[2 * h_n :].T + rb[2 * h_n :]
                pre_n = gx[:, 2 * h_n :] + rr * hn
                internals[3][t, d] = hn
            else:
                pre_n = gx[:, 2 * h_n :] + (rr * h) @ rd[2 * h_n :].T + rb[2 * h_n :]
            h = (1.0 - z) * np.tanh(pre_n) + z * h
            y[t, d] = h
            internals[0][t, d], internals[1][t, d], internals[2][t, d] = pre_z, pre_r, pre_n
    return tuple(v.astype(np.float32) for v in (y, *internals))

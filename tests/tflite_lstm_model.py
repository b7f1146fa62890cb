"""A TFLite model holding one int8 UNIDIRECTIONAL_SEQUENCE_LSTM (random int8 weights and
scales), built with ``tflite_builder``: the LSTM tests and bench/models/make_lstm_kws.py."""

from __future__ import annotations

import numpy as np
from tflite_builder import ModelBuilder


def lstm_model(
    seed: int,
    batch: int = 1,
    steps: int = 5,
    inputs: int = 7,
    hidden: int = 9,
    *,
    time_major: bool = False,
    cell_clip: float = 0.0,
    cell_scale: float = 2.0**-11,
    extra: dict | None = None,
) -> bytes:
    """One UNIDIRECTIONAL_SEQUENCE_LSTM with random int8 weights and scales (``extra``: optional
    input index -> tensor to set, for the refusal tests)."""
    rng = np.random.default_rng(seed)
    b = ModelBuilder()
    x_scale, x_zp = float(rng.uniform(0.005, 0.05)), int(rng.integers(-20, 20))
    h_scale, h_zp = float(rng.uniform(0.004, 0.01)), int(rng.integers(-10, 10))
    shape = (steps, batch, inputs) if time_major else (batch, steps, inputs)
    x = b.tensor("x", shape, "int8", scale=x_scale, zero_point=x_zp)
    ins = [x]
    w_scales = rng.uniform(0.002, 0.02, 8)
    for g in range(4):
        ins.append(b.tensor(f"w{g}", (hidden, inputs), scale=w_scales[g], data=_i8(rng, (hidden, inputs))))
    for g in range(4):
        ins.append(b.tensor(f"r{g}", (hidden, hidden), scale=w_scales[4 + g], data=_i8(rng, (hidden, hidden))))
    ins += [-1, -1, -1]
    for g in range(4):
        bs = float(np.float32(x_scale) * np.float32(w_scales[g]))
        data = rng.integers(-3000, 3000, hidden).astype(np.int32)
        ins.append(b.tensor(f"b{g}", (hidden,), "int32", scale=bs, data=data))
    ins += [-1, -1]
    h = b.tensor("h_state", (batch, hidden), "int8", scale=h_scale, zero_point=h_zp)
    c = b.tensor("c_state", (batch, hidden), "int16", scale=cell_scale)
    b.tensors[h].isVariable = b.tensors[c].isVariable = True
    ins += [h, c, -1, -1, -1, -1]
    for i, t in (extra or {}).items():
        ins[i] = t(b) if callable(t) else t
    y_shape = (steps, batch, hidden) if time_major else (batch, steps, hidden)
    y = b.tensor("y", y_shape, "int8", scale=h_scale, zero_point=h_zp)
    opts = dict(fusedActivationFunction=4, cellClip=cell_clip, timeMajor=time_major)
    b.op("UNIDIRECTIONAL_SEQUENCE_LSTM", ins, [y], "UnidirectionalSequenceLSTMOptions", **opts)
    b.inputs, b.outputs = [x], [y]
    return b.finish()


def _i8(rng, shape) -> np.ndarray:
    return rng.integers(-127, 128, size=shape).astype(np.int8)

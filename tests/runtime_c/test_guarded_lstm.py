"""Memory safety of qc_lstm_unidirectional_s8: random shapes, scales and states through
tests/c/qc_kernel_driver.c built with ASan + UBSan, every array at the very end of its own
guarded mapping; outputs equal the numpy reference (reference/kernels/lstm.py)."""

from __future__ import annotations

import numpy as np
from c_driver import KernelDriver, Out, Out16
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qcompile.ops import structs
from qcompile.reference.kernels.lstm import lstm, lstm_params

SAFE = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _fields(d: dict) -> np.ndarray:
    flat: list[int] = []
    for v in d.values():
        flat += list(v) if isinstance(v, list | tuple) else [v]
    return np.array(flat, np.int32)


def _run(kernel_driver: KernelDriver, seed: int, time_major: bool, clip: bool, per_row: bool) -> None:
    """One random LSTM through ``qc_lstm_unidirectional_s8`` (one weight scale per gate) or
    ``qc_lstm_unidirectional_per_row_s8`` (one per gate row), checked against the reference."""
    rng = np.random.default_rng(seed)
    batches, steps, inputs, hidden = (int(v) for v in rng.integers(1, 7, 4))
    x_scale, h_scale = float(rng.uniform(0.002, 0.1)), float(rng.uniform(0.002, 0.02))
    scales = (4, hidden) if per_row else 4
    attrs = lstm_params(
        x_scale,
        int(rng.integers(-128, 128)),
        rng.uniform(0.001, 0.05, scales),
        rng.uniform(0.001, 0.05, scales),
        h_scale,
        int(rng.integers(-128, 128)),
        2.0 ** int(rng.integers(-15, -8)),
        float(rng.uniform(0.1, 4.0)) if clip else 0.0,
        time_major=time_major,
    )
    shape = (steps, batches, inputs) if time_major else (batches, steps, inputs)
    x = rng.integers(-128, 128, shape).astype(np.int8)
    w = rng.integers(-127, 128, (4, hidden, inputs)).astype(np.int8)
    r = rng.integers(-127, 128, (4, hidden, hidden)).astype(np.int8)
    b = rng.integers(-50000, 50000, (4, hidden)).astype(np.int32)
    h0 = rng.integers(-128, 128, (batches, hidden)).astype(np.int8)
    c0 = rng.integers(-32768, 32768, (batches, hidden)).astype(np.int16)
    y, h, c = lstm(x, w, r, b, h0, c0, **attrs)
    bias_in, bias_rec = structs.lstm_folded_biases(w, r, b, attrs)
    p = _fields(structs.lstm_fields(x.shape, w.shape, attrs))
    blocks = [p, x, w, r, bias_in, bias_rec, h0, c0, Out(y.size), Out(h.size), Out16(c.size)]
    rows = structs.lstm_row_requant(attrs, hidden)
    assert (rows is not None) == (per_row and hidden > 1)
    kernel = "qc_lstm_unidirectional_s8"
    if rows is not None:
        kernel = "qc_lstm_unidirectional_per_row_s8"
        blocks.insert(4, rows.reshape(-1))
    got_y, got_h, got_c = kernel_driver.run(kernel, blocks)
    np.testing.assert_array_equal(got_y, y.reshape(-1))
    np.testing.assert_array_equal(got_h, h.reshape(-1))
    np.testing.assert_array_equal(got_c, c.reshape(-1))


@SAFE
@given(seed=st.integers(0, 2**32 - 1), time_major=st.booleans(), clip=st.booleans())
def test_lstm_guarded(kernel_driver: KernelDriver, seed: int, time_major: bool, clip: bool) -> None:
    _run(kernel_driver, seed, time_major, clip, per_row=False)


@SAFE
@given(seed=st.integers(0, 2**32 - 1), time_major=st.booleans(), clip=st.booleans())
def test_lstm_per_row_guarded(kernel_driver: KernelDriver, seed: int, time_major: bool, clip: bool) -> None:
    """Per-row requantisation (the ONNX LSTM's per-row weight scales): every row its own multiplier."""
    _run(kernel_driver, seed, time_major, clip, per_row=True)


def test_lstm_binding_per_row_equals_reference() -> None:
    """The host binding picks qc_lstm_unidirectional_per_row_s8 for per-row attributes (and the
    per-gate kernel otherwise): both equal the reference."""
    from runtime_ext import require_runtime

    rt = require_runtime()
    rng = np.random.default_rng(5)
    x = rng.integers(-128, 128, (3, 2, 7)).astype(np.int8)
    w = rng.integers(-127, 128, (4, 6, 7)).astype(np.int8)
    r = rng.integers(-127, 128, (4, 6, 6)).astype(np.int8)
    b = rng.integers(-50000, 50000, (4, 6)).astype(np.int32)
    h0 = rng.integers(-128, 128, (2, 6)).astype(np.int8)
    c0 = rng.integers(-32768, 32768, (2, 6)).astype(np.int16)
    for scales in (4, (4, 6)):
        ws, rs = rng.uniform(0.001, 0.05, scales), rng.uniform(0.001, 0.05, scales)
        attrs = lstm_params(0.03, 5, ws, rs, 0.01, -3, 2.0**-11, 0.0, time_major=True)
        for got, want in zip(rt.lstm_s8(x, w, r, b, h0, c0, **attrs), lstm(x, w, r, b, h0, c0, **attrs), strict=True):
            np.testing.assert_array_equal(got, want)

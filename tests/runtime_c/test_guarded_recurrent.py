"""qc_gru_s8 against the numpy reference: random shapes and parameters (hypothesis) through
tests/c/qc_kernel_driver.c under ASan + UBSan, every array at the very end of its own guarded
mapping (scratch too), and through the host binding."""

from __future__ import annotations

import numpy as np
from c_driver import NULL, KernelDriver, Out, Out16, flat_struct
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from runtime_ext import require_runtime

from qcompile.ops import structs
from qcompile.reference.kernels.gru import gru

SAFE = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _multipliers(rng: np.random.Generator, shape, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    return rng.integers(2**30, 2**31 - 1, shape), rng.integers(lo, hi, shape)


def random_gru_case(rng: np.random.Generator):
    """(inputs, attrs) of one random GRU layer: every direction mode, both reset forms, with and
    without h0, multipliers that reach saturation of the int16 gates and of the output."""
    steps, batch, inputs, hidden = (int(v) for v in rng.integers(1, [6, 3, 12, 12]))
    d = int(rng.integers(1, 3))
    rows = (d, 3 * hidden)
    requant = np.zeros((*rows, 4), np.int32)
    requant[..., 0], requant[..., 1] = _multipliers(rng, rows, -14, 4)
    requant[..., 2], requant[..., 3] = _multipliers(rng, rows, -22, -4)
    args = [
        rng.integers(-128, 128, (steps, batch, inputs)).astype(np.int8),
        rng.integers(-127, 128, (*rows, inputs)).astype(np.int8),
        rng.integers(-127, 128, (*rows, hidden)).astype(np.int8),
        rng.integers(-(2**22), 2**22, rows).astype(np.int64),
        rng.integers(-(2**30), 2**30, rows).astype(np.int64),
        requant,
        rng.integers(-128, 128, (d, batch, hidden)).astype(np.int8) if rng.random() < 0.5 else None,
    ]
    m = [int(v) for v in rng.integers(2**30, 2**31 - 1, 3)]
    attrs = dict(
        hidden=hidden,
        directions=d,
        reverse=int(rng.integers(0, 2)),
        linear_before_reset=int(rng.integers(0, 2)),
        input_offset=int(rng.integers(-127, 129)),
        h0_offset=int(rng.integers(-127, 129)),
        h0_multiplier=m[0],
        h0_shift=int(rng.integers(0, 10)),
        output_offset=int(rng.integers(-128, 128)),
        output_multiplier=m[1],
        output_shift=int(rng.integers(-10, -5)),
        gate_multiplier=[int(v) if rng.random() < 0.8 else 0 for v in rng.integers(1, 32768, 3)],
        gate_shift=[int(v) for v in rng.integers(0, 13, 3)],
        rhn_multiplier=m[2],
        rhn_shift=int(rng.integers(-18, -10)),
    )
    return args, attrs


@SAFE
@given(seed=st.integers(0, 2**32 - 1))
def test_gru_guarded(kernel_driver: KernelDriver, seed: int) -> None:
    args, attrs = random_gru_case(np.random.default_rng(seed))
    want = gru(*args, **attrs)
    struct = flat_struct(structs.gru_fields(args[0].shape, attrs))
    h0 = NULL if args[6] is None else args[6]
    (got,) = kernel_driver.run("qc_gru_s8", [struct, *args[:6], h0, Out(want.size)])
    np.testing.assert_array_equal(got, want.reshape(-1))


@SAFE
@given(seed=st.integers(0, 2**32 - 1))
def test_gru_state16_guarded(kernel_driver: KernelDriver, seed: int) -> None:
    """``qc_gru_state16_s8``: any int16 Q15 state in (saturated states included), the final Q15
    state of each direction out, both equal to the reference."""
    rng = np.random.default_rng(seed)
    args, attrs = random_gru_case(rng)
    d, batch, hidden = attrs["directions"], args[0].shape[1], attrs["hidden"]
    h0 = rng.integers(-32768, 32768, (d, batch, hidden)).astype(np.int16)
    want_y, want_h = gru(*args[:6], h0, **attrs)
    struct = flat_struct(structs.gru_fields(args[0].shape, attrs))
    got_y, got_h = kernel_driver.run("qc_gru_state16_s8", [struct, *args[:6], h0, Out(want_y.size), Out16(want_h.size)])
    np.testing.assert_array_equal(got_y, want_y.reshape(-1))
    np.testing.assert_array_equal(got_h, want_h.reshape(-1))


def test_gru_state16_carries_the_state_across_calls() -> None:
    """Two calls over halves of a sequence, the Q15 state handed over, equal one call over all
    of it: what ``--stateful`` on a GRU relies on."""
    args, attrs = random_gru_case(np.random.default_rng(7))
    x = np.random.default_rng(8).integers(-128, 128, (8, *args[0].shape[1:])).astype(np.int8)
    attrs = {**attrs, "directions": 1, "reverse": 0}
    w, r, wb, rb, rq = (a[:1] for a in args[1:6])
    h0 = np.zeros((1, x.shape[1], attrs["hidden"]), np.int16)
    whole, h_whole = gru(x, w, r, wb, rb, rq, h0, **attrs)
    first, h_mid = gru(x[:5], w, r, wb, rb, rq, h0, **attrs)
    second, h_end = gru(x[5:], w, r, wb, rb, rq, h_mid, **attrs)
    np.testing.assert_array_equal(np.concatenate([first, second]), whole)
    np.testing.assert_array_equal(h_end, h_whole)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_gru_binding_equals_reference(seed: int) -> None:
    rt = require_runtime()
    args, attrs = random_gru_case(np.random.default_rng(seed))
    np.testing.assert_array_equal(rt.gru_s8(*args, **attrs), gru(*args, **attrs))


def test_bad_gru_parameters_are_rejected(kernel_driver: KernelDriver) -> None:
    args, attrs = random_gru_case(np.random.default_rng(3))
    struct = flat_struct(structs.gru_fields(args[0].shape, attrs))
    bad_hidden = struct.copy()
    bad_hidden[3] = 0
    bad_shift = args[5].copy()
    bad_shift[0, 0, 1] = 8  # the int64 requantisation takes left shifts up to 7
    results = kernel_driver.run_many(
        [
            ("qc_gru_s8", [bad_hidden, *args[:6], NULL, Out(1)]),
            ("qc_gru_s8", [struct, *args[:5], bad_shift, NULL, Out(args[0].shape[0] * 3 * 12 * 12 * 2)]),
        ]
    )
    assert all(status != 0 for status, _ in results)

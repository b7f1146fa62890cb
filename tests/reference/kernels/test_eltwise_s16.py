"""The 16x8 elementwise references (``reference/kernels/eltwise_s16.py``) against their C
twins through the binding: the int16 table on all 65,536 inputs (and against the real
function), LEAKY_RELU's parameters, MAXIMUM/MINIMUM broadcasting. TFLM oracle tests of the
imported ops are in ``tests/frontends/test_tflite_s16.py``."""

from __future__ import annotations

import numpy as np
import pytest

from qcompile.reference.float_ops import elementwise_function
from qcompile.reference.kernels import eltwise_s16

ALL = np.arange(-32768, 32768, dtype=np.int16)


@pytest.mark.parametrize(
    ("fn", "params", "s_in", "s_out"),
    [
        ("gelu", {}, 8 / 32767, 8 / 32767),
        ("exp", {}, 3 / 32767, 21 / 32767),
        ("elu", {"alpha": 1.0}, 6 / 32767, 6 / 32767),
        ("hard_swish", {}, 7 / 32767, 7 / 32767),
        ("erf", {}, 2.5 / 32767, 1 / 32767),
        ("softplus", {}, 9 / 32767, 9 / 32767),
    ],
)
def test_lut_s16_all_inputs_c_equals_reference_and_tracks_the_function(fn, params, s_in, s_out) -> None:
    import qcompile.host._runtime as rt

    f = elementwise_function(fn, **params)
    table = eltwise_s16.lut_table_s16(f, s_in, s_out)
    assert table.shape == (513,) and table.dtype == np.int16
    want = eltwise_s16.lut(ALL, table=table)
    np.testing.assert_array_equal(rt.lut_s16(ALL, table=table), want)
    real = np.clip(np.round(f(ALL.astype(np.float64) * s_in) / s_out), -32768, 32767)
    # 128-input linear segments: a kink inside one (hard_swish at +-3) costs up to ~16 LSB
    assert np.max(np.abs(want - real)) <= 16, np.max(np.abs(want - real))


def test_lut_s16_rejects_a_wrong_table() -> None:
    with pytest.raises(ValueError, match="513"):
        eltwise_s16.lut(ALL, table=np.zeros(256, np.int16))


def test_leaky_relu_params_refuse_negative_alpha_and_match_c() -> None:
    import qcompile.host._runtime as rt

    with pytest.raises(ValueError, match="alpha"):
        eltwise_s16.leaky_relu_params(1e-3, 1e-3, -0.5)
    p = eltwise_s16.leaky_relu_params(4e-4, 5e-4, 0.3)
    want = eltwise_s16.leaky_relu(ALL, **p)
    assert want[-1] == round(32767 * 0.8) and want[0] == round(-32768 * 0.8 * 0.3)
    np.testing.assert_array_equal(rt.leaky_relu_s16(ALL, **p), want)


def test_maximum_minimum_broadcast_match_c() -> None:
    import qcompile.host._runtime as rt

    rng = np.random.default_rng(3)
    a = rng.integers(-32768, 32768, (2, 3, 4, 5)).astype(np.int16)
    b = rng.integers(-32768, 32768, (3, 1, 5)).astype(np.int16)
    np.testing.assert_array_equal(rt.maximum_s16(a, b), np.maximum(a, b))
    np.testing.assert_array_equal(eltwise_s16.minimum(a, b), rt.minimum_s16(a, b))

"""``reference/kernels/matmul_s16.py`` (TFLM's int16 BATCH_MATMUL) == ``qc_batch_matmul_s16``
on random shapes; non-zero offsets refused (TFLM checks them). TFLM oracle cases:
``tests/frontends/test_tflite_s16.py``."""

from __future__ import annotations

import numpy as np
import pytest

from qcompile.quant.converters.transformer import batch_matmul_params
from qcompile.reference.kernels import matmul_s16


@pytest.mark.parametrize("seed", range(6))
def test_batch_matmul_s16_c_equals_reference(seed: int) -> None:
    import qcompile.host._runtime as rt

    rng = np.random.default_rng(seed)
    adj_x, adj_y = bool(seed & 1), bool(seed & 2)
    m, k, n = (int(v) for v in rng.integers(1, 9, 3))
    a = rng.integers(-32768, 32768, (2, *((k, m) if adj_x else (m, k)))).astype(np.int16)
    b = rng.integers(-32768, 32768, (1, *((n, k) if adj_y else (k, n)))).astype(np.int16)
    attrs = dict(adj_x=int(adj_x), adj_y=int(adj_y), act_min=-32768, act_max=32767)
    attrs |= batch_matmul_params(1e-3, 0, 2e-3, 0, 0.05 * k, 0)
    want = matmul_s16.batch_matmul(a, b, **attrs)
    assert 0 < np.mean(np.abs(want) < 32767)  # not all saturated
    np.testing.assert_array_equal(rt.batch_matmul_s16(a, b, **attrs), want)


def test_batch_matmul_s16_refuses_offsets() -> None:
    a = np.zeros((2, 3), np.int16)
    attrs = dict(adj_x=0, adj_y=0, act_min=-32768, act_max=32767) | batch_matmul_params(1e-3, 0, 1e-3, 0, 1e-3, 0)
    with pytest.raises(ValueError, match="zero points"):
        matmul_s16.batch_matmul(a, a.T.copy(), **(attrs | {"lhs_offset": 3}))

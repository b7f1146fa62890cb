"""Memory safety of the attention kernels (qc_batch_matmul_s8, qc_layer_norm_s8): random
shapes through tests/c/qc_kernel_driver.c under ASan + UBSan, every array at the very end
of its own guarded mapping, outputs equal to the numpy reference."""

from __future__ import annotations

import numpy as np
from c_driver import KernelDriver, Out, flat_struct
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qcompile.ops import structs
from qcompile.reference.kernels import transformer as ref

SAFE = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def random_matmul_case(rng: np.random.Generator):
    """Operands with broadcast batch dims, random adj flags and requantisation."""
    m, n, k = (int(v) for v in rng.integers(1, 20, 3))
    lead_a = tuple(int(v) for v in rng.choice([1, 2, 3], int(rng.integers(0, 4))))
    lead_b = tuple(
        d if rng.random() < 0.6 else 1 for d in lead_a[len(lead_a) - int(rng.integers(0, len(lead_a) + 1)) :]
    )
    adj_x, adj_y = (int(v) for v in rng.integers(0, 2, 2))
    a = rng.integers(-128, 128, (*lead_a, *((k, m) if adj_x else (m, k)))).astype(np.int8)
    b = rng.integers(-128, 128, (*lead_b, *((n, k) if adj_y else (k, n)))).astype(np.int8)
    attrs = dict(
        adj_x=adj_x,
        adj_y=adj_y,
        lhs_offset=int(rng.integers(-128, 129)),
        rhs_offset=int(rng.integers(-128, 129)),
        output_offset=int(rng.integers(-128, 128)),
        output_multiplier=int(rng.integers(2**30, 2**31)),
        output_shift=int(rng.integers(-24, 2)),
        act_min=int(rng.integers(-128, 0)),
        act_max=int(rng.integers(0, 128)),
    )
    return a, b, attrs


def random_layer_norm_case(rng: np.random.Generator):
    cols = int(rng.integers(1, 200))
    x = rng.integers(-128, 128, (int(rng.integers(1, 5)), cols)).astype(np.int8)
    if rng.random() < 0.2:
        x[0] = x[0, 0]  # a constant row: zero variance
    gamma = rng.integers(-(2**24), 2**24, cols).astype(np.int32)
    beta = rng.integers(-(2**30), 2**30, cols).astype(np.int32)
    attrs = dict(
        eps=int(rng.integers(0, 2**31 - 1)) if rng.random() < 0.2 else int(rng.integers(0, 100)),
        out_shift=int(rng.integers(8, 40)),
        output_offset=int(rng.integers(-128, 128)),
        act_min=-128,
        act_max=127,
    )
    return x, gamma, beta, attrs


@SAFE
@given(seed=st.integers(0, 2**32 - 1))
def test_batch_matmul_guarded(kernel_driver: KernelDriver, seed: int) -> None:
    a, b, attrs = random_matmul_case(np.random.default_rng(seed))
    want = ref.batch_matmul(a, b, **attrs)
    struct = flat_struct(structs.batch_matmul_fields(a.shape, b.shape, attrs))
    (got,) = kernel_driver.run("qc_batch_matmul_s8", [struct, a, b, Out(want.size)])
    np.testing.assert_array_equal(got, want.reshape(-1))


@SAFE
@given(seed=st.integers(0, 2**32 - 1))
def test_layer_norm_guarded(kernel_driver: KernelDriver, seed: int) -> None:
    x, gamma, beta, attrs = random_layer_norm_case(np.random.default_rng(seed))
    want = ref.layer_norm(x, gamma, beta, **attrs)
    struct = flat_struct(structs.layer_norm_fields(x.shape, attrs))
    (got,) = kernel_driver.run("qc_layer_norm_s8", [struct, x, gamma, beta, Out(want.size)])
    np.testing.assert_array_equal(got, want.reshape(-1))


def test_bad_parameters_are_rejected(kernel_driver: KernelDriver) -> None:
    a, b, attrs = random_matmul_case(np.random.default_rng(1))
    struct = flat_struct(structs.batch_matmul_fields(a.shape, b.shape, attrs))
    bad = struct.copy()
    bad[11] = 0  # depth
    x, gamma, beta, ln = random_layer_norm_case(np.random.default_rng(2))
    ln_struct = flat_struct(structs.layer_norm_fields(x.shape, ln))
    ln_bad = ln_struct.copy()
    ln_bad[1] = 5000  # cols
    results = kernel_driver.run_many(
        [
            ("qc_batch_matmul_s8", [bad, a, b, Out(1)]),
            ("qc_layer_norm_s8", [ln_bad, x, gamma, beta, Out(1)]),
        ]
    )
    assert all(status != 0 for status, _ in results)

"""Memory safety of qc_maximum_s8, qc_minimum_s8, qc_prelu_s8 and qc_div_s8 under ASan + UBSan, every
array at the end of a guarded allocation (tests/c/qc_kernel_driver.c), outputs compared
with the numpy reference; random broadcasts of rank 1..5."""

from __future__ import annotations

import numpy as np
from c_driver import KernelDriver, Out
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qcompile import op_params
from qcompile.reference.kernels import eltwise

SAFE = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
I32 = np.int32


@st.composite
def _shapes(draw, alpha: bool):
    rank = draw(st.integers(1, 5))
    full = [draw(st.integers(1, 6)) for _ in range(rank - 1)] + [draw(st.integers(1, 40))]
    a = full if alpha else [d if draw(st.integers(0, 3)) else 1 for d in full]
    b = [d if draw(st.integers(0, 3)) else 1 for d in full]
    return tuple(a), tuple(b[draw(st.integers(0, rank - 1)) :])


@SAFE
@given(shapes=_shapes(alpha=False), seed=st.integers(0, 2**32 - 1), op=st.sampled_from(["maximum", "minimum"]))
def test_minmax_broadcast(kernel_driver: KernelDriver, shapes, seed: int, op: str) -> None:
    rng = np.random.default_rng(seed)
    x1 = rng.integers(-128, 128, shapes[0]).astype(np.int8)
    x2 = rng.integers(-128, 128, shapes[1]).astype(np.int8)
    want = getattr(eltwise, op)(x1, x2)
    out5, st1, st2 = op_params.broadcast_layout(shapes[0], shapes[1])
    struct = np.array([*out5, *st1, *st2], I32)
    (got,) = kernel_driver.run(f"qc_{op}_s8", [struct, x1, x2, Out(want.size)])
    np.testing.assert_array_equal(got, want.reshape(-1))


@SAFE
@given(shapes=_shapes(alpha=True), seed=st.integers(0, 2**32 - 1))
def test_prelu_broadcast(kernel_driver: KernelDriver, shapes, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, shapes[0]).astype(np.int8)
    alpha = rng.integers(-128, 128, shapes[1]).astype(np.int8)
    a = dict(
        input_offset=int(rng.integers(-127, 129)),
        alpha_offset=int(rng.integers(-127, 129)),
        output_offset=int(rng.integers(-128, 128)),
        output_multiplier_1=int(rng.integers(1 << 30, 1 << 31)),
        output_shift_1=int(rng.integers(-10, 2)),
        output_multiplier_2=int(rng.integers(1 << 30, 1 << 31)),
        output_shift_2=int(rng.integers(-14, 0)),
    )
    want = eltwise.prelu(x, alpha, **a)
    out5, st1, st2 = op_params.broadcast_layout(shapes[0], shapes[1])
    struct = np.array([*out5, *st1, *st2, *a.values()], I32)
    (got,) = kernel_driver.run("qc_prelu_s8", [struct, x, alpha, Out(want.size)])
    np.testing.assert_array_equal(got, want.reshape(-1))


@SAFE
@given(shapes=_shapes(alpha=False), seed=st.integers(0, 2**32 - 1))
def test_div_broadcast(kernel_driver: KernelDriver, shapes, seed: int) -> None:
    from qcompile.reference.kernels.div import div

    rng = np.random.default_rng(seed)
    x1 = rng.integers(-128, 128, shapes[0]).astype(np.int8)
    x2 = rng.integers(-128, 128, shapes[1]).astype(np.int8)
    a = dict(
        input1_offset=int(rng.integers(-127, 129)),
        input2_offset=int(rng.integers(-127, 129)),
        output_offset=int(rng.integers(-128, 128)),
        output_multiplier=int(rng.integers(1 << 30, 1 << 31)),
        output_shift=int(rng.integers(-31, 32)),
        act_min=-128,
        act_max=127,
    )
    want = div(x1, x2, **a)
    out5, st1, st2 = op_params.broadcast_layout(shapes[0], shapes[1])
    struct = np.array([*out5, *st1, *st2, *a.values()], I32)
    (got,) = kernel_driver.run("qc_div_s8", [struct, x1, x2, Out(want.size)])
    np.testing.assert_array_equal(got, want.reshape(-1))

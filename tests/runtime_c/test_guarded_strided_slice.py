"""``qc_strided_slice_s8`` under ASan + UBSan (tests/c/qc_kernel_driver.c, every buffer at the end
of its own guarded mapping) against ``reference.kernels.slicing.strided_slice`` on random
slices: forward and backward strides, every rank up to 5, empty axes."""

from __future__ import annotations

import numpy as np
from c_driver import KernelDriver, Out
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qcompile import op_params
from qcompile.reference.kernels.slicing import strided_slice

SAFE = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
I32 = np.int32


@st.composite
def _slice_case(draw):
    rank = draw(st.integers(1, 5))
    shape = [draw(st.integers(1, 7)) for _ in range(rank)]
    begin, size, strides = [], [], []
    for d in shape:
        stride = draw(st.sampled_from([1, 1, 2, 3, -1, -2]))
        b = draw(st.integers(0, d - 1))
        room = (d - 1 - b) // stride + 1 if stride > 0 else b // -stride + 1
        begin.append(b)
        size.append(draw(st.integers(0 if rank > 1 else 1, room)))
        strides.append(stride)
    x = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).integers(-128, 128, shape).astype(np.int8)
    return x, begin, size, strides


@SAFE
@given(case=_slice_case())
def test_strided_slice(kernel_driver: KernelDriver, case) -> None:
    x, begin, size, strides = case
    want = strided_slice(x, begin=begin, size=size, strides=strides)
    if want.size == 0:
        return  # nothing to read or write (the driver maps no empty output)
    layout = op_params.strided_slice_layout(x.shape, begin, size, strides)
    struct = np.array([v for part in layout for v in part], I32)
    (got,) = kernel_driver.run("qc_strided_slice_s8", [struct, x, Out(want.size)])
    np.testing.assert_array_equal(got, want.reshape(-1))


def test_reads_outside_the_input_are_refused(kernel_driver: KernelDriver) -> None:
    x = np.arange(6, dtype=np.int8)
    # one axis of 6: begin 4, 2 elements, stride 2 would read index 6
    bad = np.array([1, 1, 1, 1, 6] + [0, 0, 0, 0, 4] + [1, 1, 1, 1, 2] + [1, 1, 1, 1, 2], I32)
    results = kernel_driver.run_many([("qc_strided_slice_s8", [bad, x, Out(2)])])
    assert [status for status, _ in results] == [1]

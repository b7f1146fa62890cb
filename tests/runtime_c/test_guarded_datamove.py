"""Memory safety and exactness of the reduction, gather, resize and transposed-conv kernels
(qc_reduce.c, qc_gather.c, qc_resize.c, qc_transpose_conv2d.c): random shapes and
parameters through tests/c/qc_kernel_driver.c under ASan + UBSan, every array at the end
of a guarded mapping, outputs equal to the numpy reference
(``qcompile.reference.kernels``)."""

from __future__ import annotations

import numpy as np
from c_driver import KernelDriver, Out
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qcompile.ops import structs
from qcompile.reference.kernels import gather as ref_gather
from qcompile.reference.kernels import reduce_axes as ref_reduce
from qcompile.reference.kernels import resize as ref_resize
from qcompile.reference.kernels import transpose_conv as ref_tconv

SAFE = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
I32 = np.int32


def _struct(fields: dict) -> np.ndarray:
    """A field dict of ops.structs as the all-int32 block the driver reads."""
    flat: list[int] = []
    for v in fields.values():
        flat.extend(int(x) for x in (v if isinstance(v, tuple | list) else (v,)))
    return np.array(flat, I32)


def _tensor(rng: np.random.Generator, rank: int, hi: int = 6) -> np.ndarray:
    shape = tuple(int(d) for d in rng.integers(1, hi, rank))
    return rng.integers(-128, 128, shape).astype(np.int8)


@SAFE
@given(seed=st.integers(0, 2**32 - 1), rank=st.integers(1, 5), keep=st.integers(0, 1))
def test_reduce_sum_and_max(kernel_driver: KernelDriver, seed: int, rank: int, keep: int) -> None:
    rng = np.random.default_rng(seed)
    x = _tensor(rng, rank)
    axes = tuple(sorted(rng.choice(rank, int(rng.integers(1, rank + 1)), replace=False).tolist()))
    attrs = dict(
        axes=axes,
        keep_dims=keep,
        input_offset=int(rng.integers(-127, 129)),
        output_offset=int(rng.integers(-128, 128)),
        multiplier=int(rng.integers(1 << 30, 1 << 31)),
        shift=int(rng.integers(-31, 3)),
    )
    want_sum = ref_reduce.reduce_sum(x, **attrs)
    want_max = ref_reduce.reduce_max(x, axes=axes, keep_dims=keep)
    struct = _struct(structs.reduce_fields(x.shape, attrs))
    results = kernel_driver.run_many(
        [("qc_reduce_sum_s8", [struct, x, Out(want_sum.size)]), ("qc_reduce_max_s8", [struct, x, Out(want_max.size)])]
    )
    for (status, (got,)), want in zip(results, (want_sum, want_max), strict=True):
        assert status == 0
        np.testing.assert_array_equal(got, want.reshape(-1))


@SAFE
@given(seed=st.integers(0, 2**32 - 1), rank=st.integers(1, 5))
def test_gather(kernel_driver: KernelDriver, seed: int, rank: int) -> None:
    rng = np.random.default_rng(seed)
    x = _tensor(rng, rank)
    axis = int(rng.integers(0, rank))
    indices = tuple(int(i) for i in rng.integers(0, x.shape[axis], int(rng.integers(1, 7))))
    want = ref_gather.gather(x, axis=axis, indices=indices)
    struct = _struct(structs.gather_fields(x.shape, dict(axis=axis, indices=indices)))
    (got,) = kernel_driver.run("qc_gather_s8", [struct, np.array(indices, I32), x, Out(want.size)])
    np.testing.assert_array_equal(got, want.reshape(-1))


@SAFE
@given(
    seed=st.integers(0, 2**32 - 1),
    out_hw=st.tuples(st.integers(1, 13), st.integers(1, 13)),
    flags=st.sampled_from([(0, 0), (1, 0), (0, 1)]),
)
def test_resize_nearest_and_bilinear(kernel_driver: KernelDriver, seed: int, out_hw, flags) -> None:
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, (int(rng.integers(1, 3)), *rng.integers(1, 7, 2), int(rng.integers(1, 20)))).astype(
        np.int8
    )
    align, half = flags
    yi = ref_resize.tflite_nearest_index(x.shape[1], out_hw[0], bool(align), bool(half))
    xi = ref_resize.tflite_nearest_index(x.shape[2], out_hw[1], bool(align), bool(half))
    bil = dict(size=out_hw, align_corners=align, half_pixel_centers=half)
    want_n = ref_resize.resize_nearest(x, y_index=yi, x_index=xi)
    want_b = ref_resize.resize_bilinear(x, **bil)
    near_struct = _struct(structs.resize_fields(x.shape, dict(y_index=yi, x_index=xi)))
    results = kernel_driver.run_many(
        [
            ("qc_resize_nearest_s8", [near_struct, np.array(yi, I32), np.array(xi, I32), x, Out(want_n.size)]),
            ("qc_resize_bilinear_s8", [_struct(structs.resize_fields(x.shape, bil)), x, Out(want_b.size)]),
        ]
    )
    for (status, (got,)), want in zip(results, (want_n, want_b), strict=True):
        assert status == 0
        np.testing.assert_array_equal(got, want.reshape(-1))


@SAFE
@given(seed=st.integers(0, 2**32 - 1))
def test_transpose_conv2d(kernel_driver: KernelDriver, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, h, w, c, oc = (int(v) for v in (rng.integers(1, 3), *rng.integers(1, 6, 2), *rng.integers(1, 12, 2)))
    kh, kw = (int(v) for v in rng.integers(1, 5, 2))
    strides = tuple(int(v) for v in rng.integers(1, 4, 2))
    pads = (int(rng.integers(0, kh)), int(rng.integers(0, kw)), int(rng.integers(-1, kh)), int(rng.integers(-1, kw)))
    x = rng.integers(-128, 128, (n, h, w, c)).astype(np.int8)
    wt = rng.integers(-127, 128, (oc, kh, kw, c)).astype(np.int8)
    try:
        ref_tconv.transpose_conv_out_hw(x.shape, wt.shape, strides, pads)
    except ValueError:
        return
    b = rng.integers(-5000, 5000, oc).astype(I32)
    attrs = dict(strides=strides, pads=pads, input_offset=int(rng.integers(-127, 129)))
    attrs |= dict(output_offset=int(rng.integers(-128, 128)), act_min=-128, act_max=int(rng.integers(0, 128)))
    m = rng.integers(1 << 30, 1 << 31, oc).astype(I32)
    s = rng.integers(-12, 1, oc).astype(I32)
    want = ref_tconv.transpose_conv2d(x, wt, b, multiplier=m, shift=s, **attrs)
    struct = _struct(structs.transpose_conv_fields(x.shape, wt.shape, attrs))
    (got,) = kernel_driver.run("qc_transpose_conv2d_s8", [struct, x, wt, b, m, s, Out(want.size)])
    np.testing.assert_array_equal(got, want.reshape(-1))


def test_bad_parameters_are_refused(kernel_driver: KernelDriver) -> None:
    x = np.zeros((2, 3), np.int8)
    bad_index = _struct(structs.gather_fields(x.shape, dict(axis=1, indices=(0,))))
    bad_reduce = np.array([1, 1, 1, 2, 3, 0, 0, 0, 2, 0, 0, 0, 1, 1], I32)  # reduce flag 2
    results = kernel_driver.run_many(
        [
            ("qc_gather_s8", [bad_index, np.array([3], I32), x, Out(2)]),
            ("qc_reduce_sum_s8", [bad_reduce, x, Out(6)]),
        ]
    )
    assert [status for status, _ in results] == [1, 1]

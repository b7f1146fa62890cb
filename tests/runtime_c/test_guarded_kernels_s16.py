"""Memory safety of the 16x8 kernels (qc_*_s16): each runs through tests/c/qc_kernel_driver.c
built with ASan + UBSan, every array at the very end of its own guarded mapping, on random
shapes; outputs equal the numpy reference (reference/s16.py)."""

from __future__ import annotations

import numpy as np
from c_driver import NULL, KernelDriver, Out16
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qcompile.ops import structs
from qcompile.reference import s16

SAFE = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
I32 = np.int32


def _fields(d: dict) -> np.ndarray:
    flat: list[int] = []
    for v in d.values():
        flat += list(v) if isinstance(v, list | tuple) else [v]
    return np.array(flat, I32)


def _x(rng, shape) -> np.ndarray:
    return rng.integers(-32768, 32768, size=shape).astype(np.int16)


def _rq(rng, n: int) -> dict:
    return dict(
        input_offset=0,
        output_offset=0,
        multiplier=rng.integers(1 << 30, 1 << 31, n).astype(I32),
        shift=rng.integers(-22, 8, n).astype(I32),
        act_min=-32768,
        act_max=32767,
    )


@SAFE
@given(seed=st.integers(0, 2**32 - 1), depthwise=st.booleans(), bias=st.booleans())
def test_conv_s16_guarded(kernel_driver: KernelDriver, seed: int, depthwise: bool, bias: bool) -> None:
    rng = np.random.default_rng(seed)
    h, w, c = (int(v) for v in rng.integers(1, 8, 3))
    kh, kw = int(rng.integers(1, h + 1)), int(rng.integers(1, w + 1))
    a = dict(strides=(1, int(rng.integers(1, 3))), dilations=(1, 1), pads=tuple(int(v) for v in rng.integers(0, 2, 4)))
    x = _x(rng, (1, h, w, c))
    if depthwise:
        dm = int(rng.integers(1, 3))
        wt, oc, a["depth_multiplier"] = rng.integers(-127, 128, (kh, kw, c * dm)).astype(np.int8), c * dm, dm
    else:
        oc = int(rng.integers(1, 6))
        wt, a["groups"] = rng.integers(-127, 128, (oc, kh, kw, c)).astype(np.int8), 1
    a.update(_rq(rng, oc))
    b = rng.integers(-(1 << 40), 1 << 40, oc).astype(np.int64) if bias else None
    ref = s16.depthwise_conv2d if depthwise else s16.conv2d
    want = ref(x, wt, b, **a)
    p = _fields(structs.conv_fields(x.shape, wt.shape, a, depthwise=depthwise, bits=16))
    kernel = "qc_depthwise_conv2d_s16" if depthwise else "qc_conv2d_s16"
    blocks = [p, x, wt, NULL if b is None else b, a["multiplier"], a["shift"], Out16(want.size)]
    (got,) = kernel_driver.run(kernel, blocks)
    np.testing.assert_array_equal(got, want.reshape(-1))


@SAFE
@given(seed=st.integers(0, 2**32 - 1))
def test_fc_add_mul_s16_guarded(kernel_driver: KernelDriver, seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows, k, n = (int(v) for v in rng.integers(1, 30, 3))
    x, wt = _x(rng, (rows, k)), rng.integers(-127, 128, (n, k)).astype(np.int8)
    b = rng.integers(-(1 << 35), 1 << 35, n).astype(np.int64)
    a = _rq(rng, n)
    want = s16.fully_connected(x, wt, b, **a)
    p = _fields(structs.fc_fields(x.shape, wt.shape, a, bits=16))
    (got,) = kernel_driver.run("qc_fully_connected_s16", [p, x, wt, b, a["multiplier"], a["shift"], Out16(want.size)])
    np.testing.assert_array_equal(got, want.reshape(-1))
    shape = tuple(int(v) for v in rng.integers(1, 5, 4))
    x1, x2 = _x(rng, shape), _x(rng, (1, 1, shape[2], shape[3]))
    m = dict(input1_offset=0, input2_offset=0, output_offset=0, act_min=-32768, act_max=32767)
    m.update(output_multiplier=int(rng.integers(1 << 30, 1 << 31)), output_shift=int(rng.integers(-20, -10)))
    want = s16.mul(x1, x2, **m)
    (got,) = kernel_driver.run(
        "qc_mul_s16", [_fields(structs.mul_fields(shape, x2.shape, m, bits=16)), x1, x2, Out16(want.size)]
    )
    np.testing.assert_array_equal(got, want.reshape(-1))
    ad = dict(m, subtract=1, left_shift=15, input1_multiplier=1 << 30, input1_shift=0, input2_multiplier=1 << 30)
    ad.update(input2_shift=-1, output_multiplier=int(rng.integers(1 << 30, 1 << 31)), output_shift=-15)
    want = s16.add(x1, x2, **ad)
    p = _fields(structs.add_fields(shape, x2.shape, ad, bits=16))
    (got,) = kernel_driver.run("qc_add_s16", [p, x1, x2, Out16(want.size)])
    np.testing.assert_array_equal(got, want.reshape(-1))


@SAFE
@given(seed=st.integers(0, 2**32 - 1))
def test_pool_pad_transpose_s16_guarded(kernel_driver: KernelDriver, seed: int) -> None:
    rng = np.random.default_rng(seed)
    h, w, c = (int(v) for v in rng.integers(2, 7, 3))
    x = _x(rng, (1, h, w, c))
    k = (int(rng.integers(2, h + 1)), int(rng.integers(1, w + 1)))
    a = dict(kernel=k, strides=(1, 2), pads=(0, 0, int(rng.integers(0, 2)), 0), act_min=-32768, act_max=32767)
    for op in ("max_pool2d", "avg_pool2d"):
        want = getattr(s16, op)(x, **a)
        (got,) = kernel_driver.run(
            f"qc_{op}_s16", [_fields(structs.pool_fields(x.shape, a, bits=16)), x, Out16(want.size)]
        )
        np.testing.assert_array_equal(got, want.reshape(-1))
    pads = [(int(i), int(j)) for i, j in rng.integers(0, 3, (4, 2))]
    want = s16.pad(x, pads=pads, pad_value=-7)
    p = _fields(structs.pad_fields(x.shape, dict(pads=pads, pad_value=-7), bits=16))
    (got,) = kernel_driver.run("qc_pad_s16", [p, x, Out16(want.size)])
    np.testing.assert_array_equal(got, want.reshape(-1))
    perm = tuple(int(v) for v in rng.permutation(4))
    want = s16.transpose(x, perm=perm)
    p = _fields(structs.transpose_fields(x.shape, dict(perm=perm)))
    (got,) = kernel_driver.run("qc_transpose_s16", [p, x, Out16(want.size)])
    np.testing.assert_array_equal(got, want.reshape(-1))


@SAFE
@given(seed=st.integers(0, 2**32 - 1), tanh=st.booleans(), pot=st.booleans())
def test_sigmoid_tanh_s16_guarded(kernel_driver: KernelDriver, seed: int, tanh: bool, pot: bool) -> None:
    from qcompile.reference.kernels import sigmoid_s16

    rng = np.random.default_rng(seed)
    x = _x(rng, (int(rng.integers(1, 300)),))
    mult = 0 if pot else int(rng.integers(16384, 32768))
    shift = int(rng.integers(0, 13 if pot else 32))
    want = (sigmoid_s16.tanh_values if tanh else sigmoid_s16.logistic_values)(x, mult, shift)
    kernel = "qc_tanh_s16" if tanh else "qc_logistic_s16"
    (got,) = kernel_driver.run(kernel, [x, Out16(want.size), np.array([x.size, mult, shift], I32)])
    np.testing.assert_array_equal(got, want)


@SAFE
@given(seed=st.integers(0, 2**32 - 1))
def test_softmax_s16_guarded(kernel_driver: KernelDriver, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = _x(rng, tuple(int(v) for v in rng.integers(1, 9, 3)))
    a = dict(input_multiplier=int(rng.integers(1 << 30, 1 << 31)), input_left_shift=int(rng.integers(-3, 10)))
    a["diff_min"] = 0
    want = s16.softmax(x, **a)
    p = _fields(structs.softmax_fields(x.shape, a, bits=16))
    (got,) = kernel_driver.run("qc_softmax_s16", [p, x, Out16(want.size)])
    np.testing.assert_array_equal(got, want.reshape(-1))


@SAFE
@given(seed=st.integers(0, 2**32 - 1))
def test_reduce_sum_s16_guarded(kernel_driver: KernelDriver, seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = tuple(int(v) for v in rng.integers(1, 6, int(rng.integers(1, 6))))
    axes = tuple(sorted(int(a) for a in rng.choice(len(shape), int(rng.integers(1, len(shape) + 1)), replace=False)))
    x = _x(rng, shape)
    a = dict(axes=axes, input_offset=0, output_offset=0, multiplier=int(rng.integers(1 << 30, 1 << 31)))
    a.update(shift=int(rng.integers(-20, 2)))
    want = s16.reduce_sum(x, keep_dims=0, **a)
    (got,) = kernel_driver.run("qc_reduce_sum_s16", [_fields(structs.reduce_fields(x.shape, a)), x, Out16(want.size)])
    np.testing.assert_array_equal(got, want.reshape(-1))


@SAFE
@given(seed=st.integers(0, 2**32 - 1))
def test_int32_bias_conv_fc_s16_guarded(kernel_driver: KernelDriver, seed: int) -> None:
    rng = np.random.default_rng(seed)
    h, w, c, oc = (int(v) for v in rng.integers(1, 7, 4))
    x, wt = _x(rng, (1, h, w, c)), rng.integers(-127, 128, (oc, 2, 2, c)).astype(np.int8)
    a = dict(strides=(1, 1), dilations=(1, 1), pads=(0, 1, 1, 0), groups=1, **_rq(rng, oc))
    b = rng.integers(-(1 << 30), 1 << 30, oc).astype(I32)
    want = s16.conv2d(x, wt, b, **a)
    p = _fields(structs.conv_fields(x.shape, wt.shape, a, depthwise=False, bits=16))
    (got,) = kernel_driver.run("qc_conv2d_b32_s16", [p, x, wt, b, a["multiplier"], a["shift"], Out16(want.size)])
    np.testing.assert_array_equal(got, want.reshape(-1))
    x2, w2 = _x(rng, (2, h * w * c)), rng.integers(-127, 128, (oc, h * w * c)).astype(np.int8)
    want = s16.fully_connected(x2, w2, b, **_rq(rng, oc) | dict(multiplier=a["multiplier"], shift=a["shift"]))
    p = _fields(structs.fc_fields(x2.shape, w2.shape, a, bits=16))
    (got,) = kernel_driver.run(
        "qc_fully_connected_b32_s16", [p, x2, w2, b, a["multiplier"], a["shift"], Out16(want.size)]
    )
    np.testing.assert_array_equal(got, want.reshape(-1))


@SAFE
@given(seed=st.integers(0, 2**32 - 1))
def test_strided_slice_s16_guarded(kernel_driver: KernelDriver, seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = tuple(int(v) for v in rng.integers(1, 6, int(rng.integers(1, 6))))
    x = _x(rng, shape)
    begin = [int(rng.integers(0, d)) for d in shape]
    strides = [int(rng.choice([-1, 1, 2])) for _ in shape]
    size = [b + 1 if s < 0 else (d - 1 - b) // s + 1 for b, s, d in zip(begin, strides, shape, strict=True)]
    a = dict(begin=begin, size=size, strides=strides)
    want = s16.strided_slice(x, **a)
    (got,) = kernel_driver.run(
        "qc_strided_slice_s16", [_fields(structs.strided_slice_fields(x.shape, a)), x, Out16(want.size)]
    )
    np.testing.assert_array_equal(got, want.reshape(-1))


@SAFE
@given(seed=st.integers(0, 2**32 - 1))
def test_lut_and_leaky_relu_s16_guarded(kernel_driver: KernelDriver, seed: int) -> None:
    """qc_lut_s16 (with the extreme inputs, which read table[0] and table[512]) and
    qc_leaky_relu_s16 against reference/kernels/eltwise_s16.py."""
    from qcompile.reference.kernels import eltwise_s16

    rng = np.random.default_rng(seed)
    x = np.concatenate([np.array([-32768, 32767], np.int16), _x(rng, (int(rng.integers(0, 300)),))])
    table = _x(rng, (513,))
    want = eltwise_s16.lut(x, table=table)
    (got,) = kernel_driver.run("qc_lut_s16", [table, x, Out16(want.size), np.array([x.size], I32)])
    np.testing.assert_array_equal(got, want)
    p = eltwise_s16.leaky_relu_params(
        float(rng.uniform(1e-4, 1e-2)), float(rng.uniform(1e-4, 1e-2)), float(rng.uniform(0, 3))
    )
    want = eltwise_s16.leaky_relu(x, **p)
    block = np.array([x.size, *p.values()], I32)
    (got,) = kernel_driver.run("qc_leaky_relu_s16", [x, Out16(want.size), block])
    np.testing.assert_array_equal(got, want)


@SAFE
@given(seed=st.integers(0, 2**32 - 1), is_max=st.booleans())
def test_maximum_minimum_s16_guarded(kernel_driver: KernelDriver, seed: int, is_max: bool) -> None:
    from qcompile.reference.kernels import eltwise_s16

    rng = np.random.default_rng(seed)
    shape = tuple(int(v) for v in rng.integers(1, 5, 4))
    shape2 = tuple(d if rng.random() < 0.5 else 1 for d in shape)
    a, b = _x(rng, shape), _x(rng, shape2)
    want = (eltwise_s16.maximum if is_max else eltwise_s16.minimum)(a, b)
    p = _fields(structs.broadcast_fields(a.shape, b.shape, {}))
    kernel = "qc_maximum_s16" if is_max else "qc_minimum_s16"
    (got,) = kernel_driver.run(kernel, [p, a, b, Out16(want.size)])
    np.testing.assert_array_equal(got, want.reshape(-1))


@SAFE
@given(seed=st.integers(0, 2**32 - 1), adj_x=st.booleans(), adj_y=st.booleans())
def test_batch_matmul_s16_guarded(kernel_driver: KernelDriver, seed: int, adj_x: bool, adj_y: bool) -> None:
    from qcompile.quant.converters.transformer import batch_matmul_params
    from qcompile.reference.kernels import matmul_s16

    rng = np.random.default_rng(seed)
    batch = tuple(int(v) for v in rng.integers(1, 3, int(rng.integers(0, 3))))
    m, k, n = (int(v) for v in rng.integers(1, 7, 3))
    a = _x(rng, (*batch, *((k, m) if adj_x else (m, k))))
    b = _x(rng, (*((1,) * len(batch)), *((n, k) if adj_y else (k, n))))
    attrs = dict(adj_x=int(adj_x), adj_y=int(adj_y), act_min=-32768, act_max=32767)
    attrs |= batch_matmul_params(1e-3, 0, 1e-3, 0, float(rng.uniform(0.01, 2.0)), 0)
    want = matmul_s16.batch_matmul(a, b, **attrs)
    p = _fields(structs.batch_matmul_fields(a.shape, b.shape, attrs, bits=16))
    (got,) = kernel_driver.run("qc_batch_matmul_s16", [p, a, b, Out16(want.size)])
    np.testing.assert_array_equal(got, want.reshape(-1))


@SAFE
@given(seed=st.integers(0, 2**32 - 1))
def test_prelu_s16_guarded(kernel_driver: KernelDriver, seed: int) -> None:
    from qcompile.quant.fixedpoint import quantize_multiplier
    from qcompile.reference.kernels import eltwise_s16

    rng = np.random.default_rng(seed)
    shape = tuple(int(v) for v in rng.integers(1, 5, 4))
    x = _x(rng, shape)
    alpha = rng.integers(-128, 128, tuple(d if rng.random() < 0.5 else 1 for d in shape)).astype(np.int8)
    m1, s1 = quantize_multiplier(float(rng.uniform(0.2, 3.0)))
    m2, s2 = quantize_multiplier(float(rng.uniform(1e-3, 0.05)))
    attrs = dict(input_offset=0, alpha_offset=int(rng.integers(-127, 129)), output_offset=0,
                 output_multiplier_1=m1, output_shift_1=s1, output_multiplier_2=m2, output_shift_2=s2)  # fmt: skip
    want = eltwise_s16.prelu(x, alpha, **attrs)
    p = _fields(structs.prelu_fields(x.shape, alpha.shape, attrs))
    (got,) = kernel_driver.run("qc_prelu_s16", [p, x, alpha, Out16(want.size)])
    np.testing.assert_array_equal(got, want.reshape(-1))

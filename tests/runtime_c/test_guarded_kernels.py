"""Memory safety of every portable runtime kernel (issue 7 item 2).

Each case runs one C kernel through tests/c/qc_kernel_driver.c, built with ASan + UBSan,
with every input, weight, bias, output and scratch array at the very end of its own
guarded allocation (a PROT_NONE page right after it, alignment slack poisoned): reading
or writing one byte past any buffer aborts the driver. Shapes are random (channels 1..40,
non-multiples of 4/8/16 included) and every output is compared with the numpy reference.
"""

from __future__ import annotations

import math

import numpy as np
from c_driver import NULL, KernelDriver, Out
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference.test_conv import _BIAS, _FILL, _conv_problem, _dw_problem, _multipliers, _requant_attrs, _spatial

from qcompile import op_params
from qcompile.ir import QuantParams
from qcompile.reference import conv as ref_conv
from qcompile.reference import fused as ref_fused
from qcompile.reference import ops as ref_ops
from qcompile.reference import reduce as ref_reduce

SAFE = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
CHANNELS = st.integers(1, 40)
I32 = np.int32


def _conv_struct(x_shape, y_shape, w_hw, a, groups: int, dm: int) -> np.ndarray:
    """qc_conv_params fields, in declaration order."""
    n, h, w, c = x_shape
    _, oh, ow, oc = y_shape
    (sh, sw), (dh, dw) = a["strides"], a["dilations"]
    top, left = a["pads"][0], a["pads"][1]
    fields = [n, h, w, c, oh, ow, oc, *w_hw, sh, sw, dh, dw, top, left, groups, dm]
    fields += [a["input_offset"], a["output_offset"], a["act_min"], a["act_max"]]
    return np.array(fields, I32)


def _add_struct(shape1, shape2, a: dict) -> np.ndarray:
    out5, s1, s2 = op_params.broadcast_layout(shape1, shape2)
    keys = ("subtract", "input1_offset", "input2_offset", "output_offset", "left_shift", "input1_multiplier")
    keys += ("input1_shift", "input2_multiplier", "input2_shift", "output_multiplier", "output_shift")
    return np.array([*out5, *s1, *s2, *(a[k] for k in keys), a["act_min"], a["act_max"]], I32)


def _pool_struct(x_shape, a: dict) -> np.ndarray:
    f = op_params.pool_layout(x_shape, a["kernel"], a["strides"], a["pads"])
    return np.array([*f.values(), a["act_min"], a["act_max"]], I32)


def _fc_struct(rows: int, k: int, n: int, a: dict, per_channel: bool) -> np.ndarray:
    fields = [rows, k, n, a["input_offset"], a["output_offset"], a["act_min"], a["act_max"], int(per_channel)]
    return np.array(fields, I32)


def _bias_block(b):
    return NULL if b is None else np.asarray(b, I32)


def _qp(rng: np.random.Generator) -> QuantParams:
    return QuantParams(scale=float(rng.uniform(0.005, 0.2)), zero_point=int(rng.integers(-128, 128)))


# ---- the bug of issue 7: qc_conv_dot_4x2 read past the filter (1x1 conv, 8 -> 16 channels)


def test_conv2d_1x1_8_to_16_channels_stays_inside_the_filter(kernel_driver: KernelDriver) -> None:
    """K = 8 is padded to 32 taps; rows 13..15 of the filter used to be read 8..24 bytes
    past its end (global-buffer-overflow on the MobileNetV1 host build)."""
    sp = dict(h=4, w=4, kh=1, kw=1, strides=(1, 1), dilations=(1, 1), pads=(0, 0, 0, 0))
    rq = dict(input_offset=3, output_offset=-5, act_min=-128, act_max=127)
    x, w, b, a = _conv_problem(7, sp, 1, 8, 16, 1, ("random", "random"), "small", rq)
    want = ref_conv.conv2d(x, w, b, **a)
    blocks = [_conv_struct(x.shape, want.shape, (1, 1), a, 1, 1), x, w, b, a["multiplier"], a["shift"]]
    (got,) = kernel_driver.run("qc_conv2d_s8", [*blocks, Out(want.size)])
    np.testing.assert_array_equal(got, want.reshape(-1))


# ---- convolution family


@st.composite
def _conv_case(draw, max_hw: int = 7):
    sp = draw(_spatial(max_k=3, max_hw=max_hw))
    groups = draw(st.sampled_from([1, 1, 1, 2, 3]))
    cg = draw(st.integers(1, 40 // groups))
    ocg = draw(st.integers(1, 40 // groups))
    x, w, b, a = _conv_problem(
        draw(st.integers(0, 2**32 - 1)), sp, groups, cg, ocg, draw(st.integers(1, 2)), (draw(_FILL), draw(_FILL)),
        draw(_BIAS), draw(_requant_attrs()),
    )  # fmt: skip
    return x, w, b, a


@SAFE
@given(case=_conv_case())
def test_conv2d(kernel_driver: KernelDriver, case) -> None:
    x, w, b, a = case
    want = ref_conv.conv2d(x, w, b, **a)
    struct = _conv_struct(x.shape, want.shape, w.shape[1:3], a, a["groups"], 1)
    (got,) = kernel_driver.run(
        "qc_conv2d_s8", [struct, x, w, _bias_block(b), a["multiplier"], a["shift"], Out(want.size)]
    )
    np.testing.assert_array_equal(got, want.reshape(-1))


@SAFE
@given(case=_conv_case(), band=st.tuples(st.floats(0, 1), st.floats(0, 1)))
def test_conv2d_rows(kernel_driver: KernelDriver, case, band) -> None:
    x, w, b, a = case
    want = ref_conv.conv2d(x, w, b, **a)
    if x.shape[0] != 1:  # row bands are for batch 1
        x, want = x[:1], want[:1]
    oh = want.shape[1]
    lo, hi = sorted(int(f * oh) for f in band)
    struct = _conv_struct(x.shape, want.shape, w.shape[1:3], a, a["groups"], 1)
    blocks = [struct, np.array([lo, hi], I32), x, w, _bias_block(b), a["multiplier"], a["shift"], Out(want.size)]
    (got,) = kernel_driver.run("qc_conv2d_rows_s8", blocks)
    np.testing.assert_array_equal(got, want.reshape(-1))


def _add_attrs(rng: np.random.Generator, subtract: bool = False) -> dict:
    lo = int(rng.integers(-128, 0))
    return op_params.add_params(_qp(rng), _qp(rng), _qp(rng), act_min=lo, act_max=127, subtract=subtract)


@SAFE
@given(case=_conv_case(), seed=st.integers(0, 2**32 - 1), operand=st.sampled_from([1, 2]), in_place=st.booleans())
def test_conv2d_add_and_rows(kernel_driver: KernelDriver, case, seed: int, operand: int, in_place: bool) -> None:
    x, w, b, a = case
    x = x[:1]
    rng = np.random.default_rng(seed)
    add = _add_attrs(rng, subtract=bool(seed & 1))
    conv_out = ref_conv.conv2d(x, w, b, **a)
    residual = rng.integers(-128, 128, conv_out.shape).astype(np.int8)
    attrs = {**a, **{f"add_{k}": v for k, v in add.items()}, "add_conv_operand": operand}
    want = ref_fused.conv2d_add(x, w, b, residual, **attrs).reshape(-1)
    conv = _conv_struct(x.shape, conv_out.shape, w.shape[1:3], a, a["groups"], 1)
    head = [conv, _add_struct(conv_out.shape, conv_out.shape, add), np.array([operand], I32)]
    tail = [x, w, _bias_block(b), a["multiplier"], a["shift"], residual]
    band = np.array(sorted(rng.integers(0, conv_out.shape[1] + 1, 2)), I32)
    plain, rows = [*head, *tail], [*head, band, *tail]
    # in place: the output block is the residual block (the last of `tail`)
    plain.append(Out(0, alias=len(plain) - 1) if in_place else Out(want.size))
    rows.append(Out(0, alias=len(rows) - 1) if in_place else Out(want.size))
    results = kernel_driver.run_many([("qc_conv2d_add_s8", plain), ("qc_conv2d_add_rows_s8", rows)])
    for status, (got,) in results:
        assert status == 0
        np.testing.assert_array_equal(got, want)


@SAFE
@given(
    seed=st.integers(0, 2**32 - 1),
    sp=_spatial(max_k=4, max_hw=8),
    c=CHANNELS,
    dm=st.sampled_from([1, 1, 2, 3]),
    batch=st.integers(1, 2),
    fills=st.tuples(_FILL, _FILL),
    bias_mode=_BIAS,
    rq=_requant_attrs(),
)
def test_depthwise_conv2d(kernel_driver: KernelDriver, seed, sp, c, dm, batch, fills, bias_mode, rq) -> None:
    x, w, b, a = _dw_problem(seed, sp, c, dm, batch, fills, bias_mode, rq)
    want = ref_conv.depthwise_conv2d(x, w, b, **a)
    struct = _conv_struct(x.shape, want.shape, w.shape[:2], a, 1, dm)
    blocks = [struct, x, w, _bias_block(b), a["multiplier"], a["shift"], Out(want.size)]
    (got,) = kernel_driver.run("qc_depthwise_conv2d_s8", blocks)
    np.testing.assert_array_equal(got, want.reshape(-1))


@SAFE
@given(
    seed=st.integers(0, 2**32 - 1),
    rows=st.integers(1, 9),
    k=st.integers(1, 70),
    n=CHANNELS,
    per_channel=st.booleans(),
    bias_mode=_BIAS,
    rq=_requant_attrs(),
)
def test_fully_connected(kernel_driver: KernelDriver, seed, rows, k, n, per_channel, bias_mode, rq) -> None:
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, (rows, k)).astype(np.int8)
    w = rng.integers(-127, 128, (n, k)).astype(np.int8)
    b = None if bias_mode == "none" else rng.integers(-20000, 20000, n).astype(I32)
    mult, shift = _multipliers(rng, n if per_channel else 1)
    want = ref_conv.fully_connected(x, w, b, multiplier=mult, shift=shift, **rq)
    blocks = [_fc_struct(rows, k, n, rq, per_channel), x, w, _bias_block(b), mult, shift, Out(want.size)]
    (got,) = kernel_driver.run("qc_fully_connected_s8", blocks)
    np.testing.assert_array_equal(got, want.reshape(-1))


@SAFE
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 2), hw=st.tuples(st.integers(1, 6), st.integers(1, 6)),
       c=CHANNELS, out=st.integers(1, 12), rq=_requant_attrs())  # fmt: skip
def test_avg_pool_fc(kernel_driver: KernelDriver, seed, n, hw, c, out, rq) -> None:
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, (n, *hw, c)).astype(np.int8)
    w = rng.integers(-127, 128, (out, c)).astype(np.int8)
    b = rng.integers(-20000, 20000, out).astype(I32)
    mult, shift = _multipliers(rng, out)
    pool = dict(kernel=hw, strides=(1, 1), pads=(0, 0, 0, 0), act_min=-128, act_max=127)
    attrs = {**{f"pool_{k}": v for k, v in pool.items()}, "multiplier": mult, "shift": shift, **rq}
    want = ref_fused.avg_pool_fc(x, w, b, **attrs)
    blocks = [_pool_struct(x.shape, pool), _fc_struct(n, c, out, rq, True), x, w, b, mult, shift, Out(want.size)]
    (got,) = kernel_driver.run("qc_avg_pool_fc_s8", blocks)
    np.testing.assert_array_equal(got, want.reshape(-1))


# ---- elementwise, pooling, softmax, data movement


@st.composite
def _broadcast_shapes(draw):
    """Two shapes of rank 1..5 that broadcast (either side may be 1 on any axis)."""
    rank = draw(st.integers(1, 5))
    full = [draw(st.integers(1, 6)) for _ in range(rank - 1)] + [draw(CHANNELS)]
    a = [d if draw(st.integers(0, 3)) else 1 for d in full]
    b = [d if draw(st.integers(0, 3)) else 1 for d in full]
    b = b[draw(st.integers(0, rank - 1)) :]  # the second operand may have a lower rank
    return tuple(a), tuple(b)


@SAFE
@given(shapes=_broadcast_shapes(), seed=st.integers(0, 2**32 - 1), op=st.sampled_from(["add", "sub", "mul"]))
def test_add_mul_broadcast(kernel_driver: KernelDriver, shapes, seed: int, op: str) -> None:
    rng = np.random.default_rng(seed)
    s1, s2 = shapes
    x1 = rng.integers(-128, 128, s1).astype(np.int8)
    x2 = rng.integers(-128, 128, s2).astype(np.int8)
    if op == "mul":
        a = op_params.mul_params(_qp(rng), _qp(rng), _qp(rng), act_min=-128, act_max=int(rng.integers(0, 128)))
        want = ref_ops.mul(x1, x2, **a)
        out5, st1, st2 = op_params.broadcast_layout(s1, s2)
        keys = ("input1_offset", "input2_offset", "output_offset", "output_multiplier", "output_shift")
        struct = np.array([*out5, *st1, *st2, *(a[k] for k in keys), a["act_min"], a["act_max"]], I32)
        kernel = "qc_mul_s8"
    else:
        a = _add_attrs(rng, subtract=op == "sub")
        want = ref_ops.add(x1, x2, **a)
        struct, kernel = _add_struct(s1, s2, a), "qc_add_s8"
    (got,) = kernel_driver.run(kernel, [struct, x1, x2, Out(want.size)])
    np.testing.assert_array_equal(got, want.reshape(-1))


@SAFE
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 2), hw=st.tuples(st.integers(1, 9), st.integers(1, 9)),
       c=CHANNELS, k=st.tuples(st.integers(1, 4), st.integers(1, 4)), s=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       pads=st.tuples(*[st.integers(0, 2)] * 4), avg=st.booleans())  # fmt: skip
def test_pools(kernel_driver: KernelDriver, seed, n, hw, c, k, s, pads, avg) -> None:
    # keep every window partly inside the input (TFLM's average divides by the count)
    k = (min(k[0], hw[0] + pads[0] + pads[2]), min(k[1], hw[1] + pads[1] + pads[3]))
    pads = (min(pads[0], k[0] - 1), min(pads[1], k[1] - 1), min(pads[2], k[0] - 1), min(pads[3], k[1] - 1))
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, (n, *hw, c)).astype(np.int8)
    a = dict(kernel=k, strides=s, pads=pads, act_min=int(rng.integers(-128, 0)), act_max=127)
    want = (ref_ops.avg_pool2d if avg else ref_ops.max_pool2d)(x, **a)
    kernel = "qc_avg_pool2d_s8" if avg else "qc_max_pool2d_s8"
    (got,) = kernel_driver.run(kernel, [_pool_struct(x.shape, a), x, Out(want.size)])
    np.testing.assert_array_equal(got, want.reshape(-1))


@SAFE
@given(seed=st.integers(0, 2**32 - 1), outer=st.integers(1, 6), depth=st.integers(1, 300))
def test_softmax_lut_copy(kernel_driver: KernelDriver, seed: int, outer: int, depth: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, (outer, depth)).astype(np.int8)
    a = op_params.softmax_params(float(rng.uniform(0.01, 0.5)))
    table = rng.integers(-128, 128, 256).astype(np.int8)
    struct = np.array([outer, depth, a["input_multiplier"], a["input_left_shift"], a["diff_min"]], I32)
    results = kernel_driver.run_many(
        [
            ("qc_softmax_s8", [struct, x, Out(x.size)]),
            ("qc_lut_s8", [table, x, Out(x.size)]),
            ("qc_copy_s8", [x, Out(x.size)]),
        ]
    )
    for (status, (got,)), want in zip(results, (ref_ops.softmax(x, **a), ref_ops.lut(x, table=table), x), strict=True):
        assert status == 0
        np.testing.assert_array_equal(got, want.reshape(-1))


@SAFE
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 2), hw=st.tuples(st.integers(1, 9), st.integers(1, 9)),
       c=CHANNELS)  # fmt: skip
def test_mean(kernel_driver: KernelDriver, seed: int, n: int, hw, c: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, (n, *hw, c)).astype(np.int8)
    p = ref_reduce.mean_params(_qp(rng), _qp(rng), count=math.prod(hw))
    p = {"input_offset": p["input_offset"], "output_offset": p["output_offset"], **p}
    want = ref_reduce.mean(
        x, keep_dims=0, **{k: p[k] for k in ("input_offset", "output_offset", "multiplier", "shift")}
    )
    keys = ("input_offset", "output_offset", "multiplier", "shift")
    struct = np.array([n, *hw, c, *(p[k] for k in keys)], I32)
    (got,) = kernel_driver.run("qc_mean_s8", [struct, x, Out(want.size)])
    np.testing.assert_array_equal(got, want.reshape(-1))


@st.composite
def _tensor(draw, max_rank: int = 5):
    rank = draw(st.integers(1, max_rank))
    shape = [draw(st.integers(1, 5)) for _ in range(rank - 1)] + [draw(CHANNELS)]
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return rng.integers(-128, 128, shape).astype(np.int8)


@SAFE
@given(x=_tensor(), data=st.data())
def test_pad_transpose_concat(kernel_driver: KernelDriver, x: np.ndarray, data) -> None:
    pads = [(data.draw(st.integers(0, 3)), data.draw(st.integers(0, 3))) for _ in range(x.ndim)]
    value = data.draw(st.integers(-128, 127))
    perm = data.draw(st.permutations(range(x.ndim)))
    axis = data.draw(st.integers(0, x.ndim - 1))
    parts = [x] + [
        np.random.default_rng(i).integers(-128, 128, (*x.shape[:axis], data.draw(st.integers(1, 4)), *x.shape[axis + 1 :]))
        .astype(np.int8)
        for i in range(data.draw(st.integers(0, 3)))
    ]  # fmt: skip
    in5, before, after = op_params.pad_layout(x.shape, pads)
    t5, perm5 = op_params.transpose_layout(x.shape, perm)
    outer, inner = op_params.concat_layout([p.shape for p in parts], axis)
    wants = [
        ref_ops.pad(x, pads=pads, pad_value=value),
        ref_ops.transpose(x, perm=perm),
        ref_ops.concat(*parts, axis=axis),
    ]
    results = kernel_driver.run_many(
        [
            ("qc_pad_s8", [np.array([*in5, *before, *after, value], I32), x, Out(wants[0].size)]),
            ("qc_transpose_s8", [np.array([*t5, *perm5], I32), x, Out(wants[1].size)]),
            ("qc_concat_s8", [np.array([outer], I32), np.array(inner, I32), *parts, Out(wants[2].size)]),
        ]
    )
    for (status, (got,)), want in zip(results, wants, strict=True):
        assert status == 0
        np.testing.assert_array_equal(got, want.reshape(-1))


def test_status_on_bad_parameters(kernel_driver: KernelDriver) -> None:
    """The kernels that used to return nothing now reject what they cannot handle."""
    x = np.arange(6, dtype=np.int8)
    bad_perm = np.array([1, 1, 1, 2, 3, 0, 1, 2, 3, 3], I32)  # perm repeats an axis
    bad_pad = np.array([1, 1, 1, 1, 6, 0, 0, 0, 0, -1, 0, 0, 0, 0, 0, 0], I32)
    results = kernel_driver.run_many(
        [
            ("qc_transpose_s8", [bad_perm, x, Out(6)]),
            ("qc_pad_s8", [bad_pad, x, Out(6)]),
            ("qc_concat_s8", [np.array([1], I32), np.array([-6], I32), x, Out(6)]),
        ]
    )
    assert [status for status, _ in results] == [1, 1, 1]

"""TFLite 16x8 models (int16 activations, int8 weights, int64 bias) against TFLite Micro.

Each case is a tiny model built with ``tflite_builder`` and run on random int16 inputs by
TFLite Micro (the oracle) and by our numpy reference of the imported graph; the C 16x8
kernels (binding) then run node by node on the same tensors. A whole model is compiled,
built for the host and compared with TFLM through the generated ``<name>_run_io``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tflite_micro", reason="tflite_micro (TFLM Python interpreter) is not installed")

from tflite_builder import ACT, PAD, ModelBuilder, tflm_run  # noqa: E402

from qcompile.errors import UnsupportedModelError  # noqa: E402
from qcompile.frontends.tflite_import import load_tflite  # noqa: E402
from qcompile.reference.executor import run_quantized  # noqa: E402

N = 48
RNG = np.random.default_rng(1611)


def _w(shape) -> np.ndarray:
    return RNG.integers(-127, 128, size=shape).astype(np.int8)


def _b64(n: int) -> np.ndarray:
    return RNG.integers(-(1 << 22), 1 << 22, size=n).astype(np.int64)


def _int32_bias(b: ModelBuilder, index: int, n: int) -> ModelBuilder:
    """TFLM's other 16x8 variant: the bias tensor ``index`` stored int32 (int32 accumulator)."""
    b.tensors[index].type = 2  # INT32
    data = RNG.integers(-(1 << 20), 1 << 20, size=n).astype(np.int32)
    b.buffers[b.tensors[index].buffer].data = data.view(np.uint8)
    return b


def _conv(per_channel: bool, act: str, padding: str, stride: int = 1, bias: bool = True) -> ModelBuilder:
    b = ModelBuilder()
    x = b.tensor("x", (1, 9, 8, 3), "int16", scale=0.0004)
    oc = 5
    ws = RNG.uniform(0.002, 0.02, size=oc) if per_channel else 0.01
    w = b.tensor("w", (oc, 3, 3, 3), scale=ws, data=_w((oc, 3, 3, 3)))
    bt = b.tensor("b", (oc,), "int64", scale=0.0004 * np.atleast_1d(ws), data=_b64(oc)) if bias else -1
    oh = -(-9 // stride) if padding == "SAME" else (9 - 3 + stride) // stride
    ow = -(-8 // stride) if padding == "SAME" else (8 - 3 + stride) // stride
    y = b.tensor("y", (1, oh, ow, oc), "int16", scale=0.0007)
    b.op(
        "CONV_2D",
        [x, w, bt],
        [y],
        "Conv2DOptions",
        padding=PAD[padding],
        strideW=stride,
        strideH=stride,
        fusedActivationFunction=ACT[act],
        dilationWFactor=1,
        dilationHFactor=1,
    )
    b.inputs, b.outputs = [x], [y]
    return b


def _depthwise(multiplier: int, act: str) -> ModelBuilder:
    b = ModelBuilder()
    x = b.tensor("x", (1, 7, 6, 4), "int16", scale=0.0003)
    oc = 4 * multiplier
    ws = RNG.uniform(0.002, 0.02, size=oc)
    w = b.tensor("w", (1, 3, 3, oc), scale=ws, axis=3, data=_w((1, 3, 3, oc)))
    bias = b.tensor("b", (oc,), "int64", scale=0.0003 * ws, data=_b64(oc))
    y = b.tensor("y", (1, 4, 3, oc), "int16", scale=0.0002)
    b.op(
        "DEPTHWISE_CONV_2D",
        [x, w, bias],
        [y],
        "DepthwiseConv2DOptions",
        padding=PAD["SAME"],
        strideW=2,
        strideH=2,
        depthMultiplier=multiplier,
        fusedActivationFunction=ACT[act],
        dilationWFactor=1,
        dilationHFactor=1,
    )
    b.inputs, b.outputs = [x], [y]
    return b


def _fc(per_channel: bool, act: str) -> ModelBuilder:
    b = ModelBuilder()
    x = b.tensor("x", (1, 2, 2, 5), "int16", scale=0.0005)
    n = 7
    ws = RNG.uniform(0.002, 0.02, size=n) if per_channel else 0.009
    w = b.tensor("w", (n, 20), scale=ws, data=_w((n, 20)))
    bias = b.tensor("b", (n,), "int64", scale=0.0005 * np.atleast_1d(ws), data=_b64(n))
    y = b.tensor("y", (1, n), "int16", scale=0.001)
    b.op("FULLY_CONNECTED", [x, w, bias], [y], "FullyConnectedOptions", fusedActivationFunction=ACT[act])
    b.inputs, b.outputs = [x], [y]
    return b


def _binary(code: str, act: str, shape2=(1, 4, 5, 6), options: str = "AddOptions") -> ModelBuilder:
    b = ModelBuilder()
    a = b.tensor("a", (1, 4, 5, 6), "int16", scale=0.0005)
    c = b.tensor("c", shape2, "int16", scale=0.0003)
    y = b.tensor("y", (1, 4, 5, 6), "int16", scale=0.0008 if code != "MUL" else 0.005)
    b.op(code, [a, c], [y], options, fusedActivationFunction=ACT[act])
    b.inputs, b.outputs = [a, c], [y]
    return b


def _pool(code: str, padding: str, act: str = "NONE") -> ModelBuilder:
    b = ModelBuilder()
    x = b.tensor("x", (1, 9, 7, 3), "int16", scale=0.0005)
    oh, ow = (5, 4) if padding == "SAME" else (4, 3)
    y = b.tensor("y", (1, oh, ow, 3), "int16", scale=0.0005)
    fields = dict(padding=PAD[padding], strideW=2, strideH=2, filterWidth=3, filterHeight=3)
    b.op(code, [x], [y], "Pool2DOptions", fusedActivationFunction=ACT[act], **fields)
    b.inputs, b.outputs = [x], [y]
    return b


def _pad_concat() -> ModelBuilder:
    b = ModelBuilder()
    x = b.tensor("x", (1, 3, 4, 2), "int16", scale=0.0005)
    pads = b.tensor("p", (4, 2), "int32", data=np.array([[0, 0], [1, 2], [2, 0], [0, 0]], dtype=np.int32))
    p = b.tensor("pad", (1, 6, 6, 2), "int16", scale=0.0005)
    c = b.tensor("c", (1, 6, 6, 3), "int16", scale=0.0005)
    y = b.tensor("y", (1, 6, 6, 5), "int16", scale=0.0005)
    b.op("PAD", [x, pads], [p], "PadOptions")
    b.op("CONCATENATION", [p, c], [y], "ConcatenationOptions", axis=-1, fusedActivationFunction=0)
    b.inputs, b.outputs = [x, c], [y]
    return b


def _requantize_edges() -> ModelBuilder:
    """int8 in -> QUANTIZE to int16 -> 16x8 conv -> QUANTIZE int16 -> int16 -> QUANTIZE to int8 out."""
    b = ModelBuilder()
    x = b.tensor("x", (1, 5, 5, 2), scale=0.03, zero_point=-9)
    x16 = b.tensor("x16", (1, 5, 5, 2), "int16", scale=0.00005)
    b.op("QUANTIZE", [x], [x16])
    ws = RNG.uniform(0.002, 0.02, size=3)
    w = b.tensor("w", (3, 3, 3, 2), scale=ws, data=_w((3, 3, 3, 2)))
    bias = b.tensor("b", (3,), "int64", scale=0.00005 * ws, data=_b64(3))
    c = b.tensor("c", (1, 5, 5, 3), "int16", scale=0.0003)
    conv = dict(padding=PAD["SAME"], strideW=1, strideH=1, dilationWFactor=1, dilationHFactor=1)
    b.op("CONV_2D", [x16, w, bias], [c], "Conv2DOptions", fusedActivationFunction=0, **conv)
    c2 = b.tensor("c2", (1, 5, 5, 3), "int16", scale=0.0002)
    b.op("QUANTIZE", [c], [c2])
    y = b.tensor("y", (1, 5, 5, 3), scale=0.04, zero_point=6)
    b.op("QUANTIZE", [c2], [y])
    b.inputs, b.outputs = [x], [y]
    return b


def _softmax(shape, scale: float, beta: float = 1.0) -> ModelBuilder:
    b = ModelBuilder()
    x = b.tensor("x", shape, "int16", scale=scale)
    y = b.tensor("y", shape, "int16", scale=1 / 32768)
    b.op("SOFTMAX", [x], [y], "SoftmaxOptions", beta=beta)
    b.inputs, b.outputs = [x], [y]
    return b


CASES: dict[str, Callable[[], ModelBuilder]] = {
    "requantize_edges": _requantize_edges,
    "conv_per_channel_relu_same": lambda: _conv(True, "RELU", "SAME"),
    "conv_per_tensor_relu6_valid_stride2": lambda: _conv(False, "RELU6", "VALID", stride=2),
    "conv_no_bias": lambda: _conv(True, "NONE", "SAME", bias=False),
    "depthwise_relu": lambda: _depthwise(1, "RELU"),
    "depthwise_multiplier2": lambda: _depthwise(2, "NONE"),
    "fc_per_channel": lambda: _fc(True, "NONE"),
    "fc_per_tensor_relu": lambda: _fc(False, "RELU"),
    "add_relu": lambda: _binary("ADD", "RELU"),
    "add_broadcast": lambda: _binary("ADD", "NONE", shape2=(1, 1, 1, 6)),
    "sub": lambda: _binary("SUB", "NONE", options="SubOptions"),
    "mul": lambda: _binary("MUL", "NONE", options="MulOptions"),
    "mul_broadcast": lambda: _binary("MUL", "RELU", shape2=(1, 4, 1, 6), options="MulOptions"),
    "max_pool_same": lambda: _pool("MAX_POOL_2D", "SAME"),
    "avg_pool_valid_relu": lambda: _pool("AVERAGE_POOL_2D", "VALID", "RELU"),
    "avg_pool_same": lambda: _pool("AVERAGE_POOL_2D", "SAME"),
    "pad_concat": _pad_concat,
    "conv_int32_bias": lambda: _int32_bias(_conv(True, "RELU", "SAME"), 2, 5),
    "fc_int32_bias_per_channel": lambda: _int32_bias(_fc(True, "NONE"), 2, 7),
    "fc_int32_bias_per_tensor": lambda: _int32_bias(_fc(False, "RELU"), 2, 7),
    "softmax_rank2": lambda: _softmax((3, 10), 0.0004),
    "softmax_rank4_beta": lambda: _softmax((1, 2, 3, 7), 0.00003, beta=2.0),
    "softmax_long_rows_coarse_scale": lambda: _softmax((2, 300), 0.03, beta=0.5),
}


def _inputs(graph, n: int) -> list[np.ndarray]:
    tensors = [graph.tensors[i] for i in graph.inputs]
    return [RNG.integers(*_range(t.dtype), size=(n, *t.shape)).astype(t.dtype) for t in tensors]


def _range(dtype: str) -> tuple[int, int]:
    info = np.iinfo(dtype)
    return int(info.min), int(info.max) + 1


def _check(model_bytes: bytes, tmp_path: Path) -> None:
    import qcompile.host._runtime as rt

    path = tmp_path / "m.tflite"
    path.write_bytes(model_bytes)
    graph = load_tflite(path)
    assert any(t.dtype == "int16" for t in graph.tensors.values())
    inputs = _inputs(graph, N)
    expected = tflm_run(model_bytes, inputs, len(graph.outputs))
    for s in range(N):
        values = run_quantized(graph, [x[s] for x in inputs], keep_all=True)
        for j, name in enumerate(graph.outputs):
            np.testing.assert_array_equal(values[name].reshape(-1), expected[j][s].reshape(-1), err_msg=f"sample {s}")
        if s < 4:  # the C kernels, node by node, on the same tensors
            for node in graph.nodes:
                if node.op in ("reshape", "concat"):
                    continue
                got = getattr(rt, f"{node.op}_s16")(*[values[i] if i else None for i in node.inputs], **node.attrs)
                np.testing.assert_array_equal(np.asarray(got).reshape(-1), values[node.outputs[0]].reshape(-1))


@pytest.mark.parametrize("case", sorted(CASES))
def test_s16_op_matches_tflm(case: str, tmp_path: Path) -> None:
    _check(CASES[case]().finish(), tmp_path)


def _network() -> ModelBuilder:
    """conv -> depthwise -> residual add -> avg pool -> fc -> softmax, all 16x8."""
    b = ModelBuilder()
    x = b.tensor("x", (1, 8, 8, 3), "int16", scale=0.0004)
    w1s = RNG.uniform(0.002, 0.02, size=6)
    w1 = b.tensor("w1", (6, 3, 3, 3), scale=w1s, data=_w((6, 3, 3, 3)))
    b1 = b.tensor("b1", (6,), "int64", scale=0.0004 * w1s, data=_b64(6))
    c1 = b.tensor("c1", (1, 8, 8, 6), "int16", scale=0.0006)
    conv = dict(padding=PAD["SAME"], strideW=1, strideH=1, dilationWFactor=1, dilationHFactor=1)
    b.op("CONV_2D", [x, w1, b1], [c1], "Conv2DOptions", fusedActivationFunction=ACT["RELU"], **conv)
    w2s = RNG.uniform(0.002, 0.02, size=6)
    w2 = b.tensor("w2", (1, 3, 3, 6), scale=w2s, axis=3, data=_w((1, 3, 3, 6)))
    b2 = b.tensor("b2", (6,), "int64", scale=0.0006 * w2s, data=_b64(6))
    c2 = b.tensor("c2", (1, 8, 8, 6), "int16", scale=0.0005)
    b.op("DEPTHWISE_CONV_2D", [c1, w2, b2], [c2], "DepthwiseConv2DOptions", depthMultiplier=1, **conv)
    s = b.tensor("s", (1, 8, 8, 6), "int16", scale=0.0009)
    b.op("ADD", [c2, c1], [s], "AddOptions", fusedActivationFunction=ACT["RELU"])
    p = b.tensor("p", (1, 1, 1, 6), "int16", scale=0.0009)
    pool = dict(padding=PAD["VALID"], strideW=8, strideH=8, filterWidth=8, filterHeight=8)
    b.op("AVERAGE_POOL_2D", [s], [p], "Pool2DOptions", **pool)
    w3 = b.tensor("w3", (4, 6), scale=0.01, data=_w((4, 6)))
    b3 = b.tensor("b3", (4,), "int64", scale=0.0009 * 0.01, data=_b64(4))
    f = b.tensor("f", (1, 4), "int16", scale=0.0002)
    b.op("FULLY_CONNECTED", [p, w3, b3], [f], "FullyConnectedOptions", fusedActivationFunction=0)
    y = b.tensor("y", (1, 4), "int16", scale=1 / 32768)
    b.op("SOFTMAX", [f], [y], "SoftmaxOptions", beta=1.0)
    b.inputs, b.outputs = [x], [y]
    return b


def test_compiled_16x8_network_matches_tflm(tmp_path: Path) -> None:
    """The generated C (host build, int16 C API) == TFLM on a whole 16x8 network."""
    import qcompile

    model_bytes = _network().finish()
    path = tmp_path / "net16.tflite"
    path.write_bytes(model_bytes)
    m = qcompile.compile(path, tmp_path / "out", target="host")
    assert [i.dtype for i in m.inputs] == ["int16"] and [o.dtype for o in m.outputs] == ["int16"]
    x = RNG.integers(-32768, 32768, size=(N, 1, 8, 8, 3)).astype(np.int16)
    expected = tflm_run(model_bytes, [x])[0].reshape(N, -1)
    got = np.asarray(m.run(x[:, 0])).reshape(N, -1)
    np.testing.assert_array_equal(got, expected)
    header = (tmp_path / "out" / "net16.h").read_text()
    assert "int net16_run(const int16_t *input, int16_t *output);" in header
    assert "#define NET16_INPUT0_TYPE int16_t" in header and "#define NET16_INPUT0_SIZE 192" in header


def test_int32_bias_16x8_depthwise_is_named(tmp_path: Path) -> None:
    """TFLM's int16 depthwise has no int32-bias variant: refused by name."""
    path = tmp_path / "m.tflite"
    path.write_bytes(_int32_bias(_depthwise(1, "NONE"), 2, 4).finish())
    with pytest.raises(UnsupportedModelError, match="int64"):
        load_tflite(path)


def test_compiled_int32_bias_16x8_matches_tflm(tmp_path: Path) -> None:
    """conv (int32 bias) -> fc (int32 bias) through the generated C (qc_*_b32_s16) == TFLM."""
    import qcompile

    b = ModelBuilder()
    x = b.tensor("x", (1, 6, 6, 3), "int16", scale=0.0004)
    ws = RNG.uniform(0.002, 0.02, size=4)
    w = b.tensor("w", (4, 3, 3, 3), scale=ws, data=_w((4, 3, 3, 3)))
    bias = b.tensor("b", (4,), "int32", scale=0.0004 * ws, data=RNG.integers(-(1 << 20), 1 << 20, 4).astype(np.int32))
    c = b.tensor("c", (1, 6, 6, 4), "int16", scale=0.0006)
    conv = dict(padding=PAD["SAME"], strideW=1, strideH=1, dilationWFactor=1, dilationHFactor=1)
    b.op("CONV_2D", [x, w, bias], [c], "Conv2DOptions", fusedActivationFunction=ACT["RELU"], **conv)
    w2 = b.tensor("w2", (5, 144), scale=0.01, data=_w((5, 144)))
    b2 = b.tensor("b2", (5,), "int32", scale=0.0006 * 0.01, data=RNG.integers(-(1 << 16), 1 << 16, 5).astype(np.int32))
    y = b.tensor("y", (1, 5), "int16", scale=0.003)
    b.op("FULLY_CONNECTED", [c, w2, b2], [y], "FullyConnectedOptions", fusedActivationFunction=0)
    b.inputs, b.outputs = [x], [y]
    model_bytes = b.finish()
    path = tmp_path / "b32.tflite"
    path.write_bytes(model_bytes)
    m = qcompile.compile(path, tmp_path / "out", target="host")
    assert "qc_conv2d_b32_s16" in (tmp_path / "out" / "b32.c").read_text()
    xs = RNG.integers(-32768, 32768, size=(N, 1, 6, 6, 3)).astype(np.int16)
    expected = tflm_run(model_bytes, [xs])[0].reshape(N, -1)
    np.testing.assert_array_equal(np.asarray(m.run(xs[:, 0])).reshape(N, -1), expected)


def test_compiled_int8_io_with_int16_inside_matches_tflm(tmp_path: Path) -> None:
    """int8 C API, int16 region inside (QUANTIZE int8 -> int16 -> int8): generated C == TFLM."""
    import qcompile

    model_bytes = _requantize_edges().finish()
    path = tmp_path / "edges.tflite"
    path.write_bytes(model_bytes)
    m = qcompile.compile(path, tmp_path / "out", target="cortex-m7")
    assert [i.dtype for i in m.inputs] == ["int8"] and [o.dtype for o in m.outputs] == ["int8"]
    x = RNG.integers(-128, 128, size=(N, 1, 5, 5, 2)).astype(np.int8)
    expected = tflm_run(model_bytes, [x])[0].reshape(N, -1)
    np.testing.assert_array_equal(np.asarray(m.run(x[:, 0])).reshape(N, -1), expected)
    assert "_TYPE" not in (tmp_path / "out" / "edges.h").read_text()  # int8 I/O: the int8 header


def _reduce(code: str, shape, axes, keep: bool, out_scale: float) -> ModelBuilder:
    b = ModelBuilder()
    x = b.tensor("x", shape, "int16", scale=0.0005)
    ax = b.tensor("axes", (len(axes),), "int32", data=np.array(axes, np.int32))
    kept = [1 if i in [a % len(shape) for a in axes] else d for i, d in enumerate(shape)]
    out = kept if keep else [d for i, d in enumerate(shape) if i not in [a % len(shape) for a in axes]]
    y = b.tensor("y", tuple(out), "int16", scale=out_scale)
    b.op(code, [x, ax], [y], "ReducerOptions", keepDims=keep)
    b.inputs, b.outputs = [x], [y]
    return b


REDUCE_CASES: dict[str, Callable[[], ModelBuilder]] = {
    "mean_hw_keep": lambda: _reduce("MEAN", (1, 5, 6, 4), [1, 2], True, 0.0003),
    "mean_hw": lambda: _reduce("MEAN", (2, 3, 7, 5), [2, 1], False, 0.0001),
    "mean_channels": lambda: _reduce("MEAN", (1, 4, 3, 6), [-1], True, 0.0004),
    "mean_rank3": lambda: _reduce("MEAN", (3, 5, 4), [0, 2], False, 0.0002),
    "sum_hw": lambda: _reduce("SUM", (1, 4, 4, 3), [1, 2], False, 0.004),
    "sum_last_keep": lambda: _reduce("SUM", (2, 6, 5), [2], True, 0.002),
}


@pytest.mark.parametrize("case", sorted(REDUCE_CASES))
def test_s16_reduction_matches_tflm(case: str, tmp_path: Path) -> None:
    _check(REDUCE_CASES[case]().finish(), tmp_path)


def _move(code: str, shape, consts, out_shapes, options: str, first_const: bool = False, **fields) -> ModelBuilder:
    """One int16 data-movement op: ``consts`` are its int32 operands (before x if ``first_const``)."""
    b = ModelBuilder()
    x = b.tensor("x", shape, "int16", scale=0.0005)
    cs = [b.tensor(f"c{i}", np.shape(v), "int32", data=np.asarray(v, np.int32)) for i, v in enumerate(consts)]
    ys = [b.tensor(f"y{i}", s, "int16", scale=0.0005) for i, s in enumerate(out_shapes)]
    b.op(code, [*cs, x] if first_const else [x, *cs], ys, options, **fields)
    b.inputs, b.outputs = [x], ys
    return b


MOVE_CASES: dict[str, Callable[[], ModelBuilder]] = {
    "transpose": lambda: _move("TRANSPOSE", (1, 3, 4, 5), [[0, 3, 1, 2]], [(1, 5, 3, 4)], "TransposeOptions"),
    "strided_slice_negative_stride": lambda: _move(
        "STRIDED_SLICE", (2, 6, 7), [[0, 5, 1], [2, 0, 7], [1, -2, 3]], [(2, 3, 2)], "StridedSliceOptions"
    ),
    "slice": lambda: _move("SLICE", (1, 5, 6, 3), [[0, 1, 2, 0], [1, 3, -1, 2]], [(1, 3, 4, 2)], "SliceOptions"),
    "split": lambda: _move(
        "SPLIT", (1, 4, 6, 2), [2], [(1, 4, 3, 2), (1, 4, 3, 2)], "SplitOptions", first_const=True, numSplits=2
    ),
    "resize_nearest_2x": lambda: _move(
        "RESIZE_NEAREST_NEIGHBOR", (1, 3, 4, 5), [[6, 8]], [(1, 6, 8, 5)], "ResizeNearestNeighborOptions"
    ),
    "resize_nearest_half_pixel": lambda: _move(
        "RESIZE_NEAREST_NEIGHBOR",
        (2, 5, 4, 3),
        [[7, 3]],
        [(2, 7, 3, 3)],
        "ResizeNearestNeighborOptions",
        halfPixelCenters=True,
    ),
}


@pytest.mark.parametrize("case", sorted(MOVE_CASES))
def test_s16_data_movement_matches_tflm(case: str, tmp_path: Path) -> None:
    _check(MOVE_CASES[case]().finish(), tmp_path)


def _leaky_relu16(alpha: float, in_scale: float, out_scale: float) -> ModelBuilder:
    """One int16 LEAKY_RELU on (16, 256) tensors (16 invocations cover every int16 value)."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

    b = ModelBuilder()
    x = b.tensor("x", (16, 256), "int16", scale=in_scale)
    y = b.tensor("y", (16, 256), "int16", scale=out_scale)
    b.op("LEAKY_RELU", [x], [y])
    opts = fb.LeakyReluOptionsT()
    opts.alpha = alpha
    b.ops[-1].builtinOptionsType = fb.BuiltinOptions.LeakyReluOptions
    b.ops[-1].builtinOptions = opts
    b.inputs, b.outputs = [x], [y]
    return b


@pytest.mark.parametrize(
    ("alpha", "in_scale", "out_scale"), [(0.2, 0.0005, 0.0004), (0.01, 0.001, 0.0011), (1.7, 0.0003, 0.0009)]
)
def test_s16_leaky_relu_all_inputs_match_tflm(alpha: float, in_scale: float, out_scale: float, tmp_path: Path) -> None:
    """Every int16 input: TFLM == reference == C (qc_leaky_relu_s16)."""
    import qcompile.host._runtime as rt

    model_bytes = _leaky_relu16(alpha, in_scale, out_scale).finish()
    path = tmp_path / "leaky16.tflite"
    path.write_bytes(model_bytes)
    graph = load_tflite(path)
    assert [n.op for n in graph.nodes] == ["leaky_relu"]
    x = np.arange(-32768, 32768, dtype=np.int16).reshape(16, 16, 256)
    expected = tflm_run(model_bytes, [x])[0].reshape(-1)
    got = np.concatenate([run_quantized(graph, [s])[graph.outputs[0]].reshape(-1) for s in x])
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(rt.leaky_relu_s16(x, **graph.nodes[0].attrs).reshape(-1), expected)


def _minmax16(code: str, shape2) -> ModelBuilder:
    b = ModelBuilder()
    x1 = b.tensor("x1", (1, 4, 5, 6), "int16", scale=0.0005)
    x2 = b.tensor("x2", shape2, "int16", scale=0.0005)
    y = b.tensor("y", (1, 4, 5, 6), "int16", scale=0.0005)
    b.op(code, [x1, x2], [y])
    b.inputs, b.outputs = [x1, x2], [y]
    return b


@pytest.mark.parametrize("code", ["MAXIMUM", "MINIMUM"])
@pytest.mark.parametrize("shape2", [(1, 4, 5, 6), (1, 1, 1, 6), (1, 4, 1, 6)])
def test_s16_maximum_minimum_match_tflm(code: str, shape2, tmp_path: Path) -> None:
    _check(_minmax16(code, shape2).finish(), tmp_path)


def test_compiled_16x8_eltwise_chain_matches_tflm(tmp_path: Path) -> None:
    """LEAKY_RELU -> MAXIMUM (int16) through the generated C (host) == TFLM."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

    import qcompile

    b = ModelBuilder()
    x = b.tensor("x", (1, 6, 5, 4), "int16", scale=0.0005)
    c = b.tensor("c", (1, 1, 1, 4), "int16", scale=0.0004)
    r = b.tensor("r", (1, 6, 5, 4), "int16", scale=0.0004)
    b.op("LEAKY_RELU", [x], [r])
    opts = fb.LeakyReluOptionsT()
    opts.alpha = 0.1
    b.ops[-1].builtinOptionsType = fb.BuiltinOptions.LeakyReluOptions
    b.ops[-1].builtinOptions = opts
    y = b.tensor("y", (1, 6, 5, 4), "int16", scale=0.0004)
    b.op("MAXIMUM", [r, c], [y])
    b.inputs, b.outputs = [x, c], [y]
    model_bytes = b.finish()
    path = tmp_path / "elt16.tflite"
    path.write_bytes(model_bytes)
    m = qcompile.compile(path, tmp_path / "out", target="host")
    xs = RNG.integers(-32768, 32768, size=(N, 1, 6, 5, 4)).astype(np.int16)
    cs = RNG.integers(-32768, 32768, size=(N, 1, 1, 1, 4)).astype(np.int16)
    expected = tflm_run(model_bytes, [xs, cs])[0].reshape(N, -1)
    got = np.asarray(m.run([xs[:, 0], cs[:, 0]])).reshape(N, -1)
    np.testing.assert_array_equal(got, expected)
    text = (tmp_path / "out" / "elt16.c").read_text()
    assert "qc_leaky_relu_s16" in text and "qc_maximum_s16" in text


def _batch_matmul16(a_shape, b_shape, out_shape, adj_x: bool, adj_y: bool) -> ModelBuilder:
    b = ModelBuilder()
    a = b.tensor("a", a_shape, "int16", scale=0.0004)
    c = b.tensor("b", b_shape, "int16", scale=0.0003)
    y = b.tensor("y", out_shape, "int16", scale=0.02)  # most outputs inside int16, not saturated
    b.op("BATCH_MATMUL", [a, c], [y], "BatchMatMulOptions", adjX=adj_x, adjY=adj_y)
    b.inputs, b.outputs = [a, c], [y]
    return b


@pytest.mark.parametrize(
    ("a_shape", "b_shape", "out_shape", "adj_x", "adj_y"),
    [
        ((2, 5, 7), (2, 7, 4), (2, 5, 4), False, False),
        ((1, 3, 6, 8), (1, 3, 5, 8), (1, 3, 6, 5), False, True),
        ((4, 9, 6), (1, 9, 3), (4, 6, 3), True, False),
    ],
)
def test_s16_batch_matmul_matches_tflm(a_shape, b_shape, out_shape, adj_x, adj_y, tmp_path: Path) -> None:
    _check(_batch_matmul16(a_shape, b_shape, out_shape, adj_x, adj_y).finish(), tmp_path)


@pytest.mark.parametrize(("alpha_shape", "alpha_q"), [((1, 1, 6), (0.004, -20)), ((4, 5, 6), (0.01, 5))])
def test_s16_prelu_matches_tflm(alpha_shape, alpha_q, tmp_path: Path) -> None:
    """int16 PRELU with an int8 alpha (own zero point), broadcast: TFLM == reference == C."""
    b = ModelBuilder()
    x = b.tensor("x", (1, 4, 5, 6), "int16", scale=0.0005)
    data = RNG.integers(-128, 128, alpha_shape).astype(np.int8)
    alpha = b.tensor("alpha", alpha_shape, scale=alpha_q[0], zero_point=alpha_q[1], data=data)
    y = b.tensor("y", (1, 4, 5, 6), "int16", scale=0.0004)
    b.op("PRELU", [x, alpha], [y])
    b.inputs, b.outputs = [x], [y]
    _check(b.finish(), tmp_path)

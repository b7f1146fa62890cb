"""Every TFLite operator the importer accepts, proven against TFLite Micro on built models.

For each case a tiny int8 model is built with ``tflite_builder`` and run on random int8
inputs three ways: TFLite Micro (the oracle), our numpy reference of the imported graph,
and our C kernels (each node through the Cython binding). All three must agree on every
byte. Cases cover per-tensor and per-channel weights, fused activations, SAME/VALID
padding, broadcasting, and odd scales and zero points. One multi-op model is also
compiled to C and built for the host, to prove the generated code path.
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

N = 64
RNG = np.random.default_rng(20240607)


def _w(shape, lo=-127, hi=128) -> np.ndarray:
    return RNG.integers(lo, hi, size=shape).astype(np.int8)


def _bias(n: int) -> np.ndarray:
    return RNG.integers(-3000, 3000, size=n).astype(np.int32)


def _unary(code: str, in_q, out_q, shape=(1, 4, 5, 6), options=None, **fields) -> ModelBuilder:
    b = ModelBuilder()
    x = b.tensor("x", shape, scale=in_q[0], zero_point=in_q[1])
    y = b.tensor("y", shape, scale=out_q[0], zero_point=out_q[1])
    b.op(code, [x], [y], options, **fields)
    b.inputs, b.outputs = [x], [y]
    return b


def _conv(per_channel: bool, act: str, padding: str, stride: int = 1, dilation: int = 1, bias: bool = True):
    b = ModelBuilder()
    x = b.tensor("x", (1, 9, 8, 3), scale=0.05, zero_point=-7)
    oc = 5
    ws = RNG.uniform(0.002, 0.02, size=oc) if per_channel else 0.01
    w = b.tensor("w", (oc, 3, 3, 3), scale=ws, zero_point=0, data=_w((oc, 3, 3, 3)))
    ins = [x, w]
    if bias:
        ins.append(b.tensor("b", (oc,), "int32", scale=0.05 * np.atleast_1d(ws), data=_bias(oc)))
    else:
        ins.append(-1)
    eff = 2 * dilation + 1
    oh = -(-9 // stride) if padding == "SAME" else (9 - eff + stride) // stride
    ow = -(-8 // stride) if padding == "SAME" else (8 - eff + stride) // stride
    y = b.tensor("y", (1, oh, ow, oc), scale=0.07, zero_point=3)
    b.op(
        "CONV_2D",
        ins,
        [y],
        "Conv2DOptions",
        padding=PAD[padding],
        strideW=stride,
        strideH=stride,
        fusedActivationFunction=ACT[act],
        dilationWFactor=dilation,
        dilationHFactor=dilation,
    )
    b.inputs, b.outputs = [x], [y]
    return b


def _depthwise(per_channel: bool, act: str, multiplier: int = 1):
    b = ModelBuilder()
    x = b.tensor("x", (1, 7, 6, 4), scale=0.04, zero_point=10)
    oc = 4 * multiplier
    ws = RNG.uniform(0.002, 0.02, size=oc) if per_channel else 0.012
    w = b.tensor("w", (1, 3, 3, oc), scale=ws, zero_point=0, axis=3, data=_w((1, 3, 3, oc)))
    bias = b.tensor("b", (oc,), "int32", scale=0.04 * np.atleast_1d(ws), data=_bias(oc))
    y = b.tensor("y", (1, 4, 3, oc), scale=0.03, zero_point=-20)
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


def _fc(per_channel: bool, act: str, in_shape=(1, 2, 2, 5)):
    b = ModelBuilder()
    x = b.tensor("x", in_shape, scale=0.06, zero_point=-3)
    k = int(np.prod(in_shape[1:]))
    n = 7
    ws = RNG.uniform(0.002, 0.02, size=n) if per_channel else 0.009
    w = b.tensor("w", (n, k), scale=ws, zero_point=0, data=_w((n, k)))
    bias = b.tensor("b", (n,), "int32", scale=0.06 * np.atleast_1d(ws), data=_bias(n))
    y = b.tensor("y", (1, n), scale=0.1, zero_point=5)
    b.op("FULLY_CONNECTED", [x, w, bias], [y], "FullyConnectedOptions", fusedActivationFunction=ACT[act])
    b.inputs, b.outputs = [x], [y]
    return b


def _binary(code: str, act: str, shape2=(1, 4, 5, 6), options: str = "AddOptions"):
    b = ModelBuilder()
    a = b.tensor("a", (1, 4, 5, 6), scale=0.05, zero_point=-10)
    c = b.tensor("c", shape2, scale=0.03, zero_point=7)
    y = b.tensor("y", (1, 4, 5, 6), scale=0.08, zero_point=2)
    b.op(code, [a, c], [y], options, fusedActivationFunction=ACT[act])
    b.inputs, b.outputs = [a, c], [y]
    return b


def _pool(code: str, padding: str, act: str = "NONE"):
    b = ModelBuilder()
    x = b.tensor("x", (1, 9, 7, 3), scale=0.05, zero_point=-4)
    oh, ow = (5, 4) if padding == "SAME" else (4, 3)
    y = b.tensor("y", (1, oh, ow, 3), scale=0.05, zero_point=-4)
    b.op(
        code,
        [x],
        [y],
        "Pool2DOptions",
        padding=PAD[padding],
        strideW=2,
        strideH=2,
        filterWidth=3,
        filterHeight=3,
        fusedActivationFunction=ACT[act],
    )
    b.inputs, b.outputs = [x], [y]
    return b


def _mean(keep: bool, same_q: bool):
    b = ModelBuilder()
    x = b.tensor("x", (1, 6, 5, 4), scale=0.05, zero_point=-6)
    axes = b.tensor("axes", (2,), "int32", data=np.array([1, 2], dtype=np.int32))
    out_shape = (1, 1, 1, 4) if keep else (1, 4)
    q = (0.05, -6) if same_q else (0.02, 9)
    y = b.tensor("y", out_shape, scale=q[0], zero_point=q[1])
    b.op("MEAN", [x, axes], [y], "ReducerOptions", keepDims=keep)
    b.inputs, b.outputs = [x], [y]
    return b


def _pad(v2: bool):
    b = ModelBuilder()
    x = b.tensor("x", (1, 3, 4, 2), scale=0.05, zero_point=-6)
    pads = b.tensor("p", (4, 2), "int32", data=np.array([[0, 0], [1, 2], [2, 0], [0, 1]], dtype=np.int32))
    ins = [x, pads]
    if v2:
        ins.append(b.tensor("v", (1,), scale=0.05, zero_point=-6, data=np.array([17], dtype=np.int8)))
    y = b.tensor("y", (1, 6, 6, 3), scale=0.05, zero_point=-6)
    b.op("PADV2" if v2 else "PAD", ins, [y], "PadOptions")
    b.inputs, b.outputs = [x], [y]
    return b


def _concat():
    b = ModelBuilder()
    a = b.tensor("a", (1, 3, 4, 2), scale=0.05, zero_point=-6)
    c = b.tensor("c", (1, 3, 4, 5), scale=0.05, zero_point=-6)
    y = b.tensor("y", (1, 3, 4, 7), scale=0.05, zero_point=-6)
    b.op("CONCATENATION", [a, c], [y], "ConcatenationOptions", axis=-1, fusedActivationFunction=0)
    b.inputs, b.outputs = [a, c], [y]
    return b


def _reshape_softmax():
    b = ModelBuilder()
    x = b.tensor("x", (1, 1, 1, 10), scale=0.11, zero_point=4)
    r = b.tensor("r", (1, 10), scale=0.11, zero_point=4)
    y = b.tensor("y", (1, 10), scale=1 / 256, zero_point=-128)
    b.op("SQUEEZE", [x], [r], "SqueezeOptions", squeezeDims=[1, 2])
    b.op("SOFTMAX", [r], [y], "SoftmaxOptions", beta=1.0)
    b.inputs, b.outputs = [x], [y]
    return b


CASES: dict[str, Callable[[], ModelBuilder]] = {
    "conv_per_channel_relu_same": lambda: _conv(True, "RELU", "SAME"),
    "conv_per_tensor_relu6_valid_stride2": lambda: _conv(False, "RELU6", "VALID", stride=2),
    "conv_dilated_no_bias": lambda: _conv(True, "NONE", "SAME", dilation=2, bias=False),
    "conv_relu_n1_to_1": lambda: _conv(True, "RELU_N1_TO_1", "SAME"),
    "depthwise_per_channel_relu": lambda: _depthwise(True, "RELU"),
    "depthwise_per_tensor_multiplier2": lambda: _depthwise(False, "RELU6", multiplier=2),
    "fc_per_channel_4d_input": lambda: _fc(True, "NONE"),
    "fc_per_tensor_relu": lambda: _fc(False, "RELU", in_shape=(1, 20)),
    "add_relu": lambda: _binary("ADD", "RELU"),
    "add_broadcast": lambda: _binary("ADD", "NONE", shape2=(1, 1, 1, 6)),
    "sub_relu6": lambda: _binary("SUB", "RELU6", options="SubOptions"),
    "mul": lambda: _binary("MUL", "NONE", options="MulOptions"),
    "mul_broadcast_relu": lambda: _binary("MUL", "RELU", shape2=(1, 4, 1, 6), options="MulOptions"),
    "max_pool_same": lambda: _pool("MAX_POOL_2D", "SAME"),
    "max_pool_valid_relu": lambda: _pool("MAX_POOL_2D", "VALID", "RELU"),
    "avg_pool_same": lambda: _pool("AVERAGE_POOL_2D", "SAME"),
    "mean_keep_dims_requant": lambda: _mean(True, False),
    "mean_no_keep_same_q": lambda: _mean(False, True),
    "mean_no_keep_requant": lambda: _mean(False, False),
    "logistic": lambda: _unary("LOGISTIC", (0.07, 5), (1 / 256, -128)),
    "logistic_large_scale": lambda: _unary("LOGISTIC", (0.3, -20), (1 / 256, -128)),
    "tanh": lambda: _unary("TANH", (0.03, -9), (1 / 128, 0)),
    "tanh_large_scale": lambda: _unary("TANH", (0.2, 11), (1 / 128, 0)),
    "relu": lambda: _unary("RELU", (0.05, -10), (0.03, -128)),
    "relu_same_q": lambda: _unary("RELU", (0.05, 3), (0.05, 3)),
    "relu6": lambda: _unary("RELU6", (0.06, -30), (0.06, -30)),
    "hard_swish": lambda: _unary("HARD_SWISH", (0.05, -3), (0.03, -40)),
    "hard_swish_wide": lambda: _unary("HARD_SWISH", (0.2, 20), (0.1, -100)),
    "requantize": lambda: _unary("QUANTIZE", (0.05, -3), (0.02, 11)),
    "requantize_up": lambda: _unary("QUANTIZE", (0.01, 40), (0.05, -1)),
    "pad": lambda: _pad(False),
    "padv2": lambda: _pad(True),
    "concat": _concat,
    "squeeze_softmax": _reshape_softmax,
}


def _random_inputs(model_bytes: bytes, n: int) -> list[np.ndarray]:
    from tflite_micro import runtime as tflm

    interpreter = tflm.Interpreter.from_bytes(model_bytes)
    shapes = []
    i = 0
    while True:
        try:
            shapes.append(tuple(int(d) for d in interpreter.get_input_details(i)["shape"]))
        except Exception:
            break
        i += 1
    return [RNG.integers(-128, 128, size=(n, *s)).astype(np.int8) for s in shapes]


def _check(model_bytes: bytes, tmp_path: Path) -> None:
    import qcompile.host._runtime as rt

    path = tmp_path / "m.tflite"
    path.write_bytes(model_bytes)
    graph = load_tflite(path)
    inputs = _random_inputs(model_bytes, N)
    expected = tflm_run(model_bytes, inputs, len(graph.outputs))
    for s in range(N):
        values = run_quantized(graph, [x[s] for x in inputs], keep_all=True)
        for j, name in enumerate(graph.outputs):
            np.testing.assert_array_equal(values[name].reshape(-1), expected[j][s].reshape(-1), err_msg=f"sample {s}")
        if s < 4:  # the C kernels, node by node, on the same tensors
            for node in graph.nodes:
                if node.op == "reshape":
                    continue
                fn = getattr(rt, f"{node.op}_s8")
                args = [values[i] for i in node.inputs]
                got = fn(*args, **node.attrs)
                np.testing.assert_array_equal(np.asarray(got).reshape(-1), values[node.outputs[0]].reshape(-1))


@pytest.mark.parametrize("case", sorted(CASES))
def test_op_matches_tflm(case: str, tmp_path: Path) -> None:
    _check(CASES[case]().finish(), tmp_path)


def test_compiled_multi_op_model_matches_tflm(tmp_path: Path) -> None:
    """conv -> hard_swish -> max pool -> mean -> logistic, generated C built for the host."""
    b = ModelBuilder()
    x = b.tensor("x", (1, 8, 8, 3), scale=0.05, zero_point=-7)
    ws = RNG.uniform(0.002, 0.02, size=6)
    w = b.tensor("w", (6, 3, 3, 3), scale=ws, data=_w((6, 3, 3, 3)))
    bias = b.tensor("b", (6,), "int32", scale=0.05 * ws, data=_bias(6))
    c = b.tensor("c", (1, 8, 8, 6), scale=0.06, zero_point=-2)
    h = b.tensor("h", (1, 8, 8, 6), scale=0.04, zero_point=-60)
    p = b.tensor("p", (1, 4, 4, 6), scale=0.04, zero_point=-60)
    axes = b.tensor("axes", (2,), "int32", data=np.array([1, 2], dtype=np.int32))
    m = b.tensor("m", (1, 6), scale=0.03, zero_point=-50)
    y = b.tensor("y", (1, 6), scale=1 / 256, zero_point=-128)
    b.op(
        "CONV_2D",
        [x, w, bias],
        [c],
        "Conv2DOptions",
        padding=0,
        strideW=1,
        strideH=1,
        dilationWFactor=1,
        dilationHFactor=1,
    )
    b.op("HARD_SWISH", [c], [h])
    b.op("MAX_POOL_2D", [h], [p], "Pool2DOptions", padding=1, strideW=2, strideH=2, filterWidth=2, filterHeight=2)
    b.op("MEAN", [p, axes], [m], "ReducerOptions", keepDims=False)
    b.op("LOGISTIC", [m], [y])
    b.inputs, b.outputs = [x], [y]
    compiled_matches_tflm(b.finish(), tmp_path, "multi")


def compiled_matches_tflm(model_bytes: bytes, tmp_path: Path, name: str, n: int = N) -> None:
    """Compile a one-input, one-output .tflite to C, build it for the host and compare its
    outputs with TFLM's on ``n`` random int8 inputs."""
    from qcompile.compiler import CompileOptions, compile_model
    from qcompile.host._runtime import ModelLibrary
    from qcompile.host.build import build_host_library

    path = tmp_path / f"{name}.tflite"
    path.write_bytes(model_bytes)
    out_dir = tmp_path / "out"
    compile_model(path, out_dir, CompileOptions(progress=False))
    inputs = _random_inputs(model_bytes, n)
    expected = tflm_run(model_bytes, inputs)[0].reshape(n, -1)
    lib = build_host_library(out_dir, name=name, build_dir=tmp_path / "build")
    x = inputs[0].reshape(n, -1)
    got = ModelLibrary(str(lib), name, [x.shape[1]], [expected.shape[1]], 0).run([x])[0]
    np.testing.assert_array_equal(np.asarray(got).reshape(n, -1), expected)


def test_unsupported_ops_and_float_internals_listed_together(tmp_path: Path) -> None:
    b = ModelBuilder()
    x = b.tensor("x", (1, 4), scale=0.05, zero_point=0)
    f = b.tensor("f", (1, 4), "float32")
    g = b.tensor("g", (1, 4), "float32")
    y = b.tensor("y", (1, 4), scale=0.05, zero_point=0)
    b.op("DEQUANTIZE", [x], [f])
    b.op("FLOOR", [f], [g])
    b.op("QUANTIZE", [g], [y])
    b.inputs, b.outputs = [x], [y]
    path = tmp_path / "bad.tflite"
    path.write_bytes(b.finish())
    with pytest.raises(UnsupportedModelError) as info:
        load_tflite(path)
    text = str(info.value)
    assert "FLOOR" in text and "DEQUANTIZE" in text and "QUANTIZE" in text
    assert info.value.exit_code == 2


def test_quantize_dequantize_edges_are_dropped(tmp_path: Path) -> None:
    b = ModelBuilder()
    xf = b.tensor("xf", (1, 6), "float32")
    x = b.tensor("x", (1, 6), scale=0.05, zero_point=3)
    y = b.tensor("y", (1, 6), scale=1 / 256, zero_point=-128)
    yf = b.tensor("yf", (1, 6), "float32")
    b.op("QUANTIZE", [xf], [x])
    b.op("LOGISTIC", [x], [y])
    b.op("DEQUANTIZE", [y], [yf])
    b.inputs, b.outputs = [xf], [yf]
    path = tmp_path / "edges.tflite"
    path.write_bytes(b.finish())
    graph = load_tflite(path)
    assert [n.op for n in graph.nodes] == ["lut"]
    assert graph.tensors[graph.inputs[0]].quant.scalar_zero_point() == 3
    assert graph.tensors[graph.outputs[0]].dtype == "int8"

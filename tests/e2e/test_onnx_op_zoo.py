"""Every supported ONNX operator through the whole pipeline: import, calibrate, quantize,
generate C, build for the host, and check the C against the numpy reference bit for bit
(and the int8 model against onnxruntime's float outputs).

The per-op importer tests prove the float IR, the kernel tests prove each kernel; this
proves the glue between them (the quantizer's handling of every op, constant operands,
lookup tables, shared parameters of pools/concat, layout changes) for both the portable
and the DSP kernel family.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from c_driver import check_model_sanitized
from onnx import TensorProto, helper, numpy_helper

from qcompile.compiler import CompileOptions, compile_model
from qcompile.tools.verify import verify

RNG = np.random.default_rng(7)


def _w(*shape: int, scale: float = 0.3) -> np.ndarray:
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def _zoo_model(path: Path) -> Path:
    """A CNN that uses every supported op at least once (NCHW, opset 14: HardSwish)."""
    inits: list[onnx.TensorProto] = []

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    n = []
    # stem: Pad (folded) + Conv + BatchNormalization (folded) + Relu
    n.append(helper.make_node("Pad", ["x", const("pads0", np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64))], ["p0"]))
    n.append(helper.make_node("Conv", ["p0", const("w0", _w(8, 3, 3, 3)), const("b0", _w(8))], ["c0"]))
    n.append(
        helper.make_node(
            "BatchNormalization",
            [
                "c0",
                const("gam0", 1 + _w(8, scale=0.1)),
                const("be0", _w(8, scale=0.1)),
                const("mean0", _w(8, scale=0.1)),
                const("v0", 1 + np.abs(_w(8, scale=0.1))),
            ],
            ["bn0"],
        )
    )
    n.append(helper.make_node("Relu", ["bn0"], ["r0"]))
    # depthwise + Clip (relu6), grouped conv + LeakyRelu, dilated conv + HardSwish
    n.append(helper.make_node("Conv", ["r0", const("w1", _w(8, 1, 3, 3))], ["c1"], group=8, pads=[1, 1, 1, 1]))
    n.append(helper.make_node("Clip", ["c1", const("lo", np.float32(0)), const("hi", np.float32(6))], ["r1"]))
    n.append(helper.make_node("Conv", ["r1", const("w2", _w(8, 4, 3, 3))], ["c2"], group=2, pads=[1, 1, 1, 1]))
    n.append(helper.make_node("LeakyRelu", ["c2"], ["r2"], alpha=0.1))
    n.append(helper.make_node("Conv", ["r2", const("w3", _w(8, 8, 3, 3))], ["c3"], dilations=[2, 2], pads=[2, 2, 2, 2]))
    n.append(helper.make_node("HardSwish", ["c3"], ["r3"]))
    # residual Add, Mul by a per-channel constant, Div by a scalar, Sub of a constant
    n.append(helper.make_node("Add", ["r3", "r1"], ["a0"]))
    n.append(helper.make_node("Mul", ["a0", const("scale_c", (1 + _w(1, 8, 1, 1, scale=0.2)))], ["m0o"]))
    n.append(helper.make_node("Div", ["m0o", const("two", np.float32(2.0))], ["d0"]))
    n.append(helper.make_node("Sub", ["d0", const("shift_c", _w(1, 8, 1, 1, scale=0.1))], ["s0"]))
    # pools, Sigmoid / Tanh / HardSigmoid branches, Concat
    n.append(helper.make_node("MaxPool", ["s0"], ["mp"], kernel_shape=[2, 2], strides=[2, 2]))
    n.append(helper.make_node("AveragePool", ["s0"], ["ap"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]))
    n.append(helper.make_node("Sigmoid", ["mp"], ["sg"]))
    n.append(helper.make_node("Tanh", ["ap"], ["th"]))
    n.append(helper.make_node("HardSigmoid", ["ap"], ["hs"], alpha=0.2, beta=0.5))
    n.append(helper.make_node("Concat", ["sg", "th", "hs"], ["cat"], axis=1))
    # head: 1x1 conv, GlobalAveragePool, Flatten, Gemm, Identity/Dropout, MatMul+Add, Softmax
    n.append(helper.make_node("Conv", ["cat", const("w4", _w(16, 24, 1, 1))], ["c4"]))
    n.append(helper.make_node("GlobalAveragePool", ["c4"], ["gap"]))
    n.append(helper.make_node("Flatten", ["gap"], ["fl"]))
    n.append(helper.make_node("Gemm", ["fl", const("wg", _w(12, 16)), const("bg", _w(12))], ["g0"], transB=1))
    n.append(helper.make_node("Identity", ["g0"], ["id0"]))
    n.append(helper.make_node("Dropout", ["id0"], ["do0"]))
    n.append(helper.make_node("Relu", ["do0"], ["gr"]))
    n.append(helper.make_node("MatMul", ["gr", const("wm", _w(12, 10))], ["mm"]))
    n.append(helper.make_node("Add", ["mm", const("bm", _w(10))], ["lg"]))
    n.append(helper.make_node("Unsqueeze", ["lg", const("ax", np.array([1], np.int64))], ["us"]))
    n.append(helper.make_node("Squeeze", ["us", const("ax2", np.array([1], np.int64))], ["sq"]))
    n.append(helper.make_node("Reshape", ["sq", const("shp", np.array([1, 10], np.int64))], ["rs"]))
    n.append(helper.make_node("Softmax", ["rs"], ["y"], axis=-1))
    graph = helper.make_graph(
        n,
        "zoo",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 12, 12])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


@pytest.mark.parametrize("target", ["host", "cortex-m7"])
def test_op_zoo_bit_exact(tmp_path: Path, target: str) -> None:
    model = _zoo_model(tmp_path / "zoo.onnx")
    x = RNG.uniform(-1, 1, size=(64, 1, 3, 12, 12)).astype(np.float32)
    np.savez(tmp_path / "calib.npz", x=x[:48])
    np.savez(tmp_path / "eval.npz", x=x[48:])
    out = tmp_path / "out"
    report = compile_model(
        model, out, CompileOptions(calib=tmp_path / "calib.npz", name="zoo", target=target, progress=False)
    )
    ops = {layer["op"] for layer in report["layers"]}
    # every quantized op family is present (elementwise functions became tables)
    assert {
        "conv2d",
        "depthwise_conv2d",
        "add",
        "mul",
        "max_pool2d",
        "avg_pool2d",
        "lut",
        "concat",
        "fully_connected",
        "softmax",
    } <= ops, ops
    result = verify(out, data=tmp_path / "eval.npz")
    assert result.bit_exact == result.samples == 16, result.mismatched_samples
    check_model_sanitized(out, tmp_path)  # ASan + UBSan, guarded inputs, outputs and arena
    # int8 follows float closely on this well-conditioned random net
    assert result.outputs[0].sqnr_db > 25.0, result.outputs[0]

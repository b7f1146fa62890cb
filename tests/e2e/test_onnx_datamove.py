"""The data-movement and reduction ONNX ops end to end (issue 12): ReduceMean/ReduceSum/
ReduceMax over any axes with keepdims both ways, Transpose in every permutation, Gather
with constant indices on any axis, Resize (nearest in every coordinate/nearest mode,
linear in the modes TFLite has), DepthToSpace (DCR, CRD), SpaceToDepth and ConvTranspose.

Each small model goes through import, calibration, quantization, C generation and a host
build; the C must equal the numpy reference bit for bit, and the int8 model must follow
onnxruntime's float outputs closely (SQNR)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from qcompile.compiler import CompileOptions, compile_model
from qcompile.errors import UnsupportedModelError
from qcompile.frontends.onnx_import import load_onnx
from qcompile.tools.verify import verify

RNG = np.random.default_rng(12)


@pytest.fixture(autouse=True)
def _fresh_rng() -> None:
    """Each test draws the same weights and data whichever tests ran before it."""
    global RNG
    RNG = np.random.default_rng(12)


def _model(path: Path, nodes, x_shape, y_shape, inits=(), opset: int = 17, y_type=TensorProto.FLOAT) -> Path:
    graph = helper.make_graph(
        nodes,
        "m",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_shape))],
        [helper.make_tensor_value_info("y", y_type, list(y_shape) if y_shape is not None else None)],
        list(inits),
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    if y_shape is None:  # the output's shape from ONNX's own shape inference
        model = onnx.shape_inference.infer_shapes(model)
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def _const(name: str, value) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(value), name)


def _compile_verify(tmp_path: Path, model: Path, x_shape, *, target: str = "host", min_sqnr: float = 22.0):
    """Bit-exact C, and SQNR against onnxruntime above ``min_sqnr``: the int8 conv output
    feeding the op under test is itself at 23-32 dB (8 bits over a random conv's range),
    which a data-movement op keeps; a wrong index or layout drops it to a few dB."""
    x = RNG.uniform(-1, 1, size=(40, *x_shape)).astype(np.float32)
    np.savez(tmp_path / "calib.npz", x=x[:32])
    np.savez(tmp_path / "eval.npz", x=x[32:])
    out = tmp_path / "out"
    report = compile_model(model, out, CompileOptions(calib=tmp_path / "calib.npz", target=target, progress=False))
    result = verify(out, data=tmp_path / "eval.npz")
    assert result.bit_exact == result.samples == 8, result.mismatched_samples
    assert result.outputs[0].sqnr_db > min_sqnr, result.outputs[0]
    return report, out


def _conv_in(nodes, inits, c_out: int = 4, c_in: int = 3) -> None:
    """x -> Conv (so the reduction's input is a real NHWC activation) -> 'h'."""
    inits.append(_const("w0", (RNG.standard_normal((c_out, c_in, 3, 3)) * 0.3).astype(np.float32)))
    nodes.append(helper.make_node("Conv", ["x", "w0"], ["h"], pads=[1, 1, 1, 1]))


REDUCE_CASES = [
    ("ReduceMean", [2, 3], 1),  # global average pool
    ("ReduceMean", [2, 3], 0),
    ("ReduceMean", [1], 1),  # over channels
    ("ReduceMean", [1, 3], 0),
    ("ReduceSum", [3], 1),
    ("ReduceSum", [1, 2, 3], 0),
    ("ReduceMax", [1], 0),
    ("ReduceMax", [2], 1),
    ("ReduceMax", None, 1),  # all axes (keepdims: the batch axis stays)
    ("ReduceMax", [1, 2, 3], 0),
]


@pytest.mark.parametrize("op,axes,keep", REDUCE_CASES)
def test_reductions_bit_exact(tmp_path: Path, op: str, axes, keep: int) -> None:
    nodes, inits = [], []
    _conv_in(nodes, inits)
    ins = ["h"]
    if axes is not None:
        inits.append(_const("axes", np.array(axes, np.int64)))
        ins.append("axes")
    nodes.append(helper.make_node(op, ins, ["y"], keepdims=keep))
    model = _model(tmp_path / "m.onnx", nodes, (1, 3, 6, 5), None, inits, opset=18)
    report, _ = _compile_verify(tmp_path, model, (1, 3, 6, 5), min_sqnr=15.0)
    ops = {layer["op"] for layer in report["layers"]}
    if op == "ReduceMean" and axes == [2, 3]:
        assert ops & {"avg_pool2d", "avg_pool_fc", "mean"}  # the global average pool's kernels
    else:
        assert ({"reduce_sum"} if op != "ReduceMax" else {"reduce_max"}) <= ops, ops


def test_reduce_attribute_axes_older_opset(tmp_path: Path) -> None:
    nodes, inits = [], []
    _conv_in(nodes, inits)
    nodes.append(helper.make_node("ReduceMean", ["h"], ["y"], axes=[-1], keepdims=0))
    model = _model(tmp_path / "m.onnx", nodes, (1, 3, 4, 5), (1, 4, 4), inits, opset=13)
    _compile_verify(tmp_path, model, (1, 3, 4, 5), min_sqnr=15.0)


@pytest.mark.parametrize("perm", list(itertools.permutations(range(4))))
def test_transpose_every_rank4_perm(tmp_path: Path, perm) -> None:
    """Transpose of an activation in every permutation, into an op that needs row-major
    order (Reshape + MatMul), so the layout change is materialised."""
    nodes, inits = [], []
    _conv_in(nodes, inits, c_out=3)
    nodes.append(helper.make_node("Transpose", ["h"], ["t"], perm=list(perm)))
    inits.append(_const("flat", np.array([1, 60], np.int64)))
    nodes.append(helper.make_node("Reshape", ["t", "flat"], ["f"]))
    inits.append(_const("wm", (RNG.standard_normal((60, 5)) * 0.2).astype(np.float32)))
    nodes.append(helper.make_node("MatMul", ["f", "wm"], ["y"]))
    model = _model(tmp_path / "m.onnx", nodes, (1, 3, 4, 5), (1, 5), inits)
    # a wrong layout would be uncorrelated noise (about 0 dB); 60-tap FCs of random
    # weights on random data land at 18-30 dB
    _compile_verify(tmp_path, model, (1, 3, 4, 5), min_sqnr=12.0)


@pytest.mark.parametrize("perm", [(0, 2, 1), (0, 4, 3, 1, 2), (0, 1, 2, 4, 3), (0, 3, 1, 4, 2)])
def test_transpose_rank3_and_rank5(tmp_path: Path, perm) -> None:
    """(The batch axis stays first: verify compares outputs sample by sample.)"""
    rank = len(perm)
    shape = (1, 3, 4, 5) if rank == 3 else (1, 3, 2, 3, 4)
    nodes, inits = [], []
    inits.append(_const("s", np.array([1, 3, 20] if rank == 3 else list(shape), np.int64)))
    nodes.append(helper.make_node("Reshape", ["x", "s"], ["r"]))
    nodes.append(helper.make_node("Relu", ["r"], ["a"]))
    nodes.append(helper.make_node("Transpose", ["a"], ["y"], perm=list(perm)))
    rs = (1, 3, 20) if rank == 3 else shape
    model = _model(tmp_path / "m.onnx", nodes, shape if rank == 5 else (1, 3, 4, 5), [rs[p] for p in perm], inits)
    _compile_verify(tmp_path, model, shape if rank == 5 else (1, 3, 4, 5))


@pytest.mark.parametrize(
    "axis,indices",
    [(1, [2, 0, 3]), (2, [0, -1]), (3, [4, 4, 1]), (1, 2), (-1, [[0, 1], [3, 2]]), (0, [0])],
)
def test_gather_constant_indices(tmp_path: Path, axis: int, indices) -> None:
    nodes, inits = [], []
    _conv_in(nodes, inits)
    idx = np.array(indices, np.int64)
    inits.append(_const("idx", idx))
    nodes.append(helper.make_node("Gather", ["h", "idx"], ["y"], axis=axis))
    model = _model(tmp_path / "m.onnx", nodes, (1, 3, 4, 5), None, inits)
    report, _ = _compile_verify(tmp_path, model, (1, 3, 4, 5))
    assert "gather" in {layer["op"] for layer in report["layers"]}


def test_gather_with_activation_indices_names_what_is_needed(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("Constant", [], ["data"], value=_const("d", np.ones((4, 3), np.float32))),
        helper.make_node("Cast", ["x"], ["xi"], to=TensorProto.INT64),
        helper.make_node("Gather", ["data", "xi"], ["y"], axis=0),
    ]
    model = _model(tmp_path / "m.onnx", nodes, (2,), (2, 3))
    with pytest.raises(UnsupportedModelError, match="constant indices required"):
        load_onnx(model)


NEAREST = [
    ("asymmetric", "floor"),
    ("half_pixel", "round_prefer_floor"),
    ("align_corners", "round_prefer_ceil"),
    ("pytorch_half_pixel", "ceil"),
    ("tf_half_pixel_for_nn", "round_prefer_ceil"),
]


@pytest.mark.parametrize("coord,nearest", NEAREST)
@pytest.mark.parametrize("size", [(8, 10), (7, 3)])
def test_resize_nearest(tmp_path: Path, coord: str, nearest: str, size) -> None:
    nodes, inits = [], []
    _conv_in(nodes, inits)
    inits.append(_const("sizes", np.array([1, 4, *size], np.int64)))
    nodes.append(
        helper.make_node(
            "Resize", ["h", "", "", "sizes"], ["y"], mode="nearest", coordinate_transformation_mode=coord,
            nearest_mode=nearest,
        )
    )  # fmt: skip
    model = _model(tmp_path / "m.onnx", nodes, (1, 3, 4, 5), (1, 4, *size), inits)
    report, _ = _compile_verify(tmp_path, model, (1, 3, 4, 5))
    assert "resize_nearest" in {layer["op"] for layer in report["layers"]}


@pytest.mark.parametrize("coord", ["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric"])
def test_resize_linear(tmp_path: Path, coord: str) -> None:
    nodes, inits = [], []
    _conv_in(nodes, inits)
    inits.append(_const("scales", np.array([1, 1, 2, 2], np.float32)))
    nodes.append(
        helper.make_node("Resize", ["h", "", "scales"], ["y"], mode="linear", coordinate_transformation_mode=coord)
    )
    model = _model(tmp_path / "m.onnx", nodes, (1, 3, 4, 5), (1, 4, 8, 10), inits)
    report, _ = _compile_verify(tmp_path, model, (1, 3, 4, 5), min_sqnr=22.0)
    assert "resize_bilinear" in {layer["op"] for layer in report["layers"]}


@pytest.mark.parametrize(
    "attrs,match",
    [
        (dict(mode="cubic"), "mode 'cubic'"),
        (dict(mode="linear", coordinate_transformation_mode="tf_crop_and_resize"), "no TFLite RESIZE_BILINEAR"),
        (dict(mode="linear", antialias=1), "antialias"),
    ],
)
def test_resize_unsupported_modes_are_named(tmp_path: Path, attrs, match: str) -> None:
    inits = [_const("scales", np.array([1, 1, 2, 2], np.float32))]
    nodes = [helper.make_node("Resize", ["x", "", "scales"], ["y"], **attrs)]
    model = _model(tmp_path / "m.onnx", nodes, (1, 3, 4, 5), (1, 3, 8, 10), inits, opset=18)
    with pytest.raises(UnsupportedModelError, match=match):
        load_onnx(model)


@pytest.mark.parametrize("op,mode", [("DepthToSpace", "DCR"), ("DepthToSpace", "CRD"), ("SpaceToDepth", None)])
def test_depth_space(tmp_path: Path, op: str, mode) -> None:
    nodes, inits = [], []
    _conv_in(nodes, inits, c_out=8)
    attrs = dict(blocksize=2) | ({"mode": mode} if mode else {})
    nodes.append(helper.make_node(op, ["h"], ["y"], **attrs))
    out_shape = (1, 2, 8, 12) if op == "DepthToSpace" else (1, 32, 2, 3)
    model = _model(tmp_path / "m.onnx", nodes, (1, 3, 4, 6), out_shape, inits)
    _compile_verify(tmp_path, model, (1, 3, 4, 6))


@pytest.mark.parametrize(
    "kernel,strides,pads,out_pad",
    [
        ((2, 2), (2, 2), (0, 0, 0, 0), (0, 0)),
        ((3, 3), (2, 2), (1, 1, 1, 1), (1, 1)),
        ((3, 2), (1, 2), (0, 1, 2, 0), (0, 1)),
    ],
)
def test_conv_transpose(tmp_path: Path, kernel, strides, pads, out_pad) -> None:
    w = (RNG.standard_normal((3, 5, *kernel)) * 0.3).astype(np.float32)
    b = (RNG.standard_normal(5) * 0.1).astype(np.float32)
    inits = [_const("w", w), _const("b", b)]
    node = helper.make_node(
        "ConvTranspose", ["x", "w", "b"], ["y"], kernel_shape=list(kernel), strides=list(strides), pads=list(pads),
        output_padding=list(out_pad),
    )  # fmt: skip
    oh = (4 - 1) * strides[0] + kernel[0] - pads[0] - pads[2] + out_pad[0]
    ow = (5 - 1) * strides[1] + kernel[1] - pads[1] - pads[3] + out_pad[1]
    model = _model(tmp_path / "m.onnx", [node], (1, 3, 4, 5), (1, 5, oh, ow), inits)
    report, _ = _compile_verify(tmp_path, model, (1, 3, 4, 5))
    assert "transpose_conv2d" in {layer["op"] for layer in report["layers"]}

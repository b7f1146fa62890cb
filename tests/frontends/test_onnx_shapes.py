"""--input-shape and shape-subgraph folding (frontends/onnx_shapes.py): dynamic inputs fixed
by the flag, exporters' Shape/Gather/Cast/Concat/Range/ConstantOfShape chains folded, and the
float IR then equal to onnxruntime on the dynamic source model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from qcompile.errors import QCompileError
from qcompile.frontends.onnx_import import load_onnx
from qcompile.frontends.onnx_shapes import parse_input_shapes
from qcompile.reference.executor import run_float

RNG = np.random.default_rng(7)


def _i64(name: str, values) -> onnx.TensorProto:
    return onnx.numpy_helper.from_array(np.asarray(values, dtype=np.int64), name)


def _flatten_by_shape_model() -> onnx.ModelProto:
    """paddle2onnx-style: conv, then Reshape to [N, C*H*W] computed from Shape at run time,
    with a Range/ConstantOfShape detour and arithmetic on the shape vector."""
    w = RNG.normal(size=(4, 3, 3, 3)).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("Shape", ["r"], ["s"]),
        helper.make_node("Gather", ["s", "i0"], ["n"], axis=0),
        helper.make_node("Slice", ["s", "one", "four"], ["chw"]),
        helper.make_node("ReduceProd", ["chw"], ["prod"], keepdims=1),
        helper.make_node("Cast", ["prod"], ["prodf"], to=TensorProto.FLOAT),
        helper.make_node("Cast", ["prodf"], ["prodi"], to=TensorProto.INT64),
        helper.make_node("Unsqueeze", ["n", "zero"], ["n1"]),
        helper.make_node("Range", ["i0s", "two", "ones"], ["rng"]),
        helper.make_node(
            "ConstantOfShape", ["rngs"], ["fill"], value=helper.make_tensor("v", TensorProto.INT64, [1], [0])
        ),
        helper.make_node("Shape", ["rng"], ["rngs"]),
        helper.make_node("Add", ["prodi", "fill0"], ["prodi2"]),
        helper.make_node("ReduceSum", ["fill"], ["fill0"], keepdims=1),
        helper.make_node("Concat", ["n1", "prodi2"], ["target"], axis=0),
        helper.make_node("Reshape", ["r", "target"], ["y"]),
    ]
    # topological order: rngs before fill, fill0 before prodi2
    order = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 10, 13, 12, 14, 15]
    graph = helper.make_graph(
        [nodes[i] for i in order],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", "K"])],
        [
            onnx.numpy_helper.from_array(w, "w"),
            _i64("i0", 0),
            _i64("i0s", 0),
            _i64("zero", [0]),
            _i64("one", [1]),
            _i64("four", [4]),
            _i64("two", 2),
            _i64("ones", 1),
        ],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)


def test_parse_input_shapes() -> None:
    assert parse_input_shapes(["x=1,3,48,192", "a=b=2"]) == {"x": (1, 3, 48, 192), "a=b": (2,)}
    for bad in ("x", "x=", "=1,2", "x=1,a"):
        with pytest.raises(QCompileError, match="NAME=D0"):
            parse_input_shapes([bad])


def test_dynamic_input_needs_the_flag(tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    onnx.save(_flatten_by_shape_model(), path)
    with pytest.raises(QCompileError) as err:
        load_onnx(path)
    msg = str(err.value)
    assert "'x'" in msg and "--input-shape x=" in msg and "'H' at axis 2" in msg and "'W' at axis 3" in msg
    assert msg.count("\n") == 0


def test_shape_subgraph_folded(tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    onnx.save(_flatten_by_shape_model(), path)
    graph = load_onnx(path, input_shapes={"x": (1, 3, 6, 10)})
    ops = [n.op for n in graph.nodes]
    assert ops.count("conv2d") == 1 and set(ops) <= {"conv2d", "reshape", "transpose"}
    x = RNG.normal(size=(1, 3, 6, 10)).astype(np.float32)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    ref = sess.run(None, {"x": x})[0]
    got = run_float(graph, {graph.inputs[0]: x.transpose(0, 2, 3, 1)})[graph.outputs[0]]
    assert got.shape == (1, 4 * 6 * 10)
    np.testing.assert_allclose(got, ref, atol=1e-4)


@pytest.mark.parametrize(
    ("shape", "match"),
    [
        ({"y": (1, 3, 6, 10)}, "not a model input"),
        ({"x": (1, 3, 6)}, "rank 3"),
        ({"x": (1, 4, 6, 10)}, "fixes it to 3"),
        ({"x": (1, 3, 0, 10)}, "at least 1"),
    ],
)
def test_bad_input_shape(tmp_path: Path, shape, match: str) -> None:
    path = tmp_path / "m.onnx"
    onnx.save(_flatten_by_shape_model(), path)
    with pytest.raises(QCompileError, match=match):
        load_onnx(path, input_shapes=shape)


def test_batch_defaults_to_one(tmp_path: Path) -> None:
    model = _flatten_by_shape_model()
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_value, dims[3].dim_value = 4, 4
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    graph = load_onnx(path)
    assert graph.tensors[graph.inputs[0]].shape == (1, 4, 4, 3)


def test_cli_flag(tmp_path: Path) -> None:
    """``--input-shape`` on the command line: compiles; without it, exit 1 and one line naming the flag."""
    from cli_runner import run_cli

    path = tmp_path / "m.onnx"
    onnx.save(_flatten_by_shape_model(), path)
    np.savez(tmp_path / "c.npz", x=RNG.normal(size=(8, 1, 3, 6, 10)).astype(np.float32))
    bad = run_cli(path, "--calib", tmp_path / "c.npz", "-o", tmp_path / "o", "--no-progress")
    assert bad.returncode == 1 and "--input-shape x=" in bad.stderr + bad.stdout
    assert "Traceback" not in bad.stderr
    ok = run_cli(
        path, "--calib", tmp_path / "c.npz", "-o", tmp_path / "o", "--input-shape", "x=1,3,6,10", "--no-progress"
    )
    assert ok.returncode == 0, ok.stderr

"""quant/shared_ranges.py: an input of maximum/minimum read by nothing else is quantized on the
output's range (exact: clamping commutes with max/min), and an input of a parameter-sharing op
that other layers read, much narrower than the group, keeps its own parameters behind a
requantizing table (docs/QUANTIZATION.md, "Shared parameters")."""

from __future__ import annotations

import numpy as np
import pytest

from qcompile.ir import Graph, Node, Tensor
from qcompile.quant.quantize import quantize
from qcompile.reference.executor import run_quantized

RNG = np.random.default_rng(4)


def _graph(nodes: list[Node], inputs: list[tuple[str, tuple]], outputs: list[tuple[str, tuple]]) -> Graph:
    g = Graph("t")
    for name, shape in [*inputs, *outputs]:
        g.add_tensor(Tensor(name, shape, source_name=name))
    for node in nodes:
        for name in node.outputs:
            if name not in g.tensors:
                g.add_tensor(Tensor(name, g.tensors[node.inputs[0]].shape, source_name=name))
        g.add_node(node)
    g.inputs, g.outputs = [n for n, _ in inputs], [n for n, _ in outputs]
    return g


def _minmax_chain() -> Graph:
    """``y = min(max(relu(a), relu(b)), c)``: only y is read."""
    open_ = dict(act_range=(None, None))
    return _graph(
        [
            Node("ra", "elementwise", ["a"], ["ar"], dict(fn="scale", factor=1.0)),
            Node("mx", "maximum", ["ar", "b"], ["m"], open_),
            Node("mn", "minimum", ["m", "c"], ["y"], open_),
        ],
        [("a", (1, 64)), ("b", (1, 64)), ("c", (1, 64))],
        [("y", (1, 64))],
    )


def test_max_min_inputs_take_the_output_range_and_stay_exact() -> None:
    ranges = {
        "a": (-6.0, 9.0),
        "ar": (-6.0, 9.0),
        "b": (-1.0, 2.0),
        "c": (-0.5, 2.5),
        "m": (-1.0, 9.0),
        "y": (-1.0, 2.5),
    }
    q = quantize(_minmax_chain(), ranges)
    y = q.tensors["y"].quant
    assert q.tensors["ar"].quant == q.tensors["m"].quant == y  # one group, on min's output range
    assert y.scalar_scale() < 3.6 / 255  # [-1, 2.5] instead of the union [-6, 9]
    xa, xb, xc = (RNG.integers(-128, 128, (1, 64)).astype(np.int8) for _ in range(3))
    out = run_quantized(q, [xa, xb, xc], keep_all=True)
    da, db, dc = (q.tensors[n].quant.dequantize(v) for n, v in zip("abc", (xa, xb, xc), strict=True))
    want = np.minimum(np.maximum(da, db), dc)
    got = y.dequantize(out["y"])
    inside = (want >= y.dequantize(-128)) & (want <= y.dequantize(127))
    assert np.all(np.abs(got - want)[inside] <= y.scalar_scale() * 1.01 + 1e-9)


def test_an_input_read_elsewhere_is_not_clipped() -> None:
    g = _minmax_chain()
    g.add_tensor(Tensor("z", (1, 64), source_name="z"))
    g.add_node(Node("other", "elementwise", ["ar"], ["z"], dict(fn="scale", factor=2.0)))
    g.outputs.append("z")
    ranges = {"a": (-6.0, 9.0), "ar": (-6.0, 9.0), "b": (-1.0, 2.0), "c": (-0.5, 2.5), "m": (-1.0, 9.0)}
    q = quantize(g, ranges | {"y": (-1.0, 2.5), "z": (-12.0, 18.0)})
    assert q.tensors["ar"].quant.scalar_scale() >= 15.0 / 255 * 0.999


def _concat_graph() -> Graph:
    """``y = concat(x, w)`` with x also feeding ``z``."""
    return _graph(
        [
            Node("cat", "concat", ["x", "w"], ["y"], dict(axis=1)),
            Node("other", "elementwise", ["x"], ["z"], dict(fn="scale", factor=3.0)),
        ],
        [("x", (1, 8)), ("w", (1, 8))],
        [("y", (1, 16)), ("z", (1, 8))],
    )


def test_narrow_concat_input_read_elsewhere_keeps_its_own_parameters() -> None:
    """x spans a tenth of w."""
    g = _concat_graph()
    ranges = {"x": (-0.5, 1.0), "w": (-5.0, 10.0), "y": (-5.0, 10.0), "z": (-1.5, 3.0)}
    q = quantize(g, ranges)
    assert [n.op for n in q.nodes].count("lut") == 2  # the requantizing table and the scale
    cat = next(n for n in q.nodes if n.op == "concat")
    assert cat.inputs[0] != "x" and q.tensors[cat.inputs[0]].quant == q.tensors["y"].quant
    assert q.tensors["x"].quant.scalar_scale() < 1.6 / 255
    x = RNG.integers(-128, 128, (1, 8)).astype(np.int8)
    w = RNG.integers(-128, 128, (1, 8)).astype(np.int8)
    out = run_quantized(q, [x, w])
    got = q.tensors["y"].quant.dequantize(out["y"])[0, :8]
    assert np.all(np.abs(got - q.tensors["x"].quant.dequantize(x)[0]) <= q.tensors["y"].quant.scalar_scale() * 0.51)


def test_input_spanning_its_whole_group_shares() -> None:
    g = _concat_graph()
    q = quantize(g, {"x": (-5.0, 10.0), "w": (-4.0, 8.0), "y": (-5.0, 10.0), "z": (-15.0, 30.0)})
    assert "lut" not in [n.op for n in q.nodes if n.name != "other"]
    assert q.tensors["x"].quant == q.tensors["y"].quant


def test_comparable_concat_input_read_elsewhere_keeps_its_own_parameters() -> None:
    """x spans 0.8 of the group (a U-Net skip): its other reader keeps x's own scale, as in
    ONNX Runtime's QDQ; only the path into the concat is requantized."""
    g = _concat_graph()
    q = quantize(g, {"x": (-4.0, 8.0), "w": (-5.0, 10.0), "y": (-5.0, 10.0), "z": (-12.0, 24.0)})
    assert [n.op for n in q.nodes].count("lut") == 2
    assert q.tensors["x"].quant.scalar_scale() == pytest.approx(12.0 / 255, rel=1e-6)
    assert q.tensors["y"].quant.scalar_scale() == pytest.approx(15.0 / 255, rel=1e-6)


def test_decoupled_concat_compiles_bit_exact(tmp_path) -> None:
    """ONNX: a narrow activation read by a conv and concatenated with a ten times wider one gets
    a requantizing table; the generated C equals the reference and tracks float."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from qcompile.compiler import CompileOptions, compile_model
    from qcompile.tools.verify import verify

    w = numpy_helper.from_array(RNG.normal(0, 0.3, (4, 3, 3, 3)).astype(np.float32), "w")
    w2 = numpy_helper.from_array(RNG.normal(0, 0.3, (4, 4, 1, 1)).astype(np.float32), "w2")
    ten = numpy_helper.from_array(np.float32(10.0), "ten")
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["a"], pads=[1, 1, 1, 1]),
        helper.make_node("Mul", ["a", "ten"], ["b"]),
        helper.make_node("Conv", ["a", "w2"], ["z"]),
        helper.make_node("Concat", ["a", "b"], ["y"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "cat",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 6, 6])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("y", "z")],
        [w, w2, ten],
    )
    path = tmp_path / "cat.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8), path)
    np.savez(tmp_path / "c.npz", x=RNG.normal(size=(24, 1, 3, 6, 6)).astype(np.float32))
    report = compile_model(path, tmp_path / "out", CompileOptions(calib=tmp_path / "c.npz", progress=False))
    assert any("requantize" in layer["name"] for layer in report["layers"]), report["layers"]
    result = verify(tmp_path / "out")
    assert result.ok, result.diagnosis
    assert min(o.sqnr_db for o in result.outputs) > 25.0, result.outputs

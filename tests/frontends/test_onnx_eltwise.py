"""ONNX Max/Min/PRelu (broadcasting, constants) and the unary table functions: the float
IR computes what onnxruntime computes (``check`` from test_onnx_import), and each unary
function quantizes to a lut whose outputs are within an output step of the real values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from frontends.test_onnx_import import _init, check, make_model
from onnx import helper

from qcompile.errors import UnsupportedModelError
from qcompile.frontends.onnx_import import load_onnx
from qcompile.ir import QuantParams
from qcompile.op_params import lut_table
from qcompile.reference.float_ops import elementwise_function

RNG = np.random.default_rng(5)


@pytest.mark.parametrize("op", ["Max", "Min"])
@pytest.mark.parametrize("other", [[1, 3, 4, 5], [1, 3, 1, 1], [5], "const"])
def test_max_min_broadcast(tmp_path: Path, op: str, other) -> None:
    inits = []
    if other == "const":
        inits = [_init("b", RNG.normal(size=(3, 1, 1)).astype(np.float32))]
        inputs = [("a", [1, 3, 4, 5])]
    else:
        inputs = [("a", [1, 3, 4, 5]), ("b", other)]
    nodes = [helper.make_node("Relu", ["a"], ["r"]), helper.make_node(op, ["r", "b"], ["y"])]
    graph = check(make_model(nodes, inputs, ["y"], inits), tmp_path)
    assert {"maximum": "Max", "minimum": "Min"}[next(n.op for n in graph.nodes if n.op.endswith("imum"))] == op


def test_prelu_per_channel(tmp_path: Path) -> None:
    slope = _init("s", RNG.uniform(0, 0.5, (4, 1, 1)).astype(np.float32))
    nodes = [helper.make_node("PRelu", ["x", "s"], ["y"])]
    graph = check(make_model(nodes, [("x", [1, 4, 3, 5])], ["y"], [slope]), tmp_path)
    assert [n.op for n in graph.nodes] == ["prelu"]


def test_three_input_max_is_reported(tmp_path: Path) -> None:
    nodes = [helper.make_node("Max", ["a", "b", "c"], ["y"])]
    model = make_model(nodes, [("a", [1, 4]), ("b", [1, 4]), ("c", [1, 4])], ["y"])
    (tmp_path / "m.onnx").write_bytes(model.SerializeToString())
    with pytest.raises(UnsupportedModelError, match="Max of 3 inputs"):
        load_onnx(tmp_path / "m.onnx")


UNARY = [
    ("Sqrt", {}, "relu"),
    ("Reciprocal", {}, "shift"),
    ("Log", {}, "shift"),
    ("Exp", {}, None),
    ("Abs", {}, None),
    ("Neg", {}, None),
    ("Erf", {}, None),
    ("Softplus", {}, None),
    ("Softsign", {}, None),
    ("Elu", {"alpha": 0.7}, None),
    ("Selu", {}, None),
    ("Celu", {"alpha": 1.3}, None),
]


@pytest.mark.parametrize(("op", "attrs", "pre"), UNARY)
def test_unary_matches_onnxruntime(tmp_path: Path, op: str, attrs: dict, pre) -> None:
    nodes, src, inits = [], "x", []
    if pre == "relu":
        nodes.append(helper.make_node("Relu", ["x"], ["p"]))
        src = "p"
    elif pre == "shift":  # keep Log/Reciprocal away from 0: |x| + 0.5
        nodes += [helper.make_node("Abs", ["x"], ["ab"]), helper.make_node("Add", ["ab", "h"], ["p"])]
        inits.append(_init("h", np.float32(0.5)))
        src = "p"
    nodes.append(helper.make_node(op, [src], ["y"], **attrs))
    check(make_model(nodes, [("x", [1, 2, 3, 4])], ["y"], inits, opset=18), tmp_path)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_opset20(tmp_path: Path, approximate: str) -> None:
    nodes = [helper.make_node("Gelu", ["x"], ["y"], approximate=approximate)]
    check(make_model(nodes, [("x", [1, 8])], ["y"], opset=20), tmp_path)


def test_mish_and_pow(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("Mish", ["x"], ["m"]),
        helper.make_node("Relu", ["m"], ["r"]),
        helper.make_node("Pow", ["r", "e"], ["y"]),
    ]
    check(make_model(nodes, [("x", [1, 6])], ["y"], [_init("e", np.float32(1.5))], opset=18), tmp_path)


@pytest.mark.parametrize(
    ("fn", "params", "lo", "hi"),
    [
        ("exp", {}, -4.0, 2.0),
        ("gelu", {"approximate": "none"}, -4.0, 4.0),
        ("mish", {}, -5.0, 5.0),
        ("sqrt", {}, 0.0, 9.0),
        ("pow", {"exponent": 2.0}, -3.0, 3.0),
        ("selu", {}, -3.0, 3.0),
        ("log", {}, 0.0, 8.0),
    ],
)
def test_tables_follow_the_real_function(fn: str, params: dict, lo: float, hi: float) -> None:
    f = elementwise_function(fn, **params)
    in_q = QuantParams((hi - lo) / 255, int(round(-128 - lo / ((hi - lo) / 255))))
    x = in_q.dequantize(np.arange(-128, 128))
    y = f(x.astype(np.float64))
    finite = np.isfinite(y)
    ylo, yhi = min(float(y[finite].min()), 0.0), max(float(y[finite].max()), 0.0)
    out_q = QuantParams((yhi - ylo) / 255, int(round(-128 - ylo / ((yhi - ylo) / 255))))
    table = lut_table(f, in_q, out_q)
    got = out_q.dequantize(table)
    assert np.all(np.abs(got[finite] - y[finite]) <= out_q.scalar_scale() * 0.5 + 1e-9)

"""ONNX Div between two activations: the float IR computes what onnxruntime computes (with
broadcasting and a constant numerator), and a model with it compiles to int8 ``div``, runs
bit-exact in C and tracks float (docs/QUANTIZATION.md, "div")."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from frontends.test_onnx_import import _init, check, make_model
from onnx import helper

from qcompile.compiler import CompileOptions, compile_model
from qcompile.tools.verify import verify

RNG = np.random.default_rng(12)


def _positive_divisor(name: str, out: str) -> list:
    """``out = Sigmoid(name) + 0.5``: a divisor in (0.5, 1.5), as normalisations divide by."""
    return [
        helper.make_node("Sigmoid", [name], [f"{out}_s"]),
        helper.make_node("Add", [f"{out}_s", "half"], [out]),
    ]


@pytest.mark.parametrize("other", [[1, 3, 4, 5], [1, 3, 1, 1], [1, 1, 4, 5], [5]])
def test_div_of_activations_broadcast(tmp_path: Path, other) -> None:
    nodes = _positive_divisor("b", "d") + [helper.make_node("Div", ["a", "d"], ["y"])]
    model = make_model(nodes, [("a", [1, 3, 4, 5]), ("b", other)], ["y"], [_init("half", np.float32(0.5))])
    graph = check(model, tmp_path)
    assert "div" in [n.op for n in graph.nodes]


def test_constant_numerator(tmp_path: Path) -> None:
    nodes = _positive_divisor("b", "d") + [helper.make_node("Div", ["k", "d"], ["y"])]
    inits = [_init("half", np.float32(0.5)), _init("k", RNG.normal(size=(3, 1, 1)).astype(np.float32))]
    graph = check(make_model(nodes, [("b", [1, 3, 4, 5])], ["y"], inits), tmp_path)
    assert "div" in [n.op for n in graph.nodes]


def test_div_model_compiles_bit_exact(tmp_path: Path) -> None:
    """Conv -> Div by a per-pixel norm (broadcast over channels) -> Conv, calibrated and compiled."""
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Mul", ["c", "c"], ["sq"]),
        helper.make_node("ReduceMean", ["sq"], ["ms"], axes=[1], keepdims=1),
        helper.make_node("Add", ["ms", "one"], ["den"]),
        helper.make_node("Div", ["c", "den"], ["n"]),
        helper.make_node("Conv", ["n", "w2"], ["y"]),
    ]
    inits = [
        _init("w1", RNG.normal(0, 0.4, (6, 3, 3, 3)).astype(np.float32)),
        _init("w2", RNG.normal(0, 0.4, (4, 6, 1, 1)).astype(np.float32)),
        _init("one", np.float32(1.0)),
    ]
    path = tmp_path / "div.onnx"
    onnx.save(make_model(nodes, [("x", [1, 3, 8, 8])], ["y"], inits), path)
    np.savez(tmp_path / "calib.npz", x=RNG.normal(size=(32, 1, 3, 8, 8)).astype(np.float32))
    np.savez(tmp_path / "test.npz", x=RNG.normal(size=(16, 1, 3, 8, 8)).astype(np.float32))
    report = compile_model(path, tmp_path / "out", CompileOptions(calib=tmp_path / "calib.npz", progress=False))
    assert "div" in {layer["op"] for layer in report["layers"]}
    result = verify(tmp_path / "out", data=tmp_path / "test.npz")
    assert result.ok, result.diagnosis
    assert result.outputs[0].sqnr_db > 20.0, result.outputs

"""Quantizer parameter choices (docs/QUANTIZATION.md, 'Choosing parameters')."""

from __future__ import annotations

import numpy as np
import pytest

from qcompile.errors import QCompileError
from qcompile.ir import Graph, Node, Tensor
from qcompile.op_params import channel_multipliers
from qcompile.quant.quantize import (
    SOFTMAX_OUTPUT,
    activation_params,
    assign_activation_params,
    quantize_bias,
    quantize_weights,
    weight_params,
)


def test_activation_params_cover_range_and_zero() -> None:
    q = activation_params(-1.0, 3.0)
    assert q.scalar_scale() == pytest.approx(4.0 / 255.0, rel=1e-7)
    assert np.float32(q.scalar_scale()) == q.scalar_scale()  # float32 scales, like TFLite
    # real 0 is exactly representable
    assert q.dequantize(np.int8(q.scalar_zero_point())) == 0.0
    assert q.quantize(np.array([-1.0, 3.0])).tolist() == [-128, 127]
    # ranges not containing 0 are widened to contain it
    relu = activation_params(0.5, 6.0)
    assert relu.scalar_zero_point() == -128
    assert activation_params(-4.0, -1.0).scalar_zero_point() == 127
    # degenerate range still gives a usable scale
    assert activation_params(0.0, 0.0).scalar_scale() > 0
    with pytest.raises(QCompileError):
        activation_params(float("nan"), 1.0)


def test_weights_symmetric_per_channel() -> None:
    w = np.array([[[[1.0, -0.5]]], [[[0.0, 0.0]]], [[[-2.0, 0.25]]]], dtype=np.float32)  # OHWI, 3 channels
    q = weight_params(w, axis=0)
    assert q.axis == 0 and np.all(q.zero_point == 0)
    np.testing.assert_allclose(q.scale, np.float32([1 / 127, 1.0, 2 / 127]), rtol=1e-7)
    wi = quantize_weights(w, q)
    assert wi.dtype == np.int8
    assert wi[0, 0, 0].tolist() == [127, -64]  # -63.5 rounds away from zero
    assert wi[1].max() == 0 and wi[2, 0, 0, 0] == -127
    assert wi.min() >= -127


def test_bias_and_multipliers() -> None:
    b = quantize_bias(np.array([0.5, -0.5, 1e12]), 0.5, np.array([0.25, 0.25, 0.25]))
    assert b.tolist() == [4, -4, np.iinfo(np.int32).max]
    mult, shift = channel_multipliers(0.5, np.array([0.5, 1.0]), 1.0)
    assert mult.tolist() == [1 << 30, 1 << 30] and shift.tolist() == [-1, 0]


def _chain_graph() -> Graph:
    g = Graph("g")
    for name in ("x", "a", "p", "r", "c", "s"):
        g.add_tensor(Tensor(name, (1, 2, 2, 4)))
    g.add_tensor(Tensor("k", (1, 2, 2, 4), data=np.zeros((1, 2, 2, 4), np.float32)))
    g.inputs = ["x"]
    g.add_node(Node("n0", "elementwise", ["x"], ["a"], {"fn": "relu"}))
    g.add_node(Node("n1", "max_pool2d", ["a"], ["p"], {}))
    g.add_node(Node("n2", "reshape", ["p"], ["r"], {"shape": (1, 2, 2, 4)}))
    g.add_node(Node("n3", "concat", ["r", "x", "k"], ["c"], {"axis": 3}))
    g.add_node(Node("n4", "softmax", ["c"], ["s"], {}))
    g.outputs = ["s"]
    return g


def test_sharing_constraints() -> None:
    g = _chain_graph()
    ranges = {"x": (-1.0, 1.0), "a": (0.0, 1.0), "p": (0.0, 0.5), "r": (0.0, 0.5), "c": (-3.0, 2.0), "s": (0, 1)}
    params = assign_activation_params(g, ranges)
    # pool, reshape and concat (with its inputs, here also x) share one set; the range is the union
    shared = {params[n].scalar_scale() for n in ("a", "p", "r", "c", "x")}
    assert len(shared) == 1
    assert params["c"].scalar_scale() == activation_params(-3.0, 2.0).scalar_scale()
    assert params["s"] is SOFTMAX_OUTPUT


def test_missing_range_is_an_error() -> None:
    g = _chain_graph()
    with pytest.raises(QCompileError, match="no calibration range"):
        assign_activation_params(g, {"s": (0.0, 1.0)})

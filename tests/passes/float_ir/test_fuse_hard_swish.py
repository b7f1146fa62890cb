"""fuse_hard_swish: the three spelled-out hard-swish forms become one ``hard_swish`` node with
the same float result; a shared intermediate or another constant blocks the rewrite."""

from __future__ import annotations

import numpy as np
import pytest

from qcompile.ir import Graph, Node, Tensor
from qcompile.passes import optimize
from qcompile.reference.executor import run_float

RNG = np.random.default_rng(11)
SHAPE = (1, 4, 4, 3)


def _act(g: Graph, name: str) -> str:
    g.add_tensor(Tensor(name, SHAPE, source_name=name))
    return name


def _graph(form: str, three: float = 3.0) -> Graph:
    g = Graph("t")
    g.inputs = [_act(g, "x")]
    c3 = g.add_constant("c3", np.float32(three).reshape(1)).name
    if form == "hsig":
        g.add_node(Node("h", "elementwise", ["x"], [_act(g, "h")], {"fn": "hard_sigmoid", "alpha": 1 / 6, "beta": 0.5}))
        g.add_node(Node("m", "mul", ["x", "h"], [_act(g, "y")], {"act_range": (None, None)}))
    else:
        g.add_node(Node("a", "add", ["x", c3], [_act(g, "a")], {"act_range": (None, None)}))
        g.add_node(Node("c", "elementwise", ["a"], [_act(g, "r")], {"fn": "clip", "min": 0.0, "max": 6.0}))
        if form == "div_last":
            g.add_node(Node("m", "mul", ["x", "r"], [_act(g, "m")], {"act_range": (None, None)}))
            g.add_node(
                Node("d", "elementwise", ["m"], [_act(g, "y")], {"fn": "scale", "factor": float(np.float32(1 / 6))})
            )
        else:
            g.add_node(
                Node("d", "elementwise", ["r"], [_act(g, "h")], {"fn": "scale", "factor": float(np.float32(1 / 6))})
            )
            g.add_node(Node("m", "mul", ["h", "x"], [_act(g, "y")], {"act_range": (None, None)}))
    g.outputs = ["y"]
    return g


@pytest.mark.parametrize("form", ["div_last", "gate", "hsig"])
def test_forms_fuse(form: str) -> None:
    g = _graph(form)
    before = g.copy()
    after = optimize(g)
    assert [(n.op, n.attrs.get("fn")) for n in after.nodes] == [("elementwise", "hard_swish")]
    assert after.nodes[0].inputs == ["x"] and after.nodes[0].outputs == ["y"]
    x = RNG.normal(scale=4, size=SHAPE).astype(np.float32)
    np.testing.assert_allclose(run_float(after, {"x": x})["y"], run_float(before, {"x": x})["y"], atol=1e-5)


def test_other_constant_or_shared_intermediate_blocks() -> None:
    assert "mul" in [n.op for n in optimize(_graph("div_last", three=2.0)).nodes]
    g = _graph("div_last")
    g.outputs = ["y", "m"]
    assert "mul" in [n.op for n in optimize(g).nodes]

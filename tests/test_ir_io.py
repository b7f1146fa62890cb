"""The stored graph round-trips exactly and is byte-deterministic."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from qcompile.ir import Graph, Node, QuantParams, Tensor
from qcompile.ir_io import load_graph, save_graph


def _graph() -> Graph:
    g = Graph("m")
    g.add_tensor(
        Tensor("x", (1, 4, 4, 2), "int8", quant=QuantParams(0.1, -3), source_name="in", source_perm=(0, 2, 3, 1))
    )
    g.add_tensor(
        Tensor(
            "w",
            (3, 1, 1, 2),
            "int8",
            np.arange(6, dtype=np.int8).reshape(3, 1, 1, 2),
            QuantParams(np.array([0.1, 0.2, 0.3]), np.zeros(3), axis=0),
        )
    )
    g.add_tensor(Tensor("y", (1, 4, 4, 3), "int8", quant=QuantParams(0.5, 7)))
    g.add_node(
        Node(
            "conv",
            "conv2d",
            ["x", "w", ""],
            ["y"],
            {
                "strides": (1, 1),
                "pads": (0, 0, 0, 0),
                "multiplier": np.array([1, 2, 3], np.int32),
                "nested": {"a": [1, (2, 3)]},
                "flag": True,
                "f": 0.25,
            },
        )
    )
    g.inputs, g.outputs = ["x"], ["y"]
    return g


def test_roundtrip_and_determinism(tmp_path: Path) -> None:
    g = _graph()
    save_graph(g, tmp_path / "a.qir", meta={"k": "v"})
    save_graph(g, tmp_path / "b.qir", meta={"k": "v"})
    assert (tmp_path / "a.qir").read_bytes() == (tmp_path / "b.qir").read_bytes()
    h, meta = load_graph(tmp_path / "a.qir")
    assert meta == {"k": "v"}
    assert h.inputs == ["x"] and h.outputs == ["y"]
    assert h.tensors["x"].source_perm == (0, 2, 3, 1)
    np.testing.assert_array_equal(h.tensors["w"].data, g.tensors["w"].data)
    assert h.tensors["w"].quant.axis == 0
    attrs = h.nodes[0].attrs
    assert attrs["strides"] == (1, 1) and attrs["nested"] == {"a": [1, (2, 3)]} and attrs["f"] == 0.25
    assert attrs["multiplier"].dtype == np.int32

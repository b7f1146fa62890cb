"""``qcompile inspect`` rows: shapes, params, MACs, and unsupported ops reported, not raised."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from qcompile.tools.inspect import describe, totals


def test_describe_counts_and_unsupported(tmp_path: Path) -> None:
    w = np.ones((4, 3, 3, 3), np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Hardmax", ["c"], ["y"], name="hardmax"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [onnx.numpy_helper.from_array(w, "w"), onnx.numpy_helper.from_array(np.zeros(4, np.float32), "b")],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), tmp_path / "m.onnx")
    rows = describe(tmp_path / "m.onnx")
    assert [r["name"] for r in rows] == ["conv", "hardmax"]
    conv, hardmax = rows
    assert conv["output_shapes"] == [(1, 4, 8, 8)] and conv["params"] == 4 * 27 + 4
    assert conv["macs"] == 4 * 8 * 8 * 27 and conv["supported"]
    assert not hardmax["supported"] and "not supported" in hardmax["reason"]
    assert totals(rows) == {"nodes": 2, "params": 112, "macs": 6912, "unsupported": 1}


def test_describe_resnet8(resnet8_onnx: Path) -> None:
    rows = describe(resnet8_onnx)
    t = totals(rows)
    assert t["unsupported"] == 0 and 70_000 < t["params"] < 90_000

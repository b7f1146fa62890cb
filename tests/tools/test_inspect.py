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


def test_reasons_say_what_would_make_it_compile(tmp_path) -> None:
    """Dynamic dimensions name the --input-shape option; Gather wants constant indices;
    ReduceMin gets its rewrite; an old opset says which to re-export at."""
    examples = Path(__file__).resolve().parents[2] / "examples" / "realworld"
    rows = describe(examples / "mbv3_se.onnx")
    conv = next(r for r in rows if r["op_type"] == "Conv")
    assert "--input-shape input=1,3,height,width" in conv["reason"]
    nodes = [
        helper.make_node("Cast", ["x"], ["xi"], to=TensorProto.INT64),
        helper.make_node("Gather", ["d", "xi"], ["y"], axis=0),
        helper.make_node("ReduceMin", ["d"], ["z"]),
    ]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])]
    inputs.append(helper.make_tensor_value_info("d", TensorProto.FLOAT, [4, 3]))
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])]
    outputs.append(helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 1]))
    model = helper.make_model(
        helper.make_graph(nodes, "g", inputs, outputs), opset_imports=[helper.make_opsetid("", 17)]
    )
    onnx.save(model, tmp_path / "m.onnx")
    reasons = {r["op_type"]: r["reason"] for r in describe(tmp_path / "m.onnx")}
    assert "constant indices required" in reasons["Gather"]
    assert "Neg, ReduceMax and Neg" in reasons["ReduceMin"]
    model.opset_import[0].version = 9
    onnx.save(model, tmp_path / "old.onnx")
    assert "re-export at opset >= 11" in describe(tmp_path / "old.onnx")[0]["reason"]


def test_recurrent_macs_count_every_step_and_direction() -> None:
    """The bidirectional keyword LSTM: 49 steps x 2 directions x 128 gate rows x (10 + 32)."""
    model = Path(__file__).resolve().parents[1] / "data" / "lstm" / "lstm_kws_bi.onnx"
    lstm = next(r for r in describe(model) if r["op_type"] == "LSTM")
    assert lstm["macs"] == 49 * 2 * 128 * (10 + 32) and lstm["supported"]

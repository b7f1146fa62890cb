"""ONNX LSTM import: one float ``lstm`` node per direction in TFLite's gate order, and what is
refused, each with one error naming the node and the reason."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import qcompile
from qcompile.errors import UnsupportedModelError
from qcompile.frontends.onnx_import import load_onnx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))

from test_lstm_models import HIDDEN, make_lstm  # noqa: E402

REFUSED = [
    (dict(extra_inputs={7: "P"}), "peephole"),
    (dict(clip=3.0), "clip"),
    (dict(input_forget=1), "input_forget"),
    (dict(activations=["HardSigmoid", "Tanh", "Tanh"]), "hardsigmoid"),
    (dict(extra_inputs={4: "seq"}), "sequence_lens"),
]


@pytest.mark.parametrize(("attrs", "word"), REFUSED, ids=[w for _, w in REFUSED])
def test_unsupported_lstm_is_refused_naming_the_node(tmp_path: Path, attrs: dict, word: str) -> None:
    data = make_lstm(tmp_path / "l.onnx", direction="forward", **attrs)
    model = onnx.load(str(tmp_path / "l.onnx"))
    if "P" in str(attrs):
        model.graph.initializer.append(numpy_helper.from_array(np.zeros((1, 3 * HIDDEN), np.float32), "P"))
    if "seq" in str(attrs):
        model.graph.input.append(helper.make_tensor_value_info("seq", TensorProto.INT32, [1]))
        data["seq"] = np.full((64, 1), 6, np.int32)
    onnx.save(model, str(tmp_path / "l.onnx"))
    np.savez(tmp_path / "calib.npz", **data)
    with pytest.raises(UnsupportedModelError, match=rf"(?i)lstm0.*{word}"):
        qcompile.compile(tmp_path / "l.onnx", tmp_path / "out", calib=tmp_path / "calib.npz")


def test_bidirectional_lstm_is_two_nodes_in_tflite_gate_order(tmp_path: Path) -> None:
    make_lstm(tmp_path / "l.onnx", direction="bidirectional", states="input")
    graph = load_onnx(str(tmp_path / "l.onnx"))
    lstms = [n for n in graph.nodes if n.op == "lstm"]
    assert len(lstms) == 2 and all(len(n.outputs) == 5 for n in lstms)  # y, h, c, gates, cells
    w_onnx = numpy_helper.to_array(
        next(i for i in onnx.load(str(tmp_path / "l.onnx")).graph.initializer if i.name == "W")
    )
    for d, node in enumerate(lstms):
        w = graph.tensors[node.inputs[1]].data
        for tflite_gate, onnx_gate in enumerate((0, 2, 3, 1)):  # i, f, c, o from ONNX's i, o, f, c
            np.testing.assert_array_equal(w[tflite_gate], w_onnx[d, onnx_gate * HIDDEN : (onnx_gate + 1) * HIDDEN])
    # the backward direction reads x reversed and its y is reversed back: two stride -1 slices
    reversed_slices = [n for n in graph.nodes if n.op == "strided_slice" and n.attrs["strides"][0] == -1]
    assert len(reversed_slices) == 2

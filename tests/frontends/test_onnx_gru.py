"""ONNX GRU import: what is refused, each with one error naming the node and the reason."""

from __future__ import annotations

import sys
from pathlib import Path

import onnx
import pytest

from qcompile.errors import UnsupportedModelError
from qcompile.frontends.onnx_import import load_onnx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))

from test_gru_models import make_gru  # noqa: E402


def _edit(path: Path, **attrs) -> None:
    model = onnx.load(str(path))
    node = next(n for n in model.graph.node if n.op_type == "GRU")
    for key, value in attrs.items():
        node.attribute.append(onnx.helper.make_attribute(key, value))
    onnx.save(model, str(path))


@pytest.mark.parametrize(
    ("attrs", "message"),
    [
        ({"clip": 3.0}, "cell clip"),
        ({"activation_alpha": [0.5]}, "activation_alpha"),
        ({"activations": ["Sigmoid", "Relu"]}, "activations"),
    ],
)
def test_unsupported_gru_forms_name_the_node(tmp_path: Path, attrs: dict, message: str) -> None:
    make_gru(tmp_path / "g.onnx", direction="forward", lbr=0, h0=False)
    _edit(tmp_path / "g.onnx", **attrs)
    with pytest.raises(UnsupportedModelError, match=rf"gru0.*{message}"):
        load_onnx(str(tmp_path / "g.onnx"))


def test_gru_import_is_one_node_and_y_h_a_slice_of_y(tmp_path: Path) -> None:
    make_gru(tmp_path / "g.onnx", direction="bidirectional", lbr=1, h0=False)
    graph = load_onnx(str(tmp_path / "g.onnx"))
    grus = [n for n in graph.nodes if n.op == "gru"]
    assert len(grus) == 1 and len(grus[0].outputs) == 5  # Y and the four calibrated internals
    assert grus[0].attrs == dict(hidden=7, directions=2, reverse=0, linear_before_reset=1)
    assert sum(n.op == "strided_slice" for n in graph.nodes) == 2

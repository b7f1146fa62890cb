"""``--stateful`` on a GRU's ``initial_h``/``Y_h`` pair (``quant/gru_state.py``): the state buffer
holds the GRU's int16 Q15 state (``qc_gru_state16_s8``), every step bit-exact with the reference;
a pair that is not the GRU's own final state keeps the generic int8 state."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import qcompile
from qcompile.tools.verify import verify

HIDDEN = 7


def _gru_cell(path: Path, direction: str) -> dict[str, np.ndarray]:
    """x [1, 1, 5] and h [D, 1, 7] -> GRU -> h_next (its Y_h), y = Y, r = Relu(Y_h); calibration data."""
    rng = np.random.default_rng(0)
    d = 2 if direction == "bidirectional" else 1
    inits = [
        numpy_helper.from_array((rng.standard_normal((d, 3 * HIDDEN, 5)) * 0.5).astype(np.float32), "W"),
        numpy_helper.from_array((rng.standard_normal((d, 3 * HIDDEN, HIDDEN)) * 0.5).astype(np.float32), "R"),
    ]
    nodes = [
        helper.make_node(
            "GRU",
            ["x", "W", "R", "", "", "h"],
            ["y", "h_next"],
            name="gru0",
            hidden_size=HIDDEN,
            direction=direction,
            linear_before_reset=1,
        ),  # fmt: skip
        helper.make_node("Relu", ["h_next"], ["r"]),
    ]
    info = helper.make_tensor_value_info
    graph = helper.make_graph(
        nodes, "cell",
        [info("x", TensorProto.FLOAT, [1, 1, 5]), info("h", TensorProto.FLOAT, [d, 1, HIDDEN])],
        [info("y", TensorProto.FLOAT, [1, d, 1, HIDDEN]), info("h_next", TensorProto.FLOAT, [d, 1, HIDDEN]),
         info("r", TensorProto.FLOAT, [d, 1, HIDDEN])],
        inits,
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return {
        "x": rng.standard_normal((64, 1, 1, 5)).astype(np.float32),
        "h": np.tanh(rng.standard_normal((64, d, 1, HIDDEN))).astype(np.float32),
    }


@pytest.mark.parametrize("direction", ["forward", "reverse"])
def test_gru_state_is_kept_in_q15(tmp_path: Path, direction: str) -> None:
    np.savez(tmp_path / "calib.npz", **_gru_cell(tmp_path / "g.onnx", direction))
    np.savez(tmp_path / "test.npz", x=np.random.default_rng(1).standard_normal((40, 1, 1, 5)).astype(np.float32))
    model = qcompile.compile(tmp_path / "g.onnx", tmp_path / "out", calib=tmp_path / "calib.npz",
                             stateful=[("h", "h_next")])  # fmt: skip
    (var,) = model.graph.state
    assert model.graph.tensors[var.input].dtype == "int16" and not var.init.any()
    assert [n.op for n in model.graph.nodes if var.input in n.inputs] == ["gru"]
    assert [i.name for i in model.inputs] == ["x"]
    result = verify(tmp_path / "out", data=tmp_path / "test.npz")
    assert result.ok and result.samples == 40, result.diagnosis
    assert min(o.sqnr_db for o in result.outputs) > 25, [(o.name, o.sqnr_db) for o in result.outputs]


def test_gru_q15_state_folder_is_sanitizer_clean(tmp_path: Path) -> None:
    """The stateful folder built with ASan + UBSan: the int16 state in and out of the state
    buffer, every step equal to the reference with the state threaded."""
    from c_driver import check_model_sanitized

    np.savez(tmp_path / "calib.npz", **_gru_cell(tmp_path / "g.onnx", "forward"))
    qcompile.compile(tmp_path / "g.onnx", tmp_path / "out", calib=tmp_path / "calib.npz", stateful=[("h", "h_next")])
    check_model_sanitized(tmp_path / "out", tmp_path, samples=6)


def test_other_state_pairs_stay_int8(tmp_path: Path) -> None:
    """``h=r`` (Relu of Y_h, not the GRU's state): the generic pair, int8 bytes fed back."""
    np.savez(tmp_path / "calib.npz", **_gru_cell(tmp_path / "g.onnx", "forward"))
    model = qcompile.compile(tmp_path / "g.onnx", tmp_path / "out", calib=tmp_path / "calib.npz",
                             stateful=[("h", "r")])  # fmt: skip
    (var,) = model.graph.state
    assert model.graph.tensors[var.input].dtype == "int8"
    assert all(len(n.outputs) == 1 for n in model.graph.nodes if n.op == "gru")
    result = verify(tmp_path / "out", limit=20)
    assert result.ok, result.diagnosis

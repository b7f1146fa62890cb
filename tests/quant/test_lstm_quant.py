"""The ONNX LSTM's quantization (quant/converters/lstm.py): h0, y and the final h share int8
parameters, c0 and the final c one int16 power-of-two scale, whatever ``--act-bits`` says."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import qcompile
from qcompile.quant.converters.lstm import cell_params
from qcompile.tools.verify import verify

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))

from test_lstm_models import make_lstm  # noqa: E402


def test_cell_state_scale_is_a_power_of_two() -> None:
    q = cell_params(-3.1, 2.0)
    assert q.dtype == "int16" and int(q.zero_point) == 0
    assert float(q.scale) == 4.0 / 32768.0  # 3.1 -> 2^2
    assert float(cell_params(0.0, 0.0).scale) == 2.0**-6 / 32768.0


@pytest.mark.parametrize("act_bits", [8, 16])
def test_state_tensors_share_parameters(tmp_path: Path, act_bits: int) -> None:
    np.savez(tmp_path / "calib.npz", **make_lstm(tmp_path / "l.onnx", direction="bidirectional", states="input"))
    compiled = qcompile.compile(tmp_path / "l.onnx", tmp_path / "out", calib=tmp_path / "calib.npz", act_bits=act_bits)
    graph = compiled.graph
    lstms = [n for n in graph.nodes if n.op == "lstm"]
    assert len(lstms) == 2
    for node in lstms:
        x, _, _, _, h0, c0 = node.inputs
        y, h, c = node.outputs
        assert graph.tensors[x].dtype == "int8"
        hidden = {(float(graph.tensors[n].quant.scale), int(graph.tensors[n].quant.zero_point)) for n in (h0, y, h)}
        assert len(hidden) == 1 and all(graph.tensors[n].dtype == "int8" for n in (h0, y, h))
        cell = {float(graph.tensors[n].quant.scale) for n in (c0, c)}
        assert len(cell) == 1 and all(graph.tensors[n].dtype == "int16" for n in (c0, c))
        assert np.log2(cell.pop() * 32768.0) == int(np.log2(float(graph.tensors[c].quant.scale) * 32768.0))
    result = verify(tmp_path / "out", limit=8)
    assert result.ok, result.diagnosis

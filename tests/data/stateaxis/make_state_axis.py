"""Writes the state-axis test models next to this script (run once; CI needs no torch).

PyTorch exports recurrent state as ``[num_layers * num_directions, batch, hidden]``: the
samples (batch) axis of these inputs is the second one, not the first. Two step models, one
frame per call, with untrained seeded weights (the tests measure bit-exactness and SQNR
against the float model, not accuracy):

- ``gru2_step.onnx``: a 2-layer ``nn.GRU`` (10 -> 16) and a linear head; inputs ``x [1, 1, 10]``,
  ``h0 [2, 1, 16]``; outputs ``logits [1, 4]``, ``hn [2, 1, 16]``;
- ``lstm2_step.onnx``: the same with a 2-layer ``nn.LSTM``; inputs ``x``, ``h0 [2, 1, 16]``,
  ``c0 [2, 1, 16]``; outputs ``logits``, ``hn``, ``cn``.

Usage: ``python3 tests/data/stateaxis/make_state_axis.py`` from the repository root.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

HERE = Path(__file__).resolve().parent
HIDDEN, LAYERS, FEATURES, CLASSES = 16, 2, 10, 4


class GruStep(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.GRU(FEATURES, HIDDEN, num_layers=LAYERS)
        self.fc = nn.Linear(HIDDEN, CLASSES)

    def forward(self, x: torch.Tensor, h0: torch.Tensor):  # x [1, 1, F], h0 [L, 1, H]
        _, hn = self.rnn(x.transpose(0, 1), h0)
        return self.fc(hn[-1]), hn


class LstmStep(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.LSTM(FEATURES, HIDDEN, num_layers=LAYERS)
        self.fc = nn.Linear(HIDDEN, CLASSES)

    def forward(self, x: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor):
        _, (hn, cn) = self.rnn(x.transpose(0, 1), (h0, c0))
        return self.fc(hn[-1]), hn, cn


def main() -> None:
    torch.manual_seed(0)
    kw = dict(opset_version=13, do_constant_folding=True, dynamo=False)
    x, state = torch.zeros(1, 1, FEATURES), torch.zeros(LAYERS, 1, HIDDEN)
    torch.onnx.export(GruStep().eval(), (x, state), HERE / "gru2_step.onnx", input_names=["x", "h0"],
                      output_names=["logits", "hn"], **kw)  # fmt: skip
    torch.onnx.export(LstmStep().eval(), (x, state, state), HERE / "lstm2_step.onnx",
                      input_names=["x", "h0", "c0"], output_names=["logits", "hn", "cn"], **kw)  # fmt: skip


if __name__ == "__main__":
    main()

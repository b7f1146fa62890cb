"""Writes the LSTM keyword-spotting test models next to this script (run once; CI needs no torch).

PyTorch ``nn.LSTM`` keyword models (10 MFCC features -> 32 hidden) with a linear classifier over
the last state, each trained for a few epochs on the first 400 of the shared 500 KWS samples
(``../shared/data/kws_mfcc_dev500.npz``, MFCC / 10), exported with torch.onnx (opset 13):

- ``lstm_kws.onnx``: one forward layer over the whole 49-frame utterance, ``x [1, 49, 10]`` ->
  ``logits [1, 12]``;
- ``lstm_kws_bi.onnx``: one bidirectional layer, the classifier over both directions' last state;
- ``lstm_kws_2l.onnx``: two stacked forward layers (two ONNX LSTM nodes);
- ``lstm_kws_step.onnx``: ``lstm_kws.onnx``'s weights, one frame per call: inputs ``x [1, 1, 10]``,
  ``h [1, 1, 32]``, ``c [1, 1, 32]``, outputs ``logits``, ``h_next``, ``c_next``
  (``--stateful h=h_next --stateful c=c_next`` keeps both states in C).

Usage: ``python3 tests/data/lstm/make_lstm_kws.py`` from the repository root.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[2].parent / "shared" / "data" / "kws_mfcc_dev500.npz"
HIDDEN = 32
EPOCHS = 12


class LstmKws(nn.Module):
    def __init__(self, *, bidirectional: bool = False, layers: int = 1) -> None:
        super().__init__()
        self.lstm = nn.LSTM(10, HIDDEN, num_layers=layers, bidirectional=bidirectional)
        self.bidirectional = bidirectional
        self.fc = nn.Linear(HIDDEN * (2 if bidirectional else 1), 12)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x [B, T, 10]
        _, (h, _) = self.lstm(x.transpose(0, 1))
        last = torch.cat([h[-2], h[-1]], dim=1) if self.bidirectional else h[-1]
        return self.fc(last)


class LstmStep(nn.Module):
    def __init__(self, full: LstmKws) -> None:
        super().__init__()
        self.lstm, self.fc = full.lstm, full.fc

    def forward(self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor):
        _, (h_next, c_next) = self.lstm(x.transpose(0, 1), (h, c))
        return self.fc(h_next[-1]), h_next, c_next


def load() -> tuple[np.ndarray, np.ndarray]:
    d = np.load(DATA)
    x = (d["x"].astype(np.float32) - float(d["in_zero_point"])) * float(d["in_scale"])
    return x / 10.0, d["y"].astype(np.int64)


def train(x: np.ndarray, y: np.ndarray, **kw) -> LstmKws:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = LstmKws(**kw)
    opt = torch.optim.Adam(model.parameters(), lr=2e-2)
    xt, yt = torch.from_numpy(x[:400]), torch.from_numpy(y[:400])
    for _ in range(EPOCHS):
        for i in range(0, 400, 50):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(xt[i : i + 50]), yt[i : i + 50])
            loss.backward()
            opt.step()
    return model.eval()


def main() -> None:
    x, y = load()
    kw = dict(opset_version=13, do_constant_folding=True, dynamo=False)
    for name, variant in (("lstm_kws", {}), ("lstm_kws_bi", {"bidirectional": True}), ("lstm_kws_2l", {"layers": 2})):
        model = train(x, y, **variant)
        with torch.no_grad():
            acc = (model(torch.from_numpy(x[400:])).argmax(1).numpy() == y[400:]).mean()
        print(f"{name}: held-out top-1 (100 samples): {acc:.2f}")
        torch.onnx.export(model, torch.zeros(1, 49, 10), HERE / f"{name}.onnx", input_names=["x"],
                          output_names=["logits"], **kw)  # fmt: skip
        if not variant:
            zeros = torch.zeros(1, 1, HIDDEN)
            torch.onnx.export(LstmStep(model), (torch.zeros(1, 1, 10), zeros, zeros), HERE / "lstm_kws_step.onnx",
                              input_names=["x", "h", "c"], output_names=["logits", "h_next", "c_next"], **kw)  # fmt: skip


if __name__ == "__main__":
    main()

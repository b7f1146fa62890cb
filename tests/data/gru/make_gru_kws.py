"""Writes the GRU keyword-spotting test models next to this script (run once; CI needs no torch).

A PyTorch ``nn.GRU`` (10 MFCC features -> 32 hidden, ONNX's ``linear_before_reset=1``) and a
linear classifier over its last state, trained for a few epochs on the first 400 of the shared
500 KWS samples (``../shared/data/kws_mfcc_dev500.npz``), exported twice with torch.onnx:

- ``gru_kws.onnx``: the whole 49-frame utterance, input ``x [1, 49, 10]`` (a Transpose to
  ``[T, B, I]`` before the GRU), output ``logits [1, 12]``;
- ``gru_kws_step.onnx``: one frame per call, inputs ``x [1, 1, 10]`` and ``h [1, 1, 32]``,
  outputs ``logits`` and ``h_next`` (``qcompile ... --stateful h=h_next`` keeps the state in C).

Usage: ``python3 tests/data/gru/make_gru_kws.py`` from the repository root.
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


class GruKws(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(10, HIDDEN)
        self.fc = nn.Linear(HIDDEN, 12)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x [B, T, 10]
        _, h = self.gru(x.transpose(0, 1))
        return self.fc(h[-1])


class GruStep(nn.Module):
    def __init__(self, full: GruKws) -> None:
        super().__init__()
        self.gru, self.fc = full.gru, full.fc

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _, h_next = self.gru(x.transpose(0, 1), h)
        return self.fc(h_next[-1]), h_next


def load() -> tuple[np.ndarray, np.ndarray]:
    d = np.load(DATA)
    x = (d["x"].astype(np.float32) - float(d["in_zero_point"])) * float(d["in_scale"])
    return x, d["y"].astype(np.int64)


def train(x: np.ndarray, y: np.ndarray) -> GruKws:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = GruKws()
    opt = torch.optim.Adam(model.parameters(), lr=2e-2)
    xt, yt = torch.from_numpy(x[:400] / 10.0), torch.from_numpy(y[:400])
    for _ in range(EPOCHS):
        for i in range(0, 400, 50):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(xt[i : i + 50]), yt[i : i + 50])
            loss.backward()
            opt.step()
    return model


def main() -> None:
    x, y = load()
    model = train(x, y).eval()
    with torch.no_grad():
        acc = (model(torch.from_numpy(x[400:] / 10.0)).argmax(1).numpy() == y[400:]).mean()
    print(f"held-out top-1 (100 samples): {acc:.2f}")
    kw = dict(opset_version=13, do_constant_folding=True, dynamo=False)
    torch.onnx.export(model, torch.zeros(1, 49, 10), HERE / "gru_kws.onnx", input_names=["x"],
                      output_names=["logits"], **kw)  # fmt: skip
    torch.onnx.export(GruStep(model), (torch.zeros(1, 1, 10), torch.zeros(1, 1, HIDDEN)), HERE / "gru_kws_step.onnx",
                      input_names=["x", "h"], output_names=["logits", "h_next"], **kw)  # fmt: skip


if __name__ == "__main__":
    main()

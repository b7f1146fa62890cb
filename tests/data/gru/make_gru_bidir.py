"""Writes the second GRU test model next to this script (run once; CI needs no torch).

A two-layer bidirectional PyTorch ``nn.GRU`` (10 MFCC features -> 32 hidden per direction,
ONNX's ``linear_before_reset=1``, the second layer reading both directions of the first) and a
linear classifier over the last layer's two final states, trained for a few epochs on the first
400 of the shared 500 KWS samples (``../shared/data/kws_mfcc_dev500.npz``). It shows the GRU
quantization generalises past ``gru_kws.onnx`` (one forward layer): a reverse direction, a GRU
fed by another GRU's int8 ``Y``, a head over a concatenation of ``Y_h`` slices. Exported with
torch.onnx as ``gru_bidir.onnx``: one utterance, input ``x [1, 49, 10]``, output ``logits [1, 12]``.

Usage: ``python3 tests/data/gru/make_gru_bidir.py`` from the repository root.
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


class GruBidir(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(10, HIDDEN, num_layers=2, bidirectional=True)
        self.fc = nn.Linear(2 * HIDDEN, 12)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x [B, T, 10]
        _, h = self.gru(x.transpose(0, 1))  # h [layers * 2, B, H]
        return self.fc(torch.cat([h[-2], h[-1]], dim=1))


def load() -> tuple[np.ndarray, np.ndarray]:
    d = np.load(DATA)
    x = (d["x"].astype(np.float32) - float(d["in_zero_point"])) * float(d["in_scale"])
    return x, d["y"].astype(np.int64)


def train(x: np.ndarray, y: np.ndarray) -> GruBidir:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = GruBidir()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
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
    kw = dict(opset_version=13, do_constant_folding=True, dynamo=False, input_names=["x"], output_names=["logits"])
    torch.onnx.export(model, torch.zeros(1, 49, 10), HERE / "gru_bidir.onnx", **kw)


if __name__ == "__main__":
    main()

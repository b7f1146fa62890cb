"""Train a small keyword transformer (KWT-style) on the shared KWS MFCCs and export it.

Writes, next to this script:
  kwt_opset17.onnx  LayerNormalization op (opset 17), GELU in its Erf form
  kwt_opset13.onnx  the same weights, LayerNorm decomposed (ReduceMean/Sub/Pow/Sqrt/Div)
  calib.npz         200 calibration inputs (`input`), float MFCC [N, 49, 10]
  test.npz          the other 300 inputs with labels `y`
Needs torch (CPU); CI uses the committed files. Run: python3 examples/kwt/make_kwt.py
The architecture follows KWT (Berg et al. 2021): one token per MFCC frame, a linear patch
embedding, learned position embeddings, pre-LN encoder blocks with multi-head
self-attention and a GELU MLP, mean pooling over tokens (written as a MatMul with a
constant 1/T column so it needs no reduction op), a linear classifier.
"""

from __future__ import annotations

import argparse
import math
import os

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "..", "shared", "data", "kws_mfcc_dev500.npz")


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        h = self.heads
        q, k, v = self.q(x), self.k(x), self.v(x)
        q = q.reshape(b, t, h, d // h).transpose(1, 2)
        k = k.reshape(b, t, h, d // h).transpose(1, 2)
        v = v.reshape(b, t, h, d // h).transpose(1, 2)
        att = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(d // h))
        att = att.softmax(dim=-1)
        y = torch.matmul(att, v).transpose(1, 2).reshape(b, t, d)
        return self.proj(y)


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, mlp: int) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(dim)
        self.att = Attention(dim, heads)
        self.ln2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp), nn.GELU(), nn.Linear(mlp, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.att(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class KWT(nn.Module):
    def __init__(self, frames=49, feats=10, dim=64, depth=2, heads=4, mlp=128, classes=12) -> None:
        super().__init__()
        self.embed = nn.Linear(feats, dim)
        self.pos = nn.Parameter(torch.randn(1, frames, dim) * 0.02)
        self.blocks = nn.Sequential(*[Block(dim, heads, mlp) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.register_buffer("pool", torch.full((frames, 1), 1.0 / frames))
        self.head = nn.Linear(dim, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.embed(x) + self.pos)
        x = self.norm(x)
        x = torch.matmul(x.transpose(1, 2), self.pool).squeeze(-1)  # mean over tokens
        return self.head(x)


def load():
    d = np.load(DATA)
    x = (d["x"].astype(np.float32) - float(d["in_zero_point"])) * float(d["in_scale"])
    return x, d["y"].astype(np.int64)


def train(model: KWT, x: np.ndarray, y: np.ndarray, steps: int, seed: int) -> None:
    torch.manual_seed(seed)
    mu, sd = x.mean(), x.std()
    xt, yt = torch.tensor((x - mu) / sd), torch.tensor(y)
    model.embed.weight.data /= sd  # the model takes raw MFCC: fold the normalisation in
    model.embed.bias.data -= (model.embed.weight.data.sum(1) * mu).detach()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.05)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps)
    raw = torch.tensor(x)
    for step in range(steps):
        idx = torch.randint(0, len(xt), (32,))
        xb = raw[idx]
        shift = int(torch.randint(-4, 5, ()))
        xb = torch.roll(xb, shift, dims=1) + 0.05 * sd * torch.randn_like(xb)
        loss = nn.functional.cross_entropy(model(xb), yt[idx], label_smoothing=0.1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 200 == 0:
            print(f"step {step} loss {loss.item():.3f}", flush=True)


def export(model: KWT, path: str, opset: int) -> None:
    dummy = torch.zeros(1, 49, 10)
    torch.onnx.export(
        model, dummy, path, input_names=["input"], output_names=["logits"], opset_version=opset, dynamo=False
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=600)
    args = ap.parse_args()
    torch.set_num_threads(1)  # deterministic and kind to a shared machine
    x, y = load()
    rng = np.random.default_rng(0)
    order = rng.permutation(len(x))
    cal, test = order[:200], order[200:]
    model = KWT()
    train(model, x[cal], y[cal], args.steps, seed=0)
    model.eval()
    with torch.no_grad():
        acc = (model(torch.tensor(x[test])).argmax(1).numpy() == y[test]).mean()
    print(f"float top-1 on the 300 held-out samples: {100 * acc:.2f} %")
    export(model, os.path.join(HERE, "kwt_opset17.onnx"), 17)
    export(model, os.path.join(HERE, "kwt_opset13.onnx"), 13)
    np.savez_compressed(os.path.join(HERE, "calib.npz"), input=x[cal])
    np.savez_compressed(os.path.join(HERE, "test.npz"), input=x[test], y=y[test])


if __name__ == "__main__":
    main()

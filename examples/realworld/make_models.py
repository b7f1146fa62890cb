"""Builds the small real-world-style test models of issue 12 (elementwise half) with PyTorch.

Run from the repository root (needs torch; the outputs are committed so CI needs neither):

    python3 examples/realworld/make_models.py

* ``mbv3_se.onnx``: a MobileNetV3-style classifier (hard-swish stem, inverted residual
  blocks with depthwise convs and squeeze-excite: global pool, 1x1 convs, hard-sigmoid and
  a Mul broadcasting ``[N,C,1,1]`` over ``[N,C,H,W]``, one block with the decomposed
  hard-swish ``x * relu6(x + 3) / 6``), exported with ``dynamic_axes`` so the batch, height
  and width are symbolic and the flatten is a ``Shape -> Gather -> Concat -> Reshape``
  chain. Compile with ``--input-shape input=1,3,48,48``.
* ``keras_cnn.onnx``: a Keras-style audio CNN (LeakyRelu activations, an elementwise
  ``Max`` of two branches, a ``Min`` clamp against another activation, PReLU and a
  standalone BatchNormalization after a pool).

Weights are random but BatchNorm statistics are set from data, so activations have
realistic ranges; calibration/test inputs are smooth random images/spectrograms
(``data.py``, which needs only numpy: ``python3 examples/realworld/data.py DIR`` writes them).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from data import smooth
from torch import nn

HERE = Path(__file__).resolve().parent


class SE(nn.Module):
    def __init__(self, c: int, r: int = 4) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(c, c // r, 1)
        self.fc2 = nn.Conv2d(c // r, c, 1)
        self.gate = nn.Hardsigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.gate(self.fc2(torch.relu(self.fc1(self.pool(x)))))
        return x * s


class Block(nn.Module):
    def __init__(self, cin: int, exp: int, cout: int, stride: int, se: bool, decomposed_hswish: bool = False) -> None:
        super().__init__()
        self.expand = nn.Sequential(nn.Conv2d(cin, exp, 1, bias=False), nn.BatchNorm2d(exp))
        self.dw = nn.Sequential(nn.Conv2d(exp, exp, 3, stride, 1, groups=exp, bias=False), nn.BatchNorm2d(exp))
        self.se = SE(exp) if se else nn.Identity()
        self.project = nn.Sequential(nn.Conv2d(exp, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.residual = stride == 1 and cin == cout
        self.decomposed = decomposed_hswish

    def act(self, x: torch.Tensor) -> torch.Tensor:
        if self.decomposed:
            return x * torch.clamp(x + 3.0, 0.0, 6.0) / 6.0
        return nn.functional.hardswish(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self.expand(x))
        y = self.act(self.dw(y))
        y = self.project(self.se(y))
        return x + y if self.residual else y


class MBV3(nn.Module):
    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.Hardswish())
        self.blocks = nn.Sequential(
            Block(16, 32, 16, 1, se=True),
            Block(16, 48, 24, 2, se=False, decomposed_hswish=True),
            Block(24, 72, 24, 1, se=True),
            Block(24, 96, 32, 2, se=True),
        )
        self.head = nn.Sequential(nn.Conv2d(32, 64, 1, bias=False), nn.BatchNorm2d(64), nn.Hardswish())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Linear(64, 48)
        self.fc2 = nn.Linear(48, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.head(self.blocks(self.stem(x))))
        x = x.reshape(x.shape[0], -1)  # exported as Shape -> Gather -> Unsqueeze -> Concat -> Reshape
        return self.fc2(nn.functional.hardswish(self.fc1(x)))


class KerasCNN(nn.Module):
    """Conv -> LeakyRelu twice in two branches, Max of the branches, Min against a third."""

    def __init__(self, classes: int = 8) -> None:
        super().__init__()
        self.c0 = nn.Conv2d(1, 16, 3, 1, 1)
        self.a = nn.Conv2d(16, 16, 3, 1, 1)
        self.b = nn.Conv2d(16, 16, 1)
        self.c = nn.Conv2d(16, 16, 3, 1, 1)
        self.prelu = nn.PReLU(16, init=0.2)
        self.pool = nn.MaxPool2d(2)
        self.bn = nn.BatchNorm2d(16)
        self.c2 = nn.Conv2d(16, 24, 3, 2, 1)
        self.fc = nn.Linear(24, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.leaky_relu(self.c0(x), 0.1)
        a = nn.functional.leaky_relu(self.a(x), 0.2)
        b = nn.functional.leaky_relu(self.b(x), 0.2)
        m = torch.maximum(a, b)
        m = torch.minimum(m, self.prelu(self.c(x)) + 1.0)
        m = self.bn(self.pool(m))
        y = nn.functional.leaky_relu(self.c2(m), 0.1)
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(y, 1), 1))


def _settle_bn(model: nn.Module, data: np.ndarray) -> None:
    """Set BatchNorm running statistics from data (a few train-mode passes), then eval."""
    model.train()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = None  # cumulative average
    with torch.no_grad():
        for i in range(0, len(data), 32):
            model(torch.from_numpy(data[i : i + 32]))
    model.eval()


def _export(model: nn.Module, example: torch.Tensor, path: Path, dynamic: dict | None) -> None:
    torch.onnx.export(
        model,
        (example,),
        str(path),
        input_names=["input"],
        output_names=["logits"],
        opset_version=17,
        dynamic_axes=dynamic,
        dynamo=False,
    )


def main() -> None:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    mb = MBV3()
    img = smooth(rng, 128, 3, 48, 48)
    _settle_bn(mb, img[:128])
    dyn = {"input": {0: "batch", 2: "height", 3: "width"}, "logits": {0: "batch"}}
    _export(mb, torch.from_numpy(img[:1]), HERE / "mbv3_se.onnx", dyn)

    kc = KerasCNN()
    spec = smooth(rng, 128, 1, 32, 24)
    _settle_bn(kc, spec[:128])
    _export(kc, torch.from_numpy(spec[:1]), HERE / "keras_cnn.onnx", None)


if __name__ == "__main__":
    main()

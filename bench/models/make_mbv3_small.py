"""Builds ``mbv3_small.onnx``: a torchvision-style MobileNetV3-Small block stack (seeded random
weights, BatchNorm statistics from data), the held-out model of issue 12's SQNR check.

    python3 bench/models/make_mbv3_small.py      # needs torch; the .onnx is committed

It follows torchvision's ``mobilenet_v3_small`` layout, which the issue-12 models in
``examples/realworld/`` were *not* designed from, so a quantization change tuned on those
models can be checked here: 3x3 stride-2 hard-swish stem; inverted residual blocks
(expand 1x1, depthwise 3x3 or 5x5, squeeze-excite with ``make_divisible(exp // 4, 8)``
squeeze channels, ReLU then Hardsigmoid gate, project 1x1, residual when shapes allow) with
ReLU or hard-swish as in torchvision's table (first six rows, width multiplier 0.5); a 1x1 hard-swish
head conv, global average pool, Linear + hard-swish + Linear. BatchNorm affine parameters
are randomised (gamma in [0.5, 1.5], beta ~ N(0, 0.2)) so channels differ as in a trained
net. Input 3x64x64 with dynamic batch, height and width (compile with
``--input-shape input=1,3,64,64``). Data: ``examples/realworld/data.py``'s ``smooth`` images,
seeds 70 (BatchNorm), 71 (calibration) and 72 (test) in ``bench/bench_realworld.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "examples" / "realworld"))
from data import smooth  # noqa: E402

#: torchvision's width multiplier (0.5 keeps the committed file small)
WIDTH = 0.5
#: torchvision mobilenet_v3_small rows at width 1.0: kernel, expanded, out, SE, activation, stride
CONFIG = [
    (3, 16, 16, True, "RE", 2),
    (3, 72, 24, False, "RE", 2),
    (3, 88, 24, False, "RE", 1),
    (5, 96, 40, True, "HS", 2),
    (5, 240, 40, True, "HS", 1),
    (5, 120, 48, True, "HS", 1),
]


def make_divisible(v: float, d: int = 8) -> int:
    new = max(d, int(v + d / 2) // d * d)
    return new + d if new < 0.9 * v else new


def conv_bn(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1, act: type | None = None) -> nn.Sequential:
    layers = [nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    return nn.Sequential(*layers, act()) if act else nn.Sequential(*layers)


class SqueezeExcite(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        sq = make_divisible(c // 4)
        self.fc1, self.fc2 = nn.Conv2d(c, sq, 1), nn.Conv2d(sq, c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = nn.functional.adaptive_avg_pool2d(x, 1)
        return x * nn.functional.hardsigmoid(self.fc2(torch.relu(self.fc1(s))))


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, k: int, exp: int, cout: int, se: bool, act: str, stride: int) -> None:
        super().__init__()
        a = nn.Hardswish if act == "HS" else nn.ReLU
        self.expand = conv_bn(cin, exp, 1, act=a) if exp != cin else nn.Identity()
        self.dw = conv_bn(exp, exp, k, stride, groups=exp, act=a)
        self.se = SqueezeExcite(exp) if se else nn.Identity()
        self.project = conv_bn(exp, cout, 1)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(self.se(self.dw(self.expand(x))))
        return x + y if self.residual else y


class MobileNetV3Small(nn.Module):
    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        cin = make_divisible(16 * WIDTH)
        self.stem = conv_bn(3, cin, 3, 2, act=nn.Hardswish)
        blocks = []
        for k, exp, out, se, act, stride in CONFIG:
            cout = make_divisible(out * WIDTH)
            blocks.append(InvertedResidual(cin, k, make_divisible(exp * WIDTH), cout, se, act, stride))
            cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.head = conv_bn(cin, 6 * cin, 1, act=nn.Hardswish)
        self.classifier = nn.Sequential(nn.Linear(6 * cin, 128), nn.Hardswish(), nn.Linear(128, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.adaptive_avg_pool2d(self.head(self.blocks(self.stem(x))), 1)
        return self.classifier(torch.flatten(x, 1))


def _randomise_bn(model: nn.Module, gen: torch.Generator) -> None:
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.copy_(0.5 + torch.rand(m.num_features, generator=gen))
                m.bias.copy_(0.2 * torch.randn(m.num_features, generator=gen))
            m.momentum = None  # running statistics: the cumulative average of the passes below


def main() -> None:
    torch.manual_seed(0)
    model = MobileNetV3Small()
    _randomise_bn(model, torch.Generator().manual_seed(1))
    data = torch.from_numpy(smooth(np.random.default_rng(70), 128, 3, 64, 64))
    model.train()
    with torch.no_grad():
        for i in range(0, len(data), 32):
            model(data[i : i + 32])
    model.eval()
    torch.onnx.export(
        model, (data[:1],), str(HERE / "mbv3_small.onnx"), input_names=["input"], output_names=["logits"],
        opset_version=17, dynamic_axes={"input": {0: "batch", 2: "height", 3: "width"}, "logits": {0: "batch"}},
        dynamo=False,
    )  # fmt: skip


if __name__ == "__main__":
    main()

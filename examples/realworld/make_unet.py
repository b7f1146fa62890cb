"""Builds ``unet_decoder.onnx``: a small U-Net-style segmentation net with a classification
head, the data-movement and reduction half of issue 12, with PyTorch.

Run from the repository root (needs torch; the output is committed so CI needs neither):

    python3 examples/realworld/make_unet.py

Encoder: two conv + ReLU + max-pool stages and a bottleneck. Decoder: a ConvTranspose
(stride 2) up-sampling, Concat with the skip connection, a bilinear Resize (``Upsample``,
``align_corners=False``), a PixelShuffle (DepthToSpace, CRD) and Concat with the first
skip, then a 1x1 conv to 4 class maps, reordered by an ``index_select`` (Gather with
constant indices). Head: ReduceMean and ReduceMax of the bottleneck over H and W,
a ReduceSum of the decoder over H and W, concatenated into a Linear layer. Outputs:
``seg`` [1, 4, 32, 32] and ``cls`` [1, 5]. Random weights, BatchNorm statistics set from
calibration-like data so activations have realistic ranges; inputs: ``data.smooth``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from data import smooth
from torch import nn

HERE = Path(__file__).resolve().parent


def conv_bn(cin: int, cout: int, k: int = 3) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, padding=k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class UNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.enc1 = conv_bn(3, 8)
        self.enc2 = conv_bn(8, 16)
        self.bott = conv_bn(16, 32)
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ConvTranspose2d(32, 16, 2, stride=2)
        self.dec2 = conv_bn(32, 16)
        self.dec1 = conv_bn(16, 32)
        self.shuffle = nn.PixelShuffle(2)
        self.fuse = conv_bn(16, 8)
        self.seg = nn.Conv2d(8, 4, 1)
        self.cls = nn.Linear(32 + 32 + 16, 5)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        e1 = self.enc1(x)  # 8 x 32 x 32
        e2 = self.enc2(self.pool(e1))  # 16 x 16 x 16
        b = self.bott(self.pool(e2))  # 32 x 8 x 8
        d2 = self.dec2(torch.cat([self.up(b), e2], 1))  # 16 x 16 x 16
        d1 = nn.functional.interpolate(d2, scale_factor=2, mode="bilinear", align_corners=False)  # 16 x 32 x 32
        d1 = self.shuffle(self.dec1(nn.functional.avg_pool2d(d1, 2)))  # 8 x 32 x 32
        f = self.fuse(torch.cat([d1, e1], 1))
        seg = self.seg(f).index_select(1, torch.tensor([3, 0, 1, 2]))
        head = torch.cat([b.mean((2, 3)), b.amax((2, 3)), d2.sum((2, 3)) / 256.0], 1)
        return seg, self.cls(head)


def main() -> None:
    torch.manual_seed(0)
    net = UNet()
    # BatchNorm statistics from data: a few forward passes in training mode
    x = torch.from_numpy(smooth(np.random.default_rng(5), 64, 3, 32, 32))
    net.train()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.momentum = None
        net(x)
    net.eval()
    torch.onnx.export(
        net, (x[:1],), str(HERE / "unet_decoder.onnx"), input_names=["input"], output_names=["seg", "cls"],
        opset_version=17, dynamo=False,
    )  # fmt: skip
    print("wrote", HERE / "unet_decoder.onnx")


if __name__ == "__main__":
    main()

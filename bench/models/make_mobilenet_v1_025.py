"""Build ``mobilenet_v1_025_96.tflite``: a MobileNetV1-0.25 shaped int8 person detector of our
own (96x96x3 input, width multiplier 0.25, 13 depthwise-separable blocks, 2 classes), with
seeded random weights and plausible quantization parameters. It stands in for TFLM's
MobileNetV1-0.25 96x96 person detection model (whose weights we do not ship) in
bench/bench_memory.py: the layer shapes, and so the RAM figures, are the same kind.

Run: python3 bench/models/make_mobilenet_v1_025.py  (writes the .tflite next to this script;
needs tflite-micro for the schema, like tests/tflite_builder.py which it uses)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent / "tests"))

from tflite_builder import ACT, PAD, ModelBuilder  # noqa: E402

#: (depthwise stride, pointwise output channels) of the 13 blocks at width 0.25
BLOCKS = [(1, 16), (2, 32), (1, 32), (2, 64), (1, 64), (2, 128), *[(1, 128)] * 5, (2, 256), (1, 256)]
OUT = HERE / "mobilenet_v1_025_96.tflite"


class _Net:
    def __init__(self, seed: int = 0) -> None:
        self.b = ModelBuilder()
        self.rng = np.random.default_rng(seed)
        self.n = 0

    def act(self, shape: tuple[int, ...], scale: float = 0.0235, zp: int = -128) -> int:
        self.n += 1
        return self.b.tensor(f"a{self.n}", shape, scale=scale, zero_point=zp)

    def weights(self, shape: tuple[int, ...], axis: int, in_scale: float, fan_in: int) -> tuple[int, int]:
        oc = shape[axis]
        w = self.rng.integers(-127, 128, size=shape, dtype=np.int8)
        # scale so that a unit-variance input keeps roughly unit variance (He-like)
        ws = self.rng.uniform(0.6, 1.4, size=oc) * np.sqrt(2.0 / fan_in) / 73.0
        self.n += 1
        wt = self.b.tensor(f"w{self.n}", shape, scale=ws, zero_point=0, axis=axis, data=w)
        bias = self.rng.integers(-2000, 2000, size=oc, dtype=np.int32)
        bt = self.b.tensor(f"b{self.n}", (oc,), "int32", scale=in_scale * ws, data=bias)
        return wt, bt

    def conv(self, x: int, shape: tuple[int, ...], oc: int, k: int, stride: int) -> tuple[int, tuple[int, ...]]:
        _, h, w, c = shape
        wt, bt = self.weights((oc, k, k, c), 0, 0.0235, k * k * c)
        out_shape = (1, -(-h // stride), -(-w // stride), oc)
        y = self.act(out_shape)
        self.b.op("CONV_2D", [x, wt, bt], [y], "Conv2DOptions", padding=PAD["SAME"], strideW=stride,
                  strideH=stride, fusedActivationFunction=ACT["RELU6"], dilationWFactor=1, dilationHFactor=1)  # fmt: skip
        return y, out_shape

    def depthwise(self, x: int, shape: tuple[int, ...], stride: int) -> tuple[int, tuple[int, ...]]:
        _, h, w, c = shape
        wt, bt = self.weights((1, 3, 3, c), 3, 0.0235, 9)
        out_shape = (1, -(-h // stride), -(-w // stride), c)
        y = self.act(out_shape)
        self.b.op("DEPTHWISE_CONV_2D", [x, wt, bt], [y], "DepthwiseConv2DOptions", padding=PAD["SAME"],
                  strideW=stride, strideH=stride, depthMultiplier=1, fusedActivationFunction=ACT["RELU6"],
                  dilationWFactor=1, dilationHFactor=1)  # fmt: skip
        return y, out_shape


def build(seed: int = 0) -> bytes:
    """The model's .tflite bytes (deterministic for a seed)."""
    net = _Net(seed)
    shape: tuple[int, ...] = (1, 96, 96, 3)
    x = net.b.tensor("input", shape, scale=1 / 128, zero_point=0)
    t, shape = net.conv(x, shape, 8, 3, 2)
    for stride, oc in BLOCKS:
        t, shape = net.depthwise(t, shape, stride)
        t, shape = net.conv(t, shape, oc, 1, 1)
    _, h, w, c = shape
    pooled = net.act((1, 1, 1, c))
    net.b.op("AVERAGE_POOL_2D", [t], [pooled], "Pool2DOptions", padding=PAD["VALID"], strideW=w, strideH=h,
             filterWidth=w, filterHeight=h, fusedActivationFunction=0)  # fmt: skip
    flat = net.act((1, c))
    net.b.op("RESHAPE", [pooled], [flat], "ReshapeOptions", newShape=[1, c])
    wt, bt = net.weights((2, c), 0, 0.0235, c)
    logits = net.act((1, 2), scale=0.1, zp=0)
    net.b.op("FULLY_CONNECTED", [flat, wt, bt], [logits], "FullyConnectedOptions", fusedActivationFunction=0)
    probs = net.b.tensor("probs", (1, 2), scale=1 / 256, zero_point=-128)
    net.b.op("SOFTMAX", [logits], [probs], "SoftmaxOptions", beta=1.0)
    net.b.inputs, net.b.outputs = [x], [probs]
    return net.b.finish()


if __name__ == "__main__":
    OUT.write_bytes(build())
    print(f"wrote {OUT} ({OUT.stat().st_size:,} bytes)")

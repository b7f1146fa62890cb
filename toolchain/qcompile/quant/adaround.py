"""AdaRound (Nagel et al., "Up or Down? Adaptive Rounding for Post-Training Quantization",
2020): choose, weight by weight, whether to round down or up so that each layer's
output on calibration data stays closest to the float layer's.

Round-to-nearest minimises each weight's own error, not the layer's output error, which
depends on how the errors of a channel's weights combine over real inputs. Per
conv/depthwise/FC layer, with ``w = s * (floor(w / s) + h)`` and ``h = clip(sigmoid(V) *
1.2 - 0.1, 0, 1)`` (the rectified sigmoid), Adam minimises the relative squared output
error on the layer's float inputs plus a regulariser ``lambda * sum(1 - |2h - 1|^beta)``
whose ``beta`` anneals from 20 to 2, pushing every ``h`` to 0 or 1. Scales stay those of
round-to-nearest. Time is bounded: ``iterations`` steps per layer on at most
``max_rows`` input rows (output positions) from ``max_samples`` samples. A layer keeps
round-to-nearest when the learned rounding does not reconstruct better.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from qcompile.ir import Graph, Node
from qcompile.progress import progress_bar
from qcompile.quant.layerwise import float_activations, ir_sample_inputs
from qcompile.quant.quantize import WEIGHT_AXIS, QuantConfig, quantize_weights, weight_params

ZETA, GAMMA = 1.1, -0.1
LAMBDA = 0.01
ITERATIONS = 300
MAX_SAMPLES = 16
MAX_ROWS = 2048


def adaround(
    float_graph: Graph,
    ranges: Mapping[str, tuple[float, float]],
    data: Mapping[str, np.ndarray],
    config: QuantConfig,
    *,
    iterations: int = ITERATIONS,
    max_samples: int = MAX_SAMPLES,
    progress: bool = False,
) -> QuantConfig:
    """``config`` with learned int8 weights (``weight_codes``) for every conv/depthwise/FC
    layer AdaRound supports (grouped convolutions and depthwise multipliers other than 1
    keep round-to-nearest). ``ranges`` is unused today: inputs are the float ones."""
    del ranges
    samples = ir_sample_inputs(float_graph, data, max_samples)
    fvals = float_activations(float_graph, samples)
    layers = [n for n in float_graph.nodes if n.op in WEIGHT_AXIS and _supported(n)]
    codes: dict[str, np.ndarray] = dict(config.weight_codes)
    rng = np.random.default_rng(0)
    with progress_bar(progress, len(layers), "adaround") as advance:
        for node in layers:
            w = float_graph.tensors[node.inputs[1]].data
            scale = weight_params(w, WEIGHT_AXIS[node.op], per_tensor=config.per_tensor_weights)
            x = layer_rows(node, w.shape, [fv[node.inputs[0]] for fv in fvals], rng)
            codes[node.name] = learn_rounding(node.op, w, scale.scale, x, iterations=iterations)
            advance()
    return dataclasses.replace(config, weight_codes=codes)


def _supported(node: Node) -> bool:
    if node.op == "conv2d":
        return int(node.attrs.get("groups", 1)) == 1
    if node.op == "depthwise_conv2d":
        return int(node.attrs.get("depth_multiplier", 1)) == 1
    return True


def layer_rows(node: Node, w_shape: tuple[int, ...], inputs: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """The layer's input as rows: FC ``[P, K]``; conv ``[P, KH*KW*C]`` (im2col, the order of
    the flattened ``[OC, KH, KW, C]`` weights); depthwise ``[P, KH*KW, C]``. At most
    ``MAX_ROWS`` rows, drawn at random."""
    x = np.concatenate(inputs, axis=0).astype(np.float64)
    if node.op == "fully_connected":
        rows = x.reshape(-1, x.shape[-1])
    else:
        kh, kw = w_shape[1:3] if node.op == "conv2d" else w_shape[0:2]
        rows = _patches(x, node, int(kh), int(kw))
    if len(rows) > MAX_ROWS:
        rows = rows[np.sort(rng.choice(len(rows), MAX_ROWS, replace=False))]
    return rows


def _patches(x: np.ndarray, node: Node, kh: int, kw: int) -> np.ndarray:
    sh, sw = node.attrs.get("strides", (1, 1))
    dh, dw = node.attrs.get("dilations", (1, 1))
    t, left, b, r = node.attrs.get("pads", (0, 0, 0, 0))
    xp = np.pad(x, ((0, 0), (t, b), (left, r), (0, 0)))
    oh = (xp.shape[1] - ((kh - 1) * dh + 1)) // sh + 1
    ow = (xp.shape[2] - ((kw - 1) * dw + 1)) // sw + 1
    taps = [
        xp[:, ky * dh : ky * dh + (oh - 1) * sh + 1 : sh, kx * dw : kx * dw + (ow - 1) * sw + 1 : sw, :]
        for ky in range(kh)
        for kx in range(kw)
    ]
    stacked = np.stack(taps, axis=3)  # [N, OH, OW, KH*KW, C]
    c = x.shape[-1]
    if node.op == "depthwise_conv2d":
        return stacked.reshape(-1, kh * kw, c)
    return stacked.reshape(-1, kh * kw * c)


def _forward(op: str, x: np.ndarray, w2: np.ndarray) -> np.ndarray:
    """Layer output (no bias) of rows ``x`` with weights ``w2`` in row form."""
    if op == "depthwise_conv2d":
        return np.einsum("pkc,kc->pc", x, w2)
    return x @ w2.T


def _backward(op: str, x: np.ndarray, grad_out: np.ndarray) -> np.ndarray:
    if op == "depthwise_conv2d":
        return np.einsum("pkc,pc->kc", x, grad_out)
    return grad_out.T @ x


def learn_rounding(op: str, w: np.ndarray, scale: np.ndarray, x: np.ndarray, *, iterations: int) -> np.ndarray:
    """int8 weights (``w``'s shape) whose rounding minimises the layer's output error on
    rows ``x`` (see the module docstring); round-to-nearest if that reconstructs better."""
    axis = WEIGHT_AXIS[op]
    shape = [1] * w.ndim
    shape[axis] = -1
    s_full = np.broadcast_to(scale.reshape(shape), w.shape)
    w2, s2 = _rows(op, w.astype(np.float64)), _rows(op, s_full)
    base = np.floor(w2 / s2)
    rest = np.clip(w2 / s2 - base, 0.01, 0.99)
    v = -np.log((ZETA - GAMMA) / (rest - GAMMA) - 1.0)  # h(v) == rest at the start
    ref = _forward(op, x, w2)
    norm = max(float(np.mean(ref * ref)), 1e-12)
    v = _adam(op, x, w2, s2, base, v, norm, iterations)
    learned = np.clip(base + (_h(v) >= 0.5), -127, 127)
    nearest = _rows(op, quantize_weights(w, _params(scale, axis)).astype(np.float64))
    err = [float(np.mean((_forward(op, x, c * s2) - ref) ** 2)) for c in (learned, nearest)]
    best = learned if err[0] < err[1] else nearest
    return best.reshape(w.shape).astype(np.int8)


def _params(scale: np.ndarray, axis: int):
    from qcompile.ir import QuantParams

    return QuantParams(scale, np.zeros(scale.shape, dtype=np.int64), axis=axis)


def _h(v: np.ndarray) -> np.ndarray:
    return np.clip(1.0 / (1.0 + np.exp(-v)) * (ZETA - GAMMA) + GAMMA, 0.0, 1.0)


def _adam(op, x, w2, s2, base, v, norm, iterations: int, lr: float = 0.05) -> np.ndarray:
    """Adam on ``v``: relative reconstruction error + annealed rounding regulariser."""
    m, u = np.zeros_like(v), np.zeros_like(v)
    rows = len(x)
    for t in range(1, iterations + 1):
        sig = 1.0 / (1.0 + np.exp(-v))
        raw = sig * (ZETA - GAMMA) + GAMMA
        h = np.clip(raw, 0.0, 1.0)
        codes = base + h
        inside = (codes >= -127) & (codes <= 127)
        err = _forward(op, x, np.clip(codes, -127, 127) * s2 - w2)
        grad_w = _backward(op, x, err) * (2.0 / (rows * err.shape[-1] * norm))
        warm = t < 0.2 * iterations
        beta = 20.0 - 18.0 * max(0.0, (t - 0.2 * iterations) / (0.8 * iterations))
        d = 2.0 * h - 1.0
        grad_reg = 0.0 if warm else -LAMBDA * beta * np.abs(d) ** (beta - 1.0) * np.sign(d) * 2.0
        grad_h = grad_w * s2 * inside + grad_reg
        grad_v = grad_h * sig * (1.0 - sig) * (ZETA - GAMMA) * ((raw > 0) & (raw < 1))
        m = 0.9 * m + 0.1 * grad_v
        u = 0.999 * u + 0.001 * grad_v * grad_v
        v = v - lr * (m / (1 - 0.9**t)) / (np.sqrt(u / (1 - 0.999**t)) + 1e-8)
    return v


def _rows(op: str, w: np.ndarray) -> np.ndarray:
    """Weights as the row form :func:`_forward` multiplies: ``[OC, K]`` or ``[KH*KW, C]``."""
    if op == "depthwise_conv2d":
        return w.reshape(-1, w.shape[-1])
    return w.reshape(w.shape[0], -1)

"""int8 parameters of the float ``lstm`` (the ONNX LSTM, docs/QUANTIZATION.md "lstm"): TFLite's
int8x8_16 LSTM as TFLite Micro and CMSIS-NN run it (:func:`qcompile.reference.kernels.lstm.lstm_params`).

- ``h0``, ``y`` and the final ``h`` share one set of int8 parameters (the hidden state is one
  TFLite variable tensor: what a step writes is what the next one reads);
- ``c0``, the final ``c`` and the calibrated cell state of every step share one int16 scale
  ``2^ceil(log2(max |c|)) / 32768`` (TFLM's cell tanh takes a power-of-two scale);
- weights: symmetric int8, one scale per gate row (per output channel; TFLM reads one per gate
  matrix, so the layer runs ``qc_lstm_unidirectional_per_row_s8``); biases int32 at ``s_x * s_w[g, j]``; the gate pre-activations are Q3.12 (TFLM's fixed scale; sigmoid and tanh are
  flat beyond 8 to within the Q15 outputs' few last bits).
"""

from __future__ import annotations

import math

import numpy as np

from qcompile.ir import Graph, Node, QuantParams, Tensor, round_half_away
from qcompile.quant.converters import QUANT_CONVERTERS
from qcompile.quant.quantize import activation_params
from qcompile.reference.kernels.lstm import lstm_params

#: the cell state's magnitude range that gets its own scale (2^-6 .. 2^15: the cell tanh's shift bounds)
CELL_RANGE = (2.0**-6, 2.0**15)


def cell_params(lo: float, hi: float) -> QuantParams:
    """int16 cell state parameters: zero point 0, scale ``2^ceil(log2(max |c|)) / 32768``."""
    max_abs = float(np.clip(max(abs(float(lo)), abs(float(hi))), *CELL_RANGE))
    return QuantParams(np.float64(2.0 ** math.ceil(math.log2(max_abs)) / 32768.0), np.int64(0), dtype="int16")


def _hidden_params(lo: float, hi: float) -> QuantParams:
    return activation_params(lo, hi)  # int8 whatever --act-bits says: the kernel's hidden state is int8


def _groups(node: Node):
    x, w, r, b, h0, c0 = node.inputs
    y, h, c, _, cells = node.outputs
    return [([h0, y, h], _hidden_params), ([c0, c, cells], cell_params)]


def _gate_rows(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 ``[4, H, K]`` with one float32 scale per gate row (``[4, H]``): per output
    channel, as TFLite quantizes conv/FC weights; TFLM's one scale per gate matrix cost ~6 dB on
    the keyword LSTMs (bench/bench_lstm.py --budget)."""
    max_abs = np.max(np.abs(w.astype(np.float64)), axis=2)
    scales = np.where(max_abs > 0, max_abs / 127.0, 1.0).astype(np.float32).astype(np.float64)
    q = np.clip(round_half_away(w / scales[:, :, None]), -127, 127).astype(np.int8)
    return q, scales


def _add(graph: Graph, base: str, data: np.ndarray, quant: QuantParams | None = None) -> str:
    name = graph.unique_name(base)
    data = np.ascontiguousarray(data)
    graph.add_tensor(Tensor(name, tuple(data.shape), str(data.dtype), data, quant=quant))
    return name


def _state_input(graph: Graph, name: str, like: str) -> str:
    """A constant initial state quantized with ``like``'s parameters (else the activation as it is)."""
    t = graph.tensors[name]
    if not t.is_constant:
        return name
    q = graph.tensors[like].quant
    return _add(graph, f"{name}_q", q.quantize(t.data).astype(q.dtype), q)


@QUANT_CONVERTERS.register("lstm", param_groups=_groups)
def _convert_lstm(graph: Graph, node: Node) -> None:
    x, w_name, r_name, b_name, h0, c0 = node.inputs
    y, h, c = node.outputs[:3]
    qx, qh, qc = graph.tensors[x].quant, graph.tensors[y].quant, graph.tensors[c].quant
    wq, w_scales = _gate_rows(graph.tensors[w_name].data)
    rq, r_scales = _gate_rows(graph.tensors[r_name].data)
    bias_scale = float(qx.scale) * w_scales
    bq = np.clip(round_half_away(graph.tensors[b_name].data.astype(np.float64) / bias_scale), -(2**31), 2**31 - 1)
    attrs = lstm_params(
        float(qx.scale), int(qx.zero_point), w_scales, r_scales, float(qh.scale), int(qh.zero_point),
        float(qc.scale), 0.0, time_major=True,
    )  # fmt: skip
    node.inputs = [
        x,
        _add(graph, f"{w_name}_q", wq),
        _add(graph, f"{r_name}_q", rq),
        _add(graph, f"{b_name}_q", bq.astype(np.int32)),
        _state_input(graph, h0, y),
        _state_input(graph, c0, c),
    ]
    node.outputs = [y, h, c]
    node.attrs = attrs

"""int8 parameters of the ONNX GRU (docs/QUANTIZATION.md, "gru"): int8 per-row weights, int64
biases, per-row multipliers to int16 gate pre-activations whose scales come from the calibrated
gate internals, TFLM's int16 sigmoid/tanh input parameters, Q15 hidden state."""

from __future__ import annotations

import numpy as np

from qcompile.ir import Graph, Node, QuantParams, Tensor, round_half_away
from qcompile.quant.converters import QUANT_CONVERTERS
from qcompile.quant.fixedpoint import quantize_multiplier
from qcompile.reference.kernels.sigmoid_s16 import sigmoid_tanh_params

#: the hidden state's scale inside the kernel (Q15: |h| < 1 for a GRU from a state in [-1, 1])
STATE_SCALE = 2.0**-15
#: calibrated gate pre-activation magnitudes are clamped to this range: sigmoid and tanh are
#: flat beyond 16, and below 1/16 a finer grid gains nothing at the Q15 outputs
GATE_RANGE = (1.0 / 16.0, 16.0)
#: the int64 requantisation takes left shifts up to 7: a gate scale at least this fraction of
#: its largest input product scale keeps every multiplier below 2^7
MAX_GAIN = 100.0


def _f32(v) -> np.ndarray:
    return np.asarray(v, dtype=np.float32).astype(np.float64)


def _max_abs(q: QuantParams) -> float:
    """The magnitude an int8 calibrated tensor covers (its range, widened to contain 0)."""
    s, zp = float(q.scale), int(q.zero_point)
    return max(abs((-128 - zp) * s), abs((127 - zp) * s))


def _rows(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-row int8 weights of ``[D, 3H, K]`` and their float32 scales ``[D, 3H]``."""
    max_abs = np.max(np.abs(w.astype(np.float64)), axis=2)
    scale = _f32(np.where(max_abs > 0, max_abs / 127.0, 1.0))
    q = np.clip(round_half_away(w / scale[..., None]), -127, 127).astype(np.int8)
    return q, scale


def _multipliers(real: np.ndarray) -> np.ndarray:
    pairs = [quantize_multiplier(float(v)) for v in real.reshape(-1)]
    return np.array(pairs, dtype=np.int64).reshape(*real.shape, 2)


def _add(graph: Graph, base: str, data: np.ndarray, dtype: str) -> str:
    name = graph.unique_name(base)
    graph.add_tensor(Tensor(name, tuple(data.shape), dtype, np.ascontiguousarray(data, dtype=dtype)))
    return name


def _gate_scales(graph: Graph, node: Node, in_scale: np.ndarray, rec_scale: np.ndarray) -> tuple[list[float], float]:
    """int16 scales of the z, r, n pre-activations and of ``hn`` (from the calibrated internals),
    raised where a multiplier would need a left shift above 7."""
    hidden = int(node.attrs["hidden"])
    mags = [_max_abs(graph.tensors[name].quant) for name in node.outputs[1:5]]
    scales = []
    for g in range(3):
        rows = slice(g * hidden, (g + 1) * hidden)
        floor = max(float(in_scale[:, rows].max()), float(rec_scale[:, rows].max())) / MAX_GAIN
        scales.append(float(np.float32(max(float(np.clip(mags[g], *GATE_RANGE)) / 32767.0, floor))))
    hn_floor = float(rec_scale[:, 2 * hidden :].max()) / MAX_GAIN
    hn = float(np.float32(max(max(mags[3], 1e-3) / 32767.0, hn_floor)))
    return scales, hn


@QUANT_CONVERTERS.register("gru")
def _convert_gru(graph: Graph, node: Node) -> None:
    x, w_name, r_name, b_name, h0 = node.inputs
    hidden, lbr = int(node.attrs["hidden"]), int(node.attrs["linear_before_reset"])
    qx, qy = graph.tensors[x].quant, graph.tensors[node.outputs[0]].quant
    s_x = float(qx.scale)
    wq, s_w = _rows(graph.tensors[w_name].data)
    rq, s_r = _rows(graph.tensors[r_name].data)
    b = graph.tensors[b_name].data.astype(np.float64)
    in_scale, rec_scale = s_x * s_w, STATE_SCALE * s_r
    gates, s_hn = _gate_scales(graph, node, in_scale, rec_scale)
    row_gate = np.repeat(np.array(gates), hidden)  # [3H]
    rec_target = row_gate.copy()
    if lbr:
        rec_target[2 * hidden :] = s_hn
    requant = np.concatenate([_multipliers(in_scale / row_gate), _multipliers(rec_scale / rec_target)], axis=-1)
    wb = round_half_away(b[:, : 3 * hidden] / in_scale).astype(np.int64)
    rb = round_half_away(b[:, 3 * hidden :] / rec_scale).astype(np.int64)
    sig = [sigmoid_tanh_params(gates[g], STATE_SCALE, tanh=g == 2) for g in range(3)]
    out_m, out_s = quantize_multiplier(STATE_SCALE / float(qy.scale))
    h0_m, h0_s, h0_off = 0, 0, 0
    if h0:
        qh = graph.tensors[h0].quant
        h0_m, h0_s = quantize_multiplier(float(qh.scale) / STATE_SCALE)
        h0_off = -int(qh.zero_point)
    rhn_m, rhn_s = quantize_multiplier(STATE_SCALE * s_hn / gates[2]) if lbr else (0, 0)
    node.inputs = [
        x,
        _add(graph, f"{w_name}_q", wq, "int8"),
        _add(graph, f"{r_name}_q", rq, "int8"),
        _add(graph, f"{b_name}_wb", wb, "int64"),
        _add(graph, f"{b_name}_rb", rb, "int64"),
        _add(graph, f"{node.name}_requant", requant.astype(np.int32), "int32"),
        h0,
    ]
    node.outputs = node.outputs[:1]
    node.attrs = {
        "hidden": hidden,
        "directions": int(node.attrs["directions"]),
        "reverse": int(node.attrs["reverse"]),
        "linear_before_reset": lbr,
        "input_offset": -int(qx.zero_point),
        "h0_offset": h0_off,
        "h0_multiplier": h0_m,
        "h0_shift": h0_s,
        "output_offset": int(qy.zero_point),
        "output_multiplier": out_m,
        "output_shift": out_s,
        "gate_multiplier": [int(m) for m, _ in sig],
        "gate_shift": [int(s) for _, s in sig],
        "rhn_multiplier": rhn_m,
        "rhn_shift": rhn_s,
    }

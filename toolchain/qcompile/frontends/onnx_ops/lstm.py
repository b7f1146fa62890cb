"""ONNX LSTM (docs/QUANTIZATION.md, "lstm"): one float ``lstm`` node per direction, quantized to
TFLite Micro's integer LSTM (:mod:`qcompile.reference.kernels.lstm`, ``qc_lstm_unidirectional_s8``).

Per direction ``d`` the node takes ``x [T, B, I]`` (time major; a reverse direction reads ``x``
reversed in time by a ``strided_slice``), ``W[d]`` / ``R[d]`` regrouped from ONNX's gate order
(i, o, f, c) into TFLite's (i, f, c, o) as ``[4, H, I]`` / ``[4, H, H]``, one bias ``Wb + Rb``
``[4, H]`` and the initial ``h0 [B, H]`` / ``c0 [B, H]`` (zero constants when absent). Its outputs
are ``y [T, B, H]``, the final ``h`` and ``c`` and two internals calibration observes: the gate
pre-activations ``[T, B, 4H]`` and the cell state of every step ``[T, B, H]`` (it sets the int16
cell scale). ``Y [T, D, B, H]``, ``Y_h`` and ``Y_c [D, B, H]`` are the directions' results
reshaped and concatenated as ONNX lays them out."""

from __future__ import annotations

import numpy as np

from qcompile.frontends.onnx_ops import ONNX_OPS
from qcompile.frontends.onnx_ops.recurrent import _is_read, recurrent_attr_problem, recurrent_weights

_DEFAULT_ACTS = ("sigmoid", "tanh", "tanh")
#: TFLite's gate k (input, forget, cell, output) is ONNX's gate block _ONNX_GATE[k] (i, o, f, c)
_ONNX_GATE = (0, 2, 3, 1)


def _lstm_problem(node, ins, attrs, const) -> str | None:
    ins = list(ins) + [""] * (8 - len(ins))
    if any(not i or i not in const for i in ins[1:3]) or (ins[3] and ins[3] not in const):
        return "LSTM weights W, R and bias B must be constants"
    if ins[4] and ins[4] not in const:
        return "LSTM sequence_lens must be absent or a constant equal to the sequence length"
    if ins[7]:
        return "LSTM peephole weights (input P) are not supported (TFLite Micro's LSTM has none); export without them"
    if int(attrs.get("input_forget", 0)):
        return "LSTM input_forget (coupled input and forget gates) is not supported"
    return recurrent_attr_problem("LSTM", attrs, _DEFAULT_ACTS)


def _gates(m: np.ndarray, hidden: int) -> np.ndarray:
    """``[4H, K]`` (or ``[4H]``) in ONNX's i, o, f, c blocks -> ``[4, H, K]`` in TFLite's i, f, c, o."""
    blocks = m.reshape(4, hidden, *m.shape[1:])
    return np.ascontiguousarray(blocks[list(_ONNX_GATE)])


def _initial(conv, name: str, d: int, directions: int, batch: int, hidden: int, what: str) -> str:
    """Direction ``d``'s initial state ``[B, H]``: a constant (zeros when absent) or a slice of the input."""
    if not name or conv.is_const(name):
        data = np.zeros((batch, hidden), np.float32) if not name else conv.const[name][d]
        return conv.constant(f"{name or conv.node.name or 'lstm'}__{what}0_d{d}", data)
    src = conv.get(name, (0, 1, 2))
    part = src
    if directions == 2:
        part = conv.tmp_act(f"{src}__d{d}", (1, batch, hidden))
        conv.emit("strided_slice", [src], [part], begin=(d, 0, 0), size=(1, batch, hidden), strides=(1, 1, 1))
    flat = conv.tmp_act(f"{src}__{what}0_d{d}", (batch, hidden))
    conv.emit("reshape", [part], [flat], shape=(batch, hidden))
    return flat


def _time_reversed(conv, x: str, shape: tuple[int, ...]) -> str:
    out = conv.tmp_act(f"{x}__reversed", shape)
    conv.emit("strided_slice", [x], [out], begin=(shape[0] - 1, 0, 0), size=shape, strides=(-1, 1, 1))
    return out


@ONNX_OPS.register("LSTM", problem=_lstm_problem)
def _lstm(conv, node, ins, attrs) -> None:
    ins = list(ins) + [""] * (8 - len(ins))
    problem = _lstm_problem(node, ins, attrs, set(conv.const))
    if problem:
        raise conv.fail(problem)
    directions, reverse, steps, batch, inputs, hidden, w, r, b = recurrent_weights(conv, "LSTM", ins, attrs, 4)
    x = conv.get(ins[0], (0, 1, 2))
    base = node.name or "lstm"
    results = []
    for d in range(directions):
        backwards = d == 1 or bool(reverse)
        xd = _time_reversed(conv, x, (steps, batch, inputs)) if backwards else x
        consts = [
            conv.constant(f"{ins[1]}__lstm_w{d}", _gates(w[d], hidden)),
            conv.constant(f"{ins[2]}__lstm_r{d}", _gates(r[d], hidden)),
            conv.constant(f"{ins[3] or base}__lstm_b{d}", _gates(b[d][: 4 * hidden] + b[d][4 * hidden :], hidden)),
        ]
        h0 = _initial(conv, ins[5], d, directions, batch, hidden, "h")
        c0 = _initial(conv, ins[6], d, directions, batch, hidden, "c")
        outs = [conv.tmp_act(f"{base}__{k}{d}", shape) for k, shape in _output_shapes(steps, batch, hidden)]
        conv.emit("lstm", [xd, *consts, h0, c0], outs, hidden=hidden)
        y = _time_reversed(conv, outs[0], (steps, batch, hidden)) if backwards else outs[0]
        results.append((y, outs[1], outs[2]))
    names = list(node.output) + [""] * (3 - len(node.output))
    for k, (name, lead) in enumerate(zip(names, ((steps,), (), ()), strict=True)):
        if name and _is_read(conv, name):
            _assemble(conv, name, [res[k] for res in results], lead, batch, hidden)


def _output_shapes(steps: int, batch: int, hidden: int):
    return (
        ("y", (steps, batch, hidden)),
        ("h", (batch, hidden)),
        ("c", (batch, hidden)),
        ("gates", (steps, batch, 4 * hidden)),
        ("cells", (steps, batch, hidden)),
    )


def _assemble(conv, onnx_name: str, parts: list[str], lead: tuple[int, ...], batch: int, hidden: int) -> None:
    """ONNX's ``[*lead, D, B, H]`` from one ``[*lead, B, H]`` per direction (reshape, then concat on D)."""
    axis, rank = len(lead), len(lead) + 3
    one = (*lead, 1, batch, hidden)
    perm = tuple(range(rank))
    if len(parts) == 1:
        conv.emit("reshape", parts, [conv.new_act(onnx_name, perm)], shape=one)
        return
    shaped = []
    for p in parts:
        shaped.append(conv.tmp_act(f"{p}__dir", one))
        conv.emit("reshape", [p], [shaped[-1]], shape=one)
    conv.emit("concat", shaped, [conv.new_act(onnx_name, perm)], axis=axis)

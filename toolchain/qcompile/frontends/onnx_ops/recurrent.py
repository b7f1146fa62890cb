"""ONNX GRU (docs/QUANTIZATION.md, "gru"): one ``gru`` node computing ``Y [T, D, B, H]``; ``Y_h``
is the last step of each direction, selected from ``Y`` by ``strided_slice`` (so it shares
``Y``'s int8 parameters). The float node also outputs the gate internals that calibration
observes; the quantizer turns them into the kernel's int16 scales and drops them."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from qcompile.frontends.onnx_ops import ONNX_OPS

_DEFAULT_ACTS = ("sigmoid", "tanh")
_DIRECTIONS = {"forward": (1, 0), "reverse": (1, 1), "bidirectional": (2, 0)}


def _text(v) -> str:
    return (v.decode() if isinstance(v, bytes) else str(v)).lower()


class RecurrentWeights(NamedTuple):
    """What ONNX GRU and LSTM read the same way: direction, sizes, and the constant W, R, B."""

    directions: int
    reverse: int
    steps: int
    batch: int
    inputs: int
    hidden: int
    w: np.ndarray  # [D, gates * H, I]
    r: np.ndarray  # [D, gates * H, H]
    b: np.ndarray  # [D, 2 * gates * H] (zeros when B is absent)


def recurrent_weights(conv, op: str, ins, attrs, gates: int) -> RecurrentWeights:
    """The shared part of the GRU (3 gates) and LSTM (4 gates) importers, with their shape and
    ``sequence_lens`` checks (each a failure naming the node)."""
    directions, reverse = _DIRECTIONS[_text(attrs.get("direction", "forward"))]
    steps, batch, inputs = conv.shape(ins[0])
    w, r = conv.const[ins[1]].astype(np.float32), conv.const[ins[2]].astype(np.float32)
    hidden = int(attrs.get("hidden_size", r.shape[-1]))
    if w.shape != (directions, gates * hidden, inputs) or r.shape != (directions, gates * hidden, hidden):
        raise conv.fail(f"{op} W {w.shape} / R {r.shape} do not match hidden_size {hidden} and the direction")
    if ins[4] and np.any(conv.const[ins[4]] != steps):
        raise conv.fail(f"{op} sequence_lens must all equal the sequence length (variable lengths are not supported)")
    b = conv.const[ins[3]].astype(np.float32) if ins[3] else np.zeros((directions, 2 * gates * hidden), np.float32)
    return RecurrentWeights(directions, reverse, steps, batch, inputs, hidden, w, r, b)


def _gru_problem(node, ins, attrs, const) -> str | None:
    if any(not i or i not in const for i in ins[1:3]) or (ins[3] and ins[3] not in const):
        return "GRU weights W, R and bias B must be constants"
    if ins[4] and ins[4] not in const:
        return "GRU sequence_lens must be absent or a constant equal to the sequence length"
    return recurrent_attr_problem("GRU", attrs, _DEFAULT_ACTS)


def recurrent_attr_problem(op: str, attrs, default_acts: tuple[str, ...]) -> str | None:
    """The attributes ONNX GRU and LSTM share that qcompile supports only at their defaults
    (layout 0, default activations, no clip) or in the listed directions."""
    if int(attrs.get("layout", 0)) != 0:
        return f"{op} layout 1 (batch first) is not supported; export with layout 0 (PyTorch does)"
    if _text(attrs.get("direction", "forward")) not in _DIRECTIONS:
        return f"{op} direction {attrs.get('direction')!r} is not forward, reverse or bidirectional"
    acts, n = [_text(a) for a in attrs.get("activations", [])], len(default_acts)
    if acts and any(tuple(acts[k : k + n]) != default_acts for k in range(0, len(acts), n)):
        names = ", ".join(a.capitalize() for a in default_acts)
        return f"{op} activations {acts} are not supported: only the default {names}"
    if "clip" in attrs:
        return f"{op} with a cell clip is not supported; export without clip"
    if "activation_alpha" in attrs or "activation_beta" in attrs:
        return f"{op} activation_alpha/activation_beta are not supported (default activations only)"
    return None


def _initial_h(conv, name: str) -> str:
    if not name:
        return ""
    if conv.is_const(name):
        if np.any(conv.const[name] != 0):
            raise conv.fail("a constant non-zero GRU initial_h is not supported; feed it as an input")
        return ""
    return conv.get(name, (0, 1, 2))


@ONNX_OPS.register("GRU", problem=_gru_problem)
def _gru(conv, node, ins, attrs) -> None:
    problem = _gru_problem(node, ins, attrs, set(conv.const))
    if problem:
        raise conv.fail(problem)
    directions, reverse, steps, batch, _, hidden, w, r, b = recurrent_weights(conv, "GRU", ins, attrs, 3)
    x = conv.get(ins[0], (0, 1, 2))
    h0 = _initial_h(conv, ins[5])
    y_shape = (steps, directions, batch, hidden)
    y_name = node.output[0] if node.output and _is_read(conv, node.output[0]) else ""
    y_h = node.output[1] if len(node.output) > 1 and node.output[1] else ""
    if y_name:
        y = conv.new_act(y_name, (0, 1, 2, 3))
    else:  # only Y_h is read: Y is calibrated as Y_h (its other steps are never read)
        y = conv.tmp_act(f"{node.name or 'gru'}__y", y_shape, source=y_h or None)
    internals = [conv.tmp_act(f"{y}__{k}", y_shape) for k in ("z_pre", "r_pre", "n_pre", "hn")]
    inputs = [x, conv.constant(f"{ins[1]}__gru_w", w), conv.constant(f"{ins[2]}__gru_r", r)]
    inputs += [conv.constant(f"{ins[3] or y}__gru_b", b), h0]
    conv.emit(
        "gru", inputs, [y, *internals], hidden=hidden, directions=directions, reverse=reverse,
        linear_before_reset=int(attrs.get("linear_before_reset", 0)),
    )  # fmt: skip
    if y_h:
        _last_state(conv, y_h, y, y_shape, reverse)


def _is_read(conv, name: str) -> bool:
    """ONNX tensor ``name`` is a graph output or some node's input."""
    graph = conv.model.graph
    return any(o.name == name for o in graph.output) or any(name in n.input for n in graph.node)


def _last_state(conv, y_h: str, y: str, y_shape: tuple[int, ...], reverse: int) -> None:
    """``Y_h [D, B, H]``: per direction the step it finished on (T - 1 forwards, 0 backwards)."""
    steps, directions, batch, hidden = y_shape
    parts = []
    for d in range(directions):
        backwards = d == 1 or bool(reverse)
        part = conv.tmp_act(f"{y_h}__d{d}", (1, 1, batch, hidden), source=None)
        begin = (0 if backwards else steps - 1, d, 0, 0)
        conv.emit("strided_slice", [y], [part], begin=begin, size=(1, 1, batch, hidden), strides=(1, 1, 1, 1))
        parts.append(part)
    both = parts[0]
    if directions == 2:
        both = conv.tmp_act(f"{y_h}__both", (1, 2, batch, hidden), source=None)
        conv.emit("concat", parts, [both], axis=1)
    out = conv.new_act(y_h, (0, 1, 2))
    conv.emit("reshape", [both], [out], shape=(directions, batch, hidden))

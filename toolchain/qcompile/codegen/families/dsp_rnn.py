"""Per-layer kernels of the recurrent ops for the ``dsp`` and ``mve`` families: the TFLite / ONNX
``lstm`` (TFLM's integer LSTM, docs/QUANTIZATION.md "LSTM") and the ONNX ``gru`` ("gru");
templates ``templates/kernels/dsp/lstm.c.j2`` and ``gru.c.j2`` (docs/QUANTIZATION.md, "LSTM and
GRU on the DSP family").

The gate matrix products are the whole MAC count. The element-wise code after them is the
shared inline code of ``runtime_c/include/qc_rnn.h``, which the portable kernels run too, so only
the products and the FC requantisations differ from ``qc_lstm.c`` / ``qc_gru.c``:

- per unit j the gate rows accumulate together, so the pre-activations need no scratch (LSTM)
  or the portable kernel's scratch (GRU): one word of four int8 activations, SXTB16 and SXTB16
  ROR #8 (pairs (v0, v2) and (v1, v3)), then per gate two int32 words of int16 weights
  pre-widened at compile time in that pair order, one SMLAD each (``pack_gate_rows``); a K % 4
  tail reads only its bytes. The GRU's int16 state meets int16 weight pairs (``pack_pair_rows``).
  With ``mve`` (Helium): one VMLADAVA.S8 per 16 taps of an int8 row (``pack_gate_rows_s8``), or
  VMLADAVA.S16 per 8 taps against the int16 state (``pack_rows_s16``), tails predicated off;
- the zero points are folded into the biases at compile time (``structs.lstm_folded_biases``,
  as the portable lowering does; the GRU's ``input_offset`` likewise), so the activations are
  the raw int8 values;
- each LSTM FC result is requantised with one SMLAL (``qc_requantize_x2``, or
  ``qc_requantize_x2_e0`` for shift 0) when that is exact: positive multiplier, shift in
  [-31, 0] and ``2 * |acc| < 2^31`` for every int8 input (``|bias| + 128 * sum |w|``, checked
  per gate here); otherwise TFLM's general ``qc_requantize``. A GRU is specialised only when its
  int64 sums fit int32 and every shift is in [-16, 7] (then TFLM's int64 MBQM is
  ``qc_requantize_s16_x32``); otherwise it keeps ``qc_gru_s8``. The int32 sums wrap as the
  portable int32 sums do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from qcompile.codegen.families.dsp_s16 import requant_s16_table
from qcompile.codegen.families.layer_math import _wrap32, emit_layer_kernel
from qcompile.codegen.lowering_base import c_int
from qcompile.ir import Graph, Node
from qcompile.ops import structs

if TYPE_CHECKING:
    from qcompile.codegen.lowering import Layer, Lowering

_X_MAX = 128
"""Largest |int8| activation: the bound of every product is ``_X_MAX * |w|``."""


def pack_gate_rows(w: np.ndarray) -> np.ndarray:
    """``[G, H, K]`` int8 -> int32 words ``[H][ceil(K / 4)][gate][2]`` for rows against int8 activations.

    Per unit, quad of taps (k0..k3, zero-padded) and gate: the word of int16 lanes (w_k0, w_k2)
    (bottom first) then (w_k1, w_k3), the pairs SXTB16 / SXTB16 ROR #8 make of four activations.
    """
    w = np.asarray(w, dtype=np.int64)
    gates, hidden, k = w.shape
    kpad = -(-k // 4) * 4
    padded = np.zeros((gates, hidden, kpad), dtype=np.int64)
    padded[:, :, :k] = w
    quads = padded.reshape(gates, hidden, kpad // 4, 4)[..., [0, 2, 1, 3]].reshape(gates, hidden, kpad // 4, 2, 2)
    words = (quads[..., 0] & 0xFFFF) | ((quads[..., 1] & 0xFFFF) << 16)  # [gate, H, quads, 2]
    return _wrap32(words.transpose(1, 2, 0, 3).reshape(-1))


def pack_pair_rows(w: np.ndarray) -> np.ndarray:
    """``[G, H, K]`` int8 -> int32 words ``[H][ceil(K / 2)][gate]``, each the int16 lanes (w_2p, w_2p+1)
    (bottom first, K zero-padded to even): rows against an int16 vector read two lanes per word."""
    w = np.asarray(w, dtype=np.int64)
    gates, hidden, k = w.shape
    padded = np.zeros((gates, hidden, k + (k & 1)), dtype=np.int64)
    padded[:, :, :k] = w
    pairs = padded.reshape(gates, hidden, -1, 2)
    words = (pairs[..., 0] & 0xFFFF) | ((pairs[..., 1] & 0xFFFF) << 16)  # [gate, H, pairs]
    return _wrap32(words.transpose(1, 2, 0).reshape(-1))


def _unit_major_rows(w: np.ndarray, lanes: int) -> np.ndarray:
    """``[G, H, K]`` -> ``[H][gate][K']``, each row zero-padded to a multiple of ``lanes`` taps."""
    w = np.asarray(w, dtype=np.int64)
    gates, hidden, k = w.shape
    padded = np.zeros((gates, hidden, -(-k // lanes) * lanes), dtype=np.int64)
    padded[:, :, :k] = w
    return padded.transpose(1, 0, 2).reshape(-1)


def pack_gate_rows_s8(w: np.ndarray) -> np.ndarray:
    """``[G, H, K]`` int8 -> int8 ``[H][gate][K16]``, each row zero-padded to a multiple of 16: the
    Helium form (one VMLADAVA.S8 per 16 taps of a row; the activation tail is predicated off)."""
    return _unit_major_rows(w, 16)


def pack_rows_s16(w: np.ndarray) -> np.ndarray:
    """``[G, H, K]`` int8 -> int16 ``[H][gate][K8]``, rows zero-padded to a multiple of 8: the Helium
    form of rows against an int16 vector (one VMLADAVA.S16 per 8 taps)."""
    return _unit_major_rows(w, 8)


def pack_lstm_weights(w: np.ndarray) -> np.ndarray:
    """``[4, H, K]`` LSTM gate weights in the template's order (:func:`pack_gate_rows`)."""
    return pack_gate_rows(w)


def fc_requant_expr(multiplier: int, shift: int, bound: int) -> str:
    """C expression of ``qc_requantize(ACC, multiplier, shift)`` (``ACC`` a placeholder): the one
    SMLAL forms when exact for every accumulator of magnitude at most ``bound``, else the general."""
    m, s = int(multiplier), int(shift)
    if m > 0 and -31 <= s <= 0 and 2 * int(bound) < 2**31:
        if s == 0:
            return f"qc_requantize_x2_e0(2 * ACC, {m})"
        return f"qc_requantize_x2(2 * ACC, {m}, {1 << (-s - 1)}, {-s})"
    return f"qc_requantize(ACC, {m}, {s})"


def _gate_bounds(w: np.ndarray, bias: np.ndarray) -> list[int]:
    """Per gate, the largest ``|bias| + 128 * sum |w|`` over its rows (``w [4, H, K]``, bias ``[4 H]``)."""
    s = _X_MAX * np.abs(np.asarray(w, dtype=np.int64)).sum(axis=2)
    b = np.abs(np.asarray(bias, dtype=np.int64).reshape(4, -1))
    return [int(v) for v in (s + b).max(axis=1)]


def lstm_ok(graph: Graph, node: Node) -> bool:
    """An int8 LSTM whose weights are constants (every variant the portable kernels run: one
    requantisation per gate, TFLM's, or per gate row, the ONNX LSTM's)."""
    if node.op != "lstm":
        return False
    w, r = (graph.tensors[node.inputs[i]] for i in (1, 2))
    return w.data is not None and r.data is not None and graph.tensors[node.inputs[3]].data is not None


def _lstm_weights(lo: Lowering, node: Node, wd: np.ndarray, rd: np.ndarray, mve: bool) -> dict[str, str]:
    """The packed input and recurrent weight arrays (int16 pairs for SMLAD, or int8 rows for Helium)."""
    pack, ctype = (pack_gate_rows_s8, "int8_t") if mve else (pack_lstm_weights, "int32_t")
    return {
        "w_in": lo.array("w", f"{node.name}_dsp_w", ctype, pack(wd), f"{node.name} packed input weights"),
        "w_rec": lo.array("w", f"{node.name}_dsp_r", ctype, pack(rd), f"{node.name} packed recurrent weights"),
    }


def lower_lstm(lo: Lowering, layer: Layer, node: Node, mve: bool = False) -> int | None:
    """The LSTM's per-layer DSP function (its MACs), or None for the portable kernel; ``mve``: the
    Helium products (VMLADAVA.S8, int8 rows padded to 16) in place of SMLAD."""
    if not lstm_ok(lo.graph, node):
        return None
    x, w, r, b, h0, c0 = node.inputs
    y, h, c = node.outputs
    tensors = lo.graph.tensors
    wd, rd = tensors[w].data, tensors[r].data
    fields = structs.lstm_fields(lo.shape(x), lo.shape(w), node.attrs)
    bias_in, bias_rec = structs.lstm_folded_biases(wd, rd, tensors[b].data, node.attrs)
    hidden, inputs = fields["hidden_size"], fields["input_size"]
    per_unit = {"in": bias_in.reshape(4, hidden).T, "rec": bias_rec.reshape(4, hidden).T}
    ctx = {
        "batches": fields["batches"],
        "steps": fields["time_steps"],
        "inputs": inputs,
        "hidden": hidden,
        "time_major": fields["time_major"],
        "mve": mve,
        **_lstm_weights(lo, node, wd, rd, mve),
        "bias_in": lo.array("w", f"{node.name}_dsp_bi", "int32_t", per_unit["in"], f"{node.name} input bias [H][4]"),
        "bias_rec": lo.array("w", f"{node.name}_dsp_br", "int32_t", per_unit["rec"], f"{node.name} rec. bias [H][4]"),
    }
    rows = structs.lstm_row_requant(node.attrs, hidden)
    bounds = (_gate_bounds(wd, bias_in), _gate_bounds(rd, bias_rec))
    ctx.update(_gate_requant(fields, *bounds) if rows is None else _row_requant(lo, node, rows, bounds))
    sig = "const int8_t *, const int8_t *, const int16_t *, int8_t *, int8_t *, int16_t *"
    args = [lo.src(x), lo.src(h0), lo.src(c0), lo.dst(y), lo.dst(h), lo.dst(c)]
    _emit(lo, layer, node, "lstm.c.j2", fields, ctx, (sig, args))
    return fields["batches"] * fields["time_steps"] * 4 * hidden * (inputs + hidden)


def _gate_requant(fields: dict, bounds_in: list[int], bounds_rec: list[int]) -> dict[str, Any]:
    """TFLM's one requantisation per gate as constant C expressions (one SMLAL where exact)."""
    rq_in = [
        fc_requant_expr(fields["gate_in_multiplier"][g], fields["gate_in_shift"][g], bounds_in[g]) for g in range(4)
    ]
    rq_rec = [
        fc_requant_expr(fields["gate_rec_multiplier"][g], fields["gate_rec_shift"][g], bounds_rec[g]) for g in range(4)
    ]
    fast = sum("_x2" in e for e in (*rq_in, *rq_rec))
    return {"rq_in": rq_in, "rq_rec": rq_rec, "rq_note": f"{fast} of the 8 FC requantisations in one SMLAL"}


def _row_requant(lo: Lowering, node: Node, rows: np.ndarray, bounds: tuple[list[int], list[int]]) -> dict[str, Any]:
    """One requantisation per gate row (``structs.lstm_row_requant``, the ONNX LSTM), read from a
    ``[H][gate][in_m, in_s, in_half, rec_m, rec_s, rec_half]`` table (unit j's 24 words together).
    A gate side whose rows all have a positive multiplier and a right shift, and whose sums stay
    within ``bounds`` (``2 |acc| < 2^31``), takes the one-SMLAL ``qc_requantize_x2`` (``in_half`` =
    ``2^(-s - 1)``); any other the general ``qc_requantize``."""
    r = np.asarray(rows, dtype=np.int64).reshape(4, -1, 4)  # [gate, H, (in_m, in_s, rec_m, rec_s)]
    fast = [
        [bool((r[:, :, 2 * k] > 0)[g].all() and (r[:, :, 2 * k + 1] <= -1)[g].all()) for g in range(4)] for k in (0, 1)
    ]
    fast = [[fast[k][g] and 2 * bounds[k][g] < 2**31 for g in range(4)] for k in (0, 1)]
    half = np.where(r[:, :, 1::2] <= -1, np.left_shift(1, np.maximum(-r[:, :, 1::2] - 1, 0)), 0)
    table = np.stack([r[:, :, 0], r[:, :, 1], half[:, :, 0], r[:, :, 2], r[:, :, 3], half[:, :, 1]], axis=2)
    arr = lo.array("w", f"{node.name}_dsp_rq", "int32_t", table.transpose(1, 0, 2), f"{node.name} per-row requant")

    def expr(k: int, g: int) -> str:
        m, sh, hf = (f"{arr}[24 * j + {6 * g + 3 * k + i}]" for i in range(3))
        return f"qc_requantize_x2(2 * ACC, {m}, {hf}, -{sh})" if fast[k][g] else f"qc_requantize(ACC, {m}, {sh})"

    n = sum(map(sum, fast))
    return {
        "rq_in": [expr(0, g) for g in range(4)],
        "rq_rec": [expr(1, g) for g in range(4)],
        "rq_note": f"one requantisation per gate row; {n} of the 8 gate FCs in one SMLAL",
    }


def _gru_requant_rows(requant: np.ndarray, directions: int, hidden: int) -> np.ndarray | None:
    """The GRU's ``[mx, ex, mh, eh]`` rows as ``[D][H][gate][rm, round, total] x (input, recurrent)``
    for ``qc_requantize_s16_x32``, or None when a shift is outside [-16, 7] or a multiplier negative."""
    rows = np.asarray(requant, dtype=np.int64).reshape(directions * 3 * hidden, 2, 2)
    tables = [requant_s16_table(rows[:, side, 0], rows[:, side, 1], len(rows)) for side in (0, 1)]
    if any(t is None for t in tables) or min(int(rows[:, side, 1].min()) for side in (0, 1)) < -16:
        return None
    sides = [np.stack([t[0::2], np.left_shift(1, t[1::2] - 1), t[1::2]], axis=1) for t in tables]
    both = np.concatenate(sides, axis=1).reshape(directions, 3, hidden, 6)
    return both.transpose(0, 2, 1, 3).reshape(-1)


def _gru_arrays(lo: Lowering, node: Node, hidden: int, directions: int, lbr: int, mve: bool) -> dict[str, Any] | None:
    """Packed weights, folded biases ``[D][H][3]`` and requantisation rows; None when a sum may
    leave int32 or a requantisation has no one-SMLAL form (the portable kernel then runs)."""
    t = lo.graph.tensors
    x, w, r, wb, rb, requant = node.inputs[:6]
    if any(t[n].data is None for n in (w, r, wb, rb, requant)):
        return None
    wd = np.asarray(t[w].data, dtype=np.int64).reshape(directions, 3, hidden, -1)
    rd = np.asarray(t[r].data, dtype=np.int64).reshape(directions, 3, hidden, hidden)
    bx = np.asarray(t[wb].data, dtype=np.int64).reshape(directions, 3, hidden)
    bx = bx + int(node.attrs["input_offset"]) * wd.sum(axis=3)
    bh = np.asarray(t[rb].data, dtype=np.int64).reshape(directions, 3, hidden)
    if (np.abs(bx) + _X_MAX * np.abs(wd).sum(axis=3)).max() >= 2**31:
        return None
    if (np.abs(bh) + 32768 * np.abs(rd).sum(axis=3)).max() >= 2**31:
        return None
    rq = _gru_requant_rows(t[requant].data, directions, hidden)
    if rq is None:
        return None
    name = node.name
    rec = 3 if lbr else 2
    pack_in, pack_rec = (pack_gate_rows_s8, pack_rows_s16) if mve else (pack_gate_rows, pack_pair_rows)
    types = {"w_in": "int8_t", "w_rec": "int16_t"} if mve else {"w_in": "int32_t", "w_rec": "int32_t"}
    out = {
        "w_in": np.concatenate([pack_in(wd[d]) for d in range(directions)]),
        "w_rec": np.concatenate([pack_rec(rd[d, :rec]) for d in range(directions)]),
        "bias_x": bx.transpose(0, 2, 1),
        "bias_h": bh.transpose(0, 2, 1),
        "rq": rq,
    }
    ctx: dict[str, Any] = {"rec_gates": rec, "w_in_type": types["w_in"], "w_rec_type": types["w_rec"]}
    for key in ("w_in", "w_rec", "bias_x", "bias_h", "rq"):
        ctx[key] = lo.array("w", f"{name}_dsp_{key}", types.get(key, "int32_t"), out[key], f"{name} packed {key}")
    ctx["w_in_dir"], ctx["w_rec_dir"] = len(out["w_in"]) // directions, len(out["w_rec"]) // directions
    if lbr:
        ctx["w_n"], ctx["w_n_dir"] = ctx["w_rec"], 0
    else:
        wn = np.concatenate([pack_rec(rd[d, 2:]) for d in range(directions)])
        ctx["w_n"] = lo.array("w", f"{name}_dsp_w_n", types["w_rec"], wn, f"{name} packed n rows")
        ctx["w_n_dir"] = len(wn) // directions
    return ctx


def lower_gru(lo: Lowering, layer: Layer, node: Node, mve: bool = False) -> int | None:
    """The GRU's per-layer DSP function (its MACs), or None for the portable ``qc_gru_s8``; ``mve``:
    Helium products (VMLADAVA.S8 input rows, VMLADAVA.S16 recurrent rows) in place of SMLAD."""
    x, h0, y = node.inputs[0], node.inputs[6], node.outputs[0]
    state16 = len(node.outputs) == 2  # the Q15 state in and out (as qc_gru_state16_s8)
    if state16 and not h0:
        return None
    fields = structs.gru_fields(lo.shape(x), node.attrs)
    hidden, dirs, lbr = fields["hidden"], fields["directions"], fields["linear_before_reset"]
    arrays = _gru_arrays(lo, node, hidden, dirs, lbr, mve)
    if arrays is None or lo.scratch(node) == "NULL":
        return None
    h16 = (2 * hidden + 3) // 4 * 4
    offsets = {"off_z": 12 * hidden, "off_r": 12 * hidden + h16, "off_tmp": 12 * hidden + 2 * h16}
    ctx = {
        "steps": fields["steps"],
        "batch": fields["batch"],
        "inputs": fields["input_size"],
        "hidden": hidden,
        "directions": dirs,
        "reverse": fields["reverse"],
        "lbr": lbr,
        "has_h0": bool(h0),
        "state16": state16,
        "mve": mve,
        "off_h": 12 * hidden + 3 * h16,
        **offsets,
        **arrays,
    }
    if state16:
        sig = "const int8_t *, const int16_t *, int8_t *, int16_t *, void *"
        args = [lo.src(x), lo.src(h0), lo.dst(y), lo.dst(node.outputs[1]), lo.scratch(node)]
    else:
        sig = "const int8_t *, const int8_t *, int8_t *, void *"
        args = [lo.src(x), lo.src(h0) if h0 else "NULL", lo.dst(y), lo.scratch(node)]
    _emit(lo, layer, node, "gru.c.j2", fields, ctx, (sig, args))
    return fields["steps"] * dirs * fields["batch"] * 3 * hidden * (fields["input_size"] + hidden)


def _emit(
    lo: Lowering, layer: Layer, node: Node, template: str, fields: dict, ctx: dict, call: tuple[str, list[str]]
) -> None:
    """Render ``template`` as this layer's ``<cname>_l<i>_dsp`` (its parameters a ``static const``
    struct of ``fields``, so the shared inline helpers fold them) and call it with ``call``
    (prototype argument types, arguments); a nonzero status fails the layer."""
    sig, args = call
    emit_layer_kernel(lo, layer, node, template, sig, args, fields=[(k, _c_value(v)) for k, v in fields.items()], **ctx)
    lo.functions.add("qc_logistic_s16_value")  # its file holds the sigmoid table qc_rnn.h reads


RNN_OPS = ("lstm", "gru")


def lower_rnn(lo: Lowering, layer: Layer, node: Node, mve: bool = False) -> int | None:
    """An ``RNN_OPS`` node's function (its MACs), or None for the portable kernel. The ``mve`` family
    passes ``mve``: the gate products then use Helium (the element-wise code is the same)."""
    return lower_lstm(lo, layer, node, mve) if node.op == "lstm" else lower_gru(lo, layer, node, mve)


def _c_value(v: object) -> str:
    if isinstance(v, list | tuple):
        return "{" + ", ".join(c_int(int(e)) for e in v) + "}"
    return c_int(int(v))


__all__ = [
    "RNN_OPS",
    "lower_rnn",
    "fc_requant_expr",
    "lower_gru",
    "lower_lstm",
    "lstm_ok",
    "pack_gate_rows",
    "pack_gate_rows_s8",
    "pack_lstm_weights",
    "pack_pair_rows",
    "pack_rows_s16",
]

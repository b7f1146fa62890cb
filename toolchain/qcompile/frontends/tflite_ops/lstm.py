"""TFLite UNIDIRECTIONAL_SEQUENCE_LSTM as TFLite Micro runs it (``unidirectional_sequence_lstm.cc``,
``lstm_eval_common.cc``): int8 input, output and hidden state, int8 per-tensor weights, int32
biases, int16 cell state; no peephole, projection, layer norm or CIFG (TFLM refuses them too).

The four input and four recurrent weight matrices become one ``[4, H, I]`` and one ``[4, H, H]``
constant (gate order input, forget, cell, output) and the biases one ``[4, H]``: an ``lstm``
node (:mod:`qcompile.reference.kernels.lstm`). The hidden and cell state are TFLite variable
tensors, which TFLM keeps from one invoke to the next (reset to the zero point): each becomes
a state input/output pair of ``Graph.state`` (docs/ARCHITECTURE.md, "Persistent state").
"""

from __future__ import annotations

import numpy as np

from qcompile.frontends.tflite_ops import TFLITE_OPS
from qcompile.ir import StateVar, Tensor
from qcompile.reference.kernels.lstm import lstm_params

_W_IN, _W_REC, _BIAS = (1, 2, 3, 4), (5, 6, 7, 8), (12, 13, 14, 15)
_UNSUPPORTED = {
    (9, 10, 11): "peephole (cell-to-gate) weights",
    (16, 17): "a projection layer",
    (20, 21, 22, 23): "layer normalisation",
}
_H_STATE, _C_STATE = 18, 19
_INT8, _INT16 = 9, 7


def _optional(op, i: int) -> int:
    return op.inputs[i] if i < len(op.inputs) else -1


def _check(imp, op) -> None:
    if len(op.inputs) != 24 or len(op.outputs) != 1:
        raise ValueError(f"expected 24 inputs and 1 output, got {len(op.inputs)} and {len(op.outputs)}")
    for group, what in _UNSUPPORTED.items():
        if any(_optional(op, i) >= 0 for i in group):
            raise ValueError(f"{what} is not supported (TFLite Micro's LSTM refuses it too)")
    if op.inputs[1] < 0:
        raise ValueError("CIFG (no input gate) is not supported (TFLite Micro requires the input gate weights)")
    if op.options.get("fused_activation_function", "TANH") != "TANH":
        raise ValueError(f"cell activation {op.options.get('fused_activation_function')} (only TANH is supported)")
    for i in _W_IN + _W_REC:
        t = imp.t(op.inputs[i])
        if t.data is None or np.asarray(t.data).dtype != np.int8 or t.quant is None or t.quant.scale.size != 1:
            raise ValueError(f"weight {t.name!r} must be a constant per-tensor int8 tensor (TFLM reads one scale)")
    for i in _BIAS:
        t = imp.t(op.inputs[i])
        if t.data is None or np.asarray(t.data).dtype != np.int32:
            raise ValueError(f"gate bias {t.name!r} must be a constant int32 tensor")
    for i in (_H_STATE, _C_STATE):
        t = imp.t(op.inputs[i])
        if t.data is not None or not t.is_variable or t.quant is None:
            raise ValueError(f"state {t.name!r} must be a quantized variable tensor")
    if imp.t(op.inputs[_C_STATE]).type != _INT16 or int(imp.q(op.inputs[_C_STATE]).scalar_zero_point()):
        raise ValueError("the cell state must be int16 with zero point 0")
    for i in (0, _H_STATE):
        if imp.t(op.inputs[i]).type != _INT8:
            raise ValueError(f"{imp.t(op.inputs[i]).name!r} must be int8 (the 16x8 LSTM is not supported yet)")


def _stacked(imp, op, indices, name: str, dtype) -> str:
    data = np.stack([np.asarray(imp.t(op.inputs[i]).data, dtype=dtype) for i in indices])
    ident = imp.graph.unique_name(name)
    imp.graph.add_tensor(Tensor(ident, tuple(data.shape), np.dtype(dtype).name, data))
    return ident


def _state(imp, index: int, suffix: str) -> tuple[str, str]:
    """(state input, state output) of variable tensor ``index``; TFLM resets it to its zero point."""
    state_in = imp.name(index)
    t = imp.graph.tensors[state_in]
    out = imp.graph.unique_name(f"{state_in}_{suffix}")
    imp.graph.add_tensor(Tensor(out, t.shape, t.dtype, quant=t.quant))
    init = np.full(t.size, int(t.quant.scalar_zero_point()), dtype=t.dtype)
    imp.pending_state.append(StateVar(imp.t(index).name or state_in, state_in, out, init))
    return state_in, out


@TFLITE_OPS.register("UNIDIRECTIONAL_SEQUENCE_LSTM")
def _lstm(imp, op) -> None:
    _check(imp, op)
    qx, qh, qc = imp.q(op.inputs[0]), imp.q(op.inputs[_H_STATE]), imp.q(op.inputs[_C_STATE])
    attrs = lstm_params(
        qx.scalar_scale(),
        qx.scalar_zero_point(),
        [imp.q(op.inputs[i]).scalar_scale() for i in _W_IN],
        [imp.q(op.inputs[i]).scalar_scale() for i in _W_REC],
        qh.scalar_scale(),
        qh.scalar_zero_point(),
        qc.scalar_scale(),
        float(op.options.get("cell_clip", 0.0)),
        time_major=bool(op.options.get("time_major", 0)),
    )
    w = _stacked(imp, op, _W_IN, f"lstm{op.index}_w", np.int8)
    r = _stacked(imp, op, _W_REC, f"lstm{op.index}_r", np.int8)
    b = _stacked(imp, op, _BIAS, f"lstm{op.index}_b", np.int32)
    h_in, h_out = _state(imp, op.inputs[_H_STATE], "next")
    c_in, c_out = _state(imp, op.inputs[_C_STATE], "next")
    y = imp.name(op.outputs[0])
    imp.add(op, "lstm", [imp.name(op.inputs[0]), w, r, b, h_in, c_in], [y, h_out, c_out], attrs)

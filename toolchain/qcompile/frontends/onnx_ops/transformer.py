"""ONNX converters of the attention ops: LayerNormalization, Gelu (also the fused forms of
:mod:`qcompile.frontends.onnx_fusions`) and MatMul between two activations."""

from __future__ import annotations

import math

import numpy as np

from qcompile.frontends.onnx_ops import ONNX_OPS


def _identity(rank: int) -> tuple[int, ...]:
    return tuple(range(rank))


def _ln_problem(node, ins, attrs, const) -> str | None:
    if len([o for o in node.output if o]) > 1:
        return "LayerNormalization with Mean/InvStdDev outputs is not supported"
    if any(i and i not in const for i in ins[1:3]):
        return "LayerNormalization scale and bias must be constant"
    return None


@ONNX_OPS.register("LayerNormalization", problem=_ln_problem)
def _layer_norm(conv, node, ins, attrs) -> None:
    """``layer_norm`` over the innermost physical axis: one normalised axis moves last (as
    Softmax does); several trailing axes are flattened into one by a reshape."""
    x, y = ins[0], node.output[0]
    shape = conv.shape(x)
    rank = len(shape)
    axis = int(attrs.get("axis", -1)) % rank
    eps = float(attrs.get("epsilon", 1e-5))
    inner = shape[axis:]
    c = math.prod(inner)

    def param(name: str, default: float) -> np.ndarray:
        if not name:
            return np.full(c, default, dtype=np.float32)
        data = conv.const[name].astype(np.float32)
        return np.broadcast_to(data.reshape((1,) * (len(inner) - data.ndim) + data.shape), inner).reshape(-1)

    gamma = conv.constant(f"{ins[1] or y}__ln_gamma", param(ins[1], 1.0))
    beta = conv.constant(f"{ins[2] or y}__ln_beta", param(ins[2], 0.0))
    if axis == rank - 1:
        _, cur = conv.act(x)
        perm = cur if cur[-1] == axis else tuple([p for p in cur if p != axis] + [axis])
        xin = conv.get(x, perm)
        out = conv.new_act(y, perm)
        conv.emit("layer_norm", [xin, gamma, beta], [out], epsilon=eps)
        return
    flat = (*shape[:axis], c)
    xin = conv.get(x, _identity(rank))
    t_in = conv.tmp_act(f"{xin}__ln2d", flat, source=x)
    conv.emit("reshape", [xin], [t_in], shape=flat)
    t_out = conv.tmp_act(f"{y}__ln2d", flat, source=y)
    conv.emit("layer_norm", [t_in, gamma, beta], [t_out], epsilon=eps)
    out = conv.new_act(y, _identity(rank))
    conv.emit("reshape", [t_out], [out], shape=tuple(shape))


def matmul_activations(conv, node, ins) -> None:
    """ONNX MatMul whose second input is an activation: ``batch_matmul``. An operand whose
    last two axes are swapped in memory (an ONNX Transpose of K in attention) is read with
    ``adj_x``/``adj_y`` instead of being transposed."""
    operands, adj = [], []
    for name in ins[:2]:
        rank = len(conv.shape(name))
        if rank < 2:
            raise conv.fail("MatMul of two activations needs operands of rank >= 2")
        if rank > 5:
            raise conv.fail("MatMul of two activations supports rank <= 5")
        ident = _identity(rank)
        swapped = (*ident[:-2], rank - 1, rank - 2)
        if not conv.is_const(name) and conv.val.get(name, (None, None))[1] == swapped:
            operands.append(conv.val[name][0])
            adj.append(1)
        else:
            operands.append(conv.get(name, ident))
            adj.append(0)
    y = node.output[0]
    out = conv.new_act(y, _identity(len(conv.shape(y))))
    conv.emit("batch_matmul", operands, [out], adj_x=adj[0], adj_y=adj[1])

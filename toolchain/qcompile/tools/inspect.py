"""``qcompile inspect``: one row per ONNX node, never failing on unsupported ops.

Inspect is what a user runs *before* compiling, often precisely because a model does not
compile, so it reuses the importer's per-node support check (same reasons, same notion
of "constant") but reports instead of raising, and tolerates shapes it cannot infer.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from qcompile.frontends.onnx_import import (
    _fix_dims,
    _node_problem,
    _structural_constants,
    model_opset,
    read_model,
)


def _shapes(model: onnx.ModelProto, path: str) -> dict[str, tuple[int, ...] | None]:
    m = onnx.ModelProto()
    m.CopyFrom(model)
    try:
        _fix_dims(m, path)
    except Exception:  # dynamic dims stay symbolic (-1 below); inspect says which option fixes them
        pass
    try:
        m = onnx.shape_inference.infer_shapes(m, data_prop=True)
    except Exception:
        pass
    out: dict[str, tuple[int, ...] | None] = {}
    for vi in list(m.graph.input) + list(m.graph.value_info) + list(m.graph.output):
        tt = vi.type.tensor_type
        if tt.HasField("shape"):
            out[vi.name] = tuple(int(d.dim_value) if d.HasField("dim_value") else -1 for d in tt.shape.dim)
    for init in m.graph.initializer:
        out[init.name] = tuple(int(d) for d in init.dims)
    return out


def _recurrent_macs(node: onnx.NodeProto, shapes: dict[str, Any]) -> int:
    """RNN/GRU/LSTM: every step and direction multiplies the gates' rows by ``[x, h]``:
    ``T * B * D * (G H) * (I + H)`` from X ``[T, B, I]`` and R ``[D, G H, H]``."""
    x, r = (shapes.get(node.input[k]) if len(node.input) > k else None for k in (0, 2))
    if not x or not r or len(x) != 3 or len(r) != 3 or any(d < 0 for d in (*x, *r)):
        return 0
    return int(x[0]) * int(x[1]) * int(r[0]) * int(r[1]) * (int(x[2]) + int(r[2]))


def _macs(node: onnx.NodeProto, shapes: dict[str, Any]) -> int:
    """Multiply-accumulates of the ops that dominate compute (conv, gemm, matmul, recurrent)."""
    if node.op_type in ("RNN", "GRU", "LSTM"):
        return _recurrent_macs(node, shapes)
    out = shapes.get(node.output[0]) if node.output else None
    if not out or any(d < 0 for d in out):
        return 0
    n_out = int(np.prod(out, dtype=np.int64))
    w = shapes.get(node.input[1]) if len(node.input) > 1 else None
    if not w or any(d < 0 for d in w):
        return 0
    if node.op_type == "Conv":
        return n_out * int(np.prod(w[1:], dtype=np.int64))
    if node.op_type == "Gemm":
        trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
        return n_out * int(w[1] if trans_b else w[0])
    if node.op_type == "MatMul":
        return n_out * int(w[-2] if len(w) >= 2 else w[0])
    return 0


def describe(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Rows for every node: ``name``, ``op_type``, ``domain``, ``output_shapes`` (list of
    tuples, -1 for unknown dims, None when not inferred), ``params`` (elements of the
    constant weights it reads), ``macs``, ``supported`` (bool) and ``reason`` (why not and
    what would make it compile, e.g. ``--input-shape`` for a shape that depends on a dynamic
    input dimension; else None). A corrupt file raises QCompileError; unsupported ops never do. Totals:
    :func:`totals`.
    """
    from qcompile.errors import QCompileError
    from qcompile.frontends.detect import model_kind
    from qcompile.frontends.onnx_fusions import fused_node_indices

    path_s = os.fspath(path)
    if model_kind(Path(path_s)) == "tflite":
        raise QCompileError(
            f"{path_s} is an int8 TFLite model; `qcompile inspect` reads ONNX models. Compile it directly "
            "(`qcompile MODEL.tflite -o DIR`): DIR/report.json lists every layer"
        )
    model = read_model(path_s)
    opset = model_opset(model)
    const = _structural_constants(model)
    shapes = _shapes(model, path_s)
    inits = {i.name: int(np.prod(i.dims, dtype=np.int64)) for i in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant":
            for a in node.attribute:
                if a.name == "value":
                    inits[node.output[0]] = int(np.prod(a.t.dims, dtype=np.int64))
    from qcompile.frontends.onnx_qdq import QUANTIZED_OPS, is_quantized

    # a pre-quantized model's Q/DQ and QLinear* nodes are read by frontends/onnx_qdq
    quantized = is_quantized(model)
    dynamic = _dynamic_inputs(model, set(inits))
    rows = []
    try:  # parts of a recognised LayerNorm/GELU chain; advisory, so a malformed model only loses it
        fused = fused_node_indices(model)
    except (ValueError, TypeError, KeyError, IndexError):
        fused = set()
    for idx, node in enumerate(model.graph.node):
        if idx in fused or (quantized and node.op_type in QUANTIZED_OPS):
            reason = None
        else:
            reason = _node_problem(node, const, opset)
        out_shapes = [shapes.get(o) for o in node.output if o]
        if reason is None and dynamic and any(sh is not None and -1 in sh[1:] for sh in out_shapes):
            reason = f"its shape depends on dynamic input dimensions: compile with {dynamic}"
        params = sum(inits.get(i, 0) for i in node.input[1:] if i) if node.op_type != "Constant" else 0
        rows.append(
            {
                "name": node.name or f"#{idx}",
                "op_type": node.op_type,
                "domain": node.domain or "ai.onnx",
                "output_shapes": [shapes.get(o) for o in node.output if o],
                "params": params,
                "macs": _macs(node, shapes),
                "supported": reason is None,
                "reason": reason,
            }
        )
    return rows


def _dynamic_inputs(model: onnx.ModelProto, inits: set[str]) -> str:
    """``--input-shape`` options naming every graph input with a dynamic non-batch dimension
    (``NAME=1,3,H,W`` with the symbolic names left to fill in), or "" when all are static."""
    parts = []
    for vi in model.graph.input:
        if vi.name in inits or not vi.type.tensor_type.HasField("shape"):
            continue
        dims = vi.type.tensor_type.shape.dim
        shown = [
            str(d.dim_value) if d.HasField("dim_value") and d.dim_value > 0 else (d.dim_param or "?") for d in dims
        ]
        if any(not (d.HasField("dim_value") and d.dim_value > 0) for d in list(dims)[1:]):
            parts.append(f"--input-shape {vi.name}={','.join(['1', *shown[1:]])}")
    return " ".join(parts)


def totals(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Sums over :func:`describe` rows: nodes, params, macs, unsupported."""
    return {
        "nodes": len(rows),
        "params": sum(int(r["params"]) for r in rows),
        "macs": sum(int(r["macs"]) for r in rows),
        "unsupported": sum(not r["supported"] for r in rows),
    }

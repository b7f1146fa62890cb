"""TFLite BATCH_MATMUL (int8, and int16 16x8): both operands activations, leading dims broadcast, adj_x/adj_y;
parameters as TFLM's ``BatchMatMulPrepare`` derives them (no fused activation: the int8
or int16 limits)."""

from __future__ import annotations

import numpy as np

from qcompile.frontends.tflite_ops import TFLITE_OPS
from qcompile.quant.converters.transformer import batch_matmul_params


@TFLITE_OPS.register("BATCH_MATMUL")
def _batch_matmul(imp, op) -> None:
    if len(op.inputs) != 2 or len(op.outputs) != 1:
        raise ValueError("BATCH_MATMUL takes two inputs and one output")
    qa, qb, qo = imp.q(op.inputs[0]), imp.q(op.inputs[1]), imp.q(op.outputs[0])
    if qa.per_channel or qb.per_channel or qo.per_channel:
        raise ValueError("BATCH_MATMUL needs per-tensor quantization")
    params = batch_matmul_params(
        qa.scalar_scale(), qa.scalar_zero_point(), qb.scalar_scale(), qb.scalar_zero_point(),
        qo.scalar_scale(), qo.scalar_zero_point(),
    )  # fmt: skip
    attrs = {"adj_x": int(bool(op.options.get("adj_x", 0))), "adj_y": int(bool(op.options.get("adj_y", 0)))}
    info = np.iinfo(qo.dtype)  # int8, or int16 (TFLM's EvalInt16: zero points 0, int16 limits)
    attrs |= params | {"act_min": int(info.min), "act_max": int(info.max)}
    inputs = [imp.name(i) for i in op.inputs]
    imp.add(op, "batch_matmul", inputs, [imp.name(op.outputs[0])], attrs)

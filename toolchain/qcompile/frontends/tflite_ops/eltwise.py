"""TFLite MAXIMUM, MINIMUM, PRELU and LEAKY_RELU with TFLM's integer parameters.

* MAXIMUM / MINIMUM: TFLM compares the stored int8 values with broadcasting and does no
  rescaling, whatever the tensors' parameters (``maximum_minimum.cc``): ``maximum`` /
  ``minimum`` with no attributes.
* PRELU (``prelu_common.cc``): ``m1 = QuantizeMultiplier(double(s_in) / double(s_out))``,
  ``m2 = QuantizeMultiplier(double(s_in) * double(s_alpha) / double(s_out))``.
* LEAKY_RELU (``leaky_relu_common.cc``) is a function of one int8 value: a ``lut`` filled
  by TFLM's own arithmetic (``frontends/tflite_luts.leaky_relu_table``); an int16 one is
  the ``leaky_relu`` op (TFLM's two multipliers, ``reference/kernels/eltwise_s16.py``).
* int16 MAXIMUM / MINIMUM: the same ops on int16 values (``qc_maximum_s16``).
"""

from __future__ import annotations

from qcompile import op_params
from qcompile.frontends import tflite_luts
from qcompile.frontends.tflite_ops import TFLITE_OPS
from qcompile.reference.kernels import eltwise_s16


@TFLITE_OPS.register("MAXIMUM", "MINIMUM")
def _minmax(imp, op) -> None:
    if len(op.inputs) != 2:
        raise ValueError(f"{op.op} takes two inputs")
    inputs = [imp.name(i) for i in op.inputs]
    imp.add(op, op.op.lower(), inputs, [imp.name(op.outputs[0])], {})


@TFLITE_OPS.register("PRELU")
def _prelu(imp, op) -> None:
    qi, qa, qo = imp.q(op.inputs[0]), imp.q(op.inputs[1]), imp.q(op.outputs[0])
    if qa.scale.size != 1:
        raise ValueError("PRELU alpha must be quantized per tensor (TFLM reads one scale)")
    attrs = op_params.prelu_params(qi, qa, qo)
    inputs = [imp.name(op.inputs[0]), imp.name(op.inputs[1])]
    imp.add(op, "prelu", inputs, [imp.name(op.outputs[0])], attrs)


@TFLITE_OPS.register("LEAKY_RELU")
def _leaky_relu(imp, op) -> None:
    qi, qo = imp.q(op.inputs[0]), imp.q(op.outputs[0])
    alpha = float(op.options.get("alpha", 0.0))
    if qi.dtype == "int16":  # TFLM's int16 kernel: two multipliers, no table
        attrs = eltwise_s16.leaky_relu_params(qi.scalar_scale(), qo.scalar_scale(), alpha)
        imp.add(op, "leaky_relu", [imp.name(op.inputs[0])], [imp.name(op.outputs[0])], attrs)
        return
    table = tflite_luts.leaky_relu_table(
        qi.scalar_scale(), qi.scalar_zero_point(), qo.scalar_scale(), qo.scalar_zero_point(), alpha
    )
    imp.add(op, "lut", [imp.name(op.inputs[0])], [imp.name(op.outputs[0])], {"table": table})

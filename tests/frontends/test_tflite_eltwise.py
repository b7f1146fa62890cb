"""TFLite MAXIMUM, MINIMUM, PRELU and LEAKY_RELU against TFLite Micro (the oracle): single-op
int8 models built with ``tflite_builder``, run on random int8 inputs by the ``tflite_micro``
interpreter and by our reference; the C kernels node by node on the same tensors
(``test_tflite_ops._check``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tflite_micro", reason="tflite_micro (TFLM Python interpreter) is not installed")

from frontends.test_tflite_ops import _check  # noqa: E402
from tflite_builder import ModelBuilder  # noqa: E402
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb  # noqa: E402

RNG = np.random.default_rng(99)


def _minmax(code: str, shape2, same_params: bool) -> ModelBuilder:
    b = ModelBuilder()
    q2 = (0.05, -3) if same_params else (0.11, 17)
    x1 = b.tensor("x1", (1, 4, 5, 6), scale=0.05, zero_point=-3)
    x2 = b.tensor("x2", shape2, scale=q2[0], zero_point=q2[1])
    y = b.tensor("y", (1, 4, 5, 6), scale=0.05, zero_point=-3)
    b.op(code, [x1, x2], [y])
    b.inputs, b.outputs = [x1, x2], [y]
    return b


@pytest.mark.parametrize("code", ["MAXIMUM", "MINIMUM"])
@pytest.mark.parametrize(("shape2", "same"), [((1, 4, 5, 6), True), ((1, 1, 1, 6), True), ((1, 4, 5, 6), False)])
def test_maximum_minimum(code: str, shape2, same: bool, tmp_path: Path) -> None:
    _check(_minmax(code, shape2, same).finish(), tmp_path)


@pytest.mark.parametrize(
    ("in_q", "alpha_q", "out_q"), [((0.05, -7), (0.004, -20), (0.04, 9)), ((0.2, 30), (0.01, 5), (0.1, -60))]
)
def test_prelu_per_channel_alpha(in_q, alpha_q, out_q, tmp_path: Path) -> None:
    b = ModelBuilder()
    x = b.tensor("x", (1, 4, 5, 6), scale=in_q[0], zero_point=in_q[1])
    alpha = b.tensor("alpha", (1, 1, 6), scale=alpha_q[0], zero_point=alpha_q[1],
                     data=RNG.integers(-128, 128, (1, 1, 6)).astype(np.int8))  # fmt: skip
    y = b.tensor("y", (1, 4, 5, 6), scale=out_q[0], zero_point=out_q[1])
    b.op("PRELU", [x, alpha], [y])
    b.inputs, b.outputs = [x], [y]
    _check(b.finish(), tmp_path)


@pytest.mark.parametrize(
    ("alpha", "in_q", "out_q"),
    [(0.2, (0.05, -7), (0.04, 9)), (0.01, (0.1, 20), (0.07, -30)), (1.7, (0.03, 0), (0.09, -2))],
)
def test_leaky_relu(alpha: float, in_q, out_q, tmp_path: Path) -> None:
    b = ModelBuilder()
    x = b.tensor("x", (1, 4, 5, 6), scale=in_q[0], zero_point=in_q[1])
    y = b.tensor("y", (1, 4, 5, 6), scale=out_q[0], zero_point=out_q[1])
    b.op("LEAKY_RELU", [x], [y])
    opts = fb.LeakyReluOptionsT()
    opts.alpha = alpha
    b.ops[-1].builtinOptionsType = fb.BuiltinOptions.LeakyReluOptions
    b.ops[-1].builtinOptions = opts
    b.inputs, b.outputs = [x], [y]
    _check(b.finish(), tmp_path)

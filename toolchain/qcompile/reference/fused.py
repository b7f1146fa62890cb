"""numpy reference of fused int8 ops: each is *defined* as the composition of existing
reference kernels, so a fused node can never drift from the unfused pair it replaces.

``conv2d_add`` is a conv2d whose result (requantised to the int8 parameters the
intermediate tensor had before fusion, and clamped by the conv's own activation range)
feeds TFLM's ADD/SUB together with a residual tensor of the same shape. The C kernel
(``qc_conv2d_add_s8``) never materialises the intermediate, which is what saves RAM; the
arithmetic stays bit-identical to ``add(conv2d(x), residual)``.

``avg_pool_fc`` is a global AVERAGE_POOL_2D (int8, rounded and clamped as the pool
alone) whose ``[N, C]`` result feeds FULLY_CONNECTED: the model head of ResNet-8 and
DS-CNN. Its C kernel keeps the pooled vector in a scratch of ``N * C`` bytes instead of
an arena tensor.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qcompile.ops import ADD_ATTRS, ADD_PREFIX, CONV_ATTRS, split_conv_add, split_pool_fc
from qcompile.reference.conv import conv2d, fully_connected
from qcompile.reference.ops import add, avg_pool2d


def conv2d_add(
    x: np.ndarray,
    w: np.ndarray,
    bias: np.ndarray | None,
    residual: np.ndarray,
    **attrs: Any,
) -> np.ndarray:
    """``add(conv2d(x, w, bias), residual)`` (operand order by ``add_conv_operand``).

    Attributes: every conv2d attribute (unprefixed), every add attribute prefixed with
    ``add_`` (``add_subtract``, ``add_input1_offset``, ...) and ``add_conv_operand``: 1 when
    the conv result is the add's first input, 2 when it is the second. The residual must
    have the conv output's shape (no broadcasting: the C kernel works pixel by pixel).
    """
    conv_attrs, add_attrs, operand = split_conv_add(attrs)
    unknown = set(attrs) - set(CONV_ATTRS) - {ADD_PREFIX + k for k in ADD_ATTRS} - {"add_conv_operand"}
    if unknown:
        raise ValueError(f"unknown conv2d_add attributes {sorted(unknown)}")
    y = conv2d(x, w, bias, **conv_attrs)
    residual = np.asarray(residual)
    if residual.shape != y.shape:
        raise ValueError(f"residual shape {residual.shape} differs from the conv output {y.shape}")
    if operand == 1:
        return add(y, residual, **add_attrs)
    return add(residual, y, **add_attrs)


def avg_pool_fc(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, **attrs: Any) -> np.ndarray:
    """``fully_connected(avg_pool2d(x))``: TFLM's AVERAGE_POOL_2D (int8 result, clamped)
    then FULLY_CONNECTED on that int8 vector, each by its own reference kernel.

    Attributes: the avg_pool2d attributes prefixed ``pool_`` (``pool_kernel``, ...), the
    fully_connected attributes unprefixed, and ``flatten`` (default true): the pooled
    ``[N, 1, 1, C]`` tensor is read as ``[N, C]`` (a folded reshape/flatten), so the result
    is ``[N, out_features]``; false keeps FC's row semantics, ``[N, 1, 1, out_features]``.
    A reshape moves no byte, so the C kernel is the same either way.
    """
    pool_attrs, fc_attrs, flatten = split_pool_fc(attrs)
    pooled = avg_pool2d(np.asarray(x), **pool_attrs)
    if pooled.ndim != 4 or pooled.shape[1:3] != (1, 1):
        raise ValueError(f"avg_pool_fc needs a global pool ([N, 1, 1, C] result), got {pooled.shape}")
    if flatten:
        pooled = pooled.reshape(pooled.shape[0], pooled.shape[3])
    return fully_connected(pooled, w, bias, **fc_attrs)

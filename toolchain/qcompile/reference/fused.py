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

from qcompile.op_params import ADD_ATTRS  # stored on conv2d_add nodes with the ``add_`` prefix
from qcompile.reference.conv import conv2d, fully_connected
from qcompile.reference.ops import add, avg_pool2d

#: conv2d attributes of a conv2d_add node (unprefixed)
CONV_ATTRS = (
    "strides",
    "dilations",
    "pads",
    "groups",
    "input_offset",
    "output_offset",
    "multiplier",
    "shift",
    "act_min",
    "act_max",
)


def split_attrs(attrs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], int]:
    """(conv2d attrs, add attrs without prefix, conv operand 1 or 2) of a conv2d_add node."""
    conv = {k: attrs[k] for k in CONV_ATTRS}
    add_attrs = {k: attrs[f"add_{k}"] for k in ADD_ATTRS}
    operand = int(attrs["add_conv_operand"])
    if operand not in (1, 2):
        raise ValueError(f"add_conv_operand must be 1 or 2, got {operand}")
    return conv, add_attrs, operand


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
    conv_attrs, add_attrs, operand = split_attrs(attrs)
    unknown = set(attrs) - set(CONV_ATTRS) - {f"add_{k}" for k in ADD_ATTRS} - {"add_conv_operand"}
    if unknown:
        raise ValueError(f"unknown conv2d_add attributes {sorted(unknown)}")
    y = conv2d(x, w, bias, **conv_attrs)
    residual = np.asarray(residual)
    if residual.shape != y.shape:
        raise ValueError(f"residual shape {residual.shape} differs from the conv output {y.shape}")
    if operand == 1:
        return add(y, residual, **add_attrs)
    return add(residual, y, **add_attrs)


#: avg_pool2d attributes of an avg_pool_fc node, stored with the ``pool_`` prefix
POOL_ATTRS = ("kernel", "strides", "pads", "act_min", "act_max")
#: fully_connected attributes of an avg_pool_fc node (unprefixed)
FC_ATTRS = ("input_offset", "output_offset", "multiplier", "shift", "act_min", "act_max")


def split_head_attrs(attrs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], bool]:
    """(avg_pool2d attrs without prefix, fully_connected attrs, flatten) of an avg_pool_fc node."""
    unknown = set(attrs) - {f"pool_{k}" for k in POOL_ATTRS} - set(FC_ATTRS) - {"flatten"}
    if unknown:
        raise ValueError(f"unknown avg_pool_fc attributes {sorted(unknown)}")
    pool = {k: attrs[f"pool_{k}"] for k in POOL_ATTRS}
    fc = {k: attrs[k] for k in FC_ATTRS}
    return pool, fc, bool(attrs.get("flatten", True))


def avg_pool_fc(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, **attrs: Any) -> np.ndarray:
    """``fully_connected(avg_pool2d(x))``: TFLM's AVERAGE_POOL_2D (int8 result, clamped)
    then FULLY_CONNECTED on that int8 vector, each by its own reference kernel.

    Attributes: the avg_pool2d attributes prefixed ``pool_`` (``pool_kernel``, ...), the
    fully_connected attributes unprefixed, and ``flatten`` (default true): the pooled
    ``[N, 1, 1, C]`` tensor is read as ``[N, C]`` (a folded reshape/flatten), so the result
    is ``[N, out_features]``; false keeps FC's row semantics, ``[N, 1, 1, out_features]``.
    A reshape moves no byte, so the C kernel is the same either way.
    """
    pool_attrs, fc_attrs, flatten = split_head_attrs(attrs)
    pooled = avg_pool2d(np.asarray(x), **pool_attrs)
    if pooled.ndim != 4 or pooled.shape[1:3] != (1, 1):
        raise ValueError(f"avg_pool_fc needs a global pool ([N, 1, 1, C] result), got {pooled.shape}")
    if flatten:
        pooled = pooled.reshape(pooled.shape[0], pooled.shape[3])
    return fully_connected(pooled, w, bias, **fc_attrs)

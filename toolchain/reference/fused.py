"""numpy reference of fused int8 ops: each is *defined* as the composition of existing
reference kernels, so a fused node can never drift from the unfused pair it replaces.

``conv2d_add`` is a conv2d whose result (requantised to the int8 parameters the
intermediate tensor had before fusion, and clamped by the conv's own activation range)
feeds TFLM's ADD/SUB together with a residual tensor of the same shape. The C kernel
(``qc_conv2d_add_s8``) never materialises the intermediate, which is what saves RAM; the
arithmetic stays bit-identical to ``add(conv2d(x), residual)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qcompile.reference.conv import conv2d
from qcompile.reference.ops import add

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
#: add attributes of a conv2d_add node, stored with the ``add_`` prefix
ADD_ATTRS = (
    "subtract",
    "input1_offset",
    "input2_offset",
    "output_offset",
    "left_shift",
    "input1_multiplier",
    "input1_shift",
    "input2_multiplier",
    "input2_shift",
    "output_multiplier",
    "output_shift",
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

"""int8 DIV with numpy broadcasting (TFLM's ``div.cc``), the spec of ``runtime_c/src/qc_div.c``
(docs/QUANTIZATION.md, "div").

TFLM's ``DivElementwise`` multiplies by a fixed-point reciprocal of the divisor and requantizes
with ``output_multiplier``/``output_shift``; on every input where that arithmetic is defined its
result is the correctly rounded quotient of the real value the multiplier encodes (checked on all
65,536 input pairs for many parameter sets against the ``tflite-micro`` interpreter,
``tests/frontends/test_tflite_div.py``). qcompile computes that quotient directly, in exact
integer arithmetic. Where TFLM's is undefined (a zero divisor; a final shift beyond 31, where
TFLM returns garbage) the result is still the rounded quotient, and ``x / 0`` saturates.
"""

from __future__ import annotations

import numpy as np

from qcompile.reference.ops import _ALL_PAIRS, _check_binary, _pair_lookup

#: a right shift of at least this many bits makes every quotient round to 0
#: (``|v1 * multiplier| < 2^39``)
ZERO_SHIFT = 40


def check_div_params(input1_offset: int, input2_offset: int, output_offset: int, multiplier: int, shift: int) -> None:
    """The ranges the C kernel accepts (``qc_div_s8`` rejects anything else)."""
    for name, v in (("input1_offset", input1_offset), ("input2_offset", input2_offset)):
        if not -127 <= int(v) <= 128:
            raise ValueError(f"{name} {v} is outside [-127, 128]")
    if not -128 <= int(output_offset) <= 127:
        raise ValueError(f"output_offset {output_offset} is outside [-128, 127]")
    if not 0 <= int(multiplier) <= 2**31 - 1:
        raise ValueError(f"output_multiplier {multiplier} is outside [0, 2^31 - 1]")
    if not -31 <= int(shift) <= 31:
        raise ValueError(f"output_shift {shift} is outside [-31, 31]")


def div(
    x1: np.ndarray,
    x2: np.ndarray,
    *,
    input1_offset: int,
    input2_offset: int,
    output_offset: int,
    output_multiplier: int,
    output_shift: int,
    act_min: int,
    act_max: int,
) -> np.ndarray:
    """``x1 / x2`` in int8, broadcast::

    v1 = x1 + input1_offset; v2 = x2 + input2_offset; if v2 < 0: v1, v2 = -v1, -v2
    k  = 31 - output_shift
    q  = k >= 40 ? 0 : sign(v1) * min(floor((2 |v1| M + v2 2^k) / (2 v2 2^k)), 255)   # round half away
    out = clamp(q + output_offset, act_min, act_max)

    with ``M = output_multiplier``; ``(M, output_shift) = QuantizeMultiplier(s1 / (s2 * s_out))``
    (``op_params.div_params``). ``v2 == 0`` gives ``q = ±255`` by the sign of ``v1``
    (saturating) and 0 for ``0 / 0``.
    """
    x1, x2 = _check_binary(x1, x2)
    check_div_params(input1_offset, input2_offset, output_offset, output_multiplier, output_shift)
    q1, q2 = _ALL_PAIRS
    v1, v2 = q1 + int(input1_offset), q2 + int(input2_offset)
    v1 = np.where(v2 < 0, -v1, v1)
    v2 = np.abs(v2)
    k = 31 - int(output_shift)
    if k >= ZERO_SHIFT:
        mag = np.zeros_like(v1)
    else:
        n = np.abs(v1) * int(output_multiplier)
        d = np.maximum(v2, 1) << k
        mag = np.minimum((2 * n + d) // (2 * d), 255)
    q = np.where(v2 == 0, np.where(v1 == 0, 0, 255), mag) * np.sign(v1)
    table = np.clip(q + int(output_offset), int(act_min), int(act_max)).astype(np.int8)
    return _pair_lookup(table, x1, x2)

"""Real functions of the unary ONNX ops that become 256-entry int8 tables (``lut``).

:func:`qcompile.reference.float_ops.elementwise_function` falls back to :data:`FUNCTIONS`
for these names, so the float IR and the quantizer's tables share one definition. Each
entry maps the node's float attributes to a vectorised function that keeps its input's
dtype (float32 activations, float64 table grids).

Outside a function's real domain the table needs a value, not NaN: ``sqrt`` and ``pow``
with a fractional exponent read a negative input as 0, ``log`` of a non-positive input is
``-inf`` and ``reciprocal`` of 0 is ``+inf`` (both clamp to the int8 end). Calibrated
models only reach those entries when the input range straddles the domain's edge.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

Fn = Callable[[np.ndarray], np.ndarray]

#: ONNX Selu defaults (float32 values of the spec's constants)
SELU_ALPHA = 1.67326319217681884765625
SELU_GAMMA = 1.05070102214813232421875


def _erf(x: np.ndarray) -> np.ndarray:
    flat = np.asarray(x, dtype=np.float64).reshape(-1)
    return np.fromiter((math.erf(v) for v in flat), np.float64, flat.size).reshape(np.shape(x))


def _softplus(x: np.ndarray) -> np.ndarray:
    # log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow for large |x|
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def _typed(f: Callable[[np.ndarray], np.ndarray]) -> Fn:
    def apply(x: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            return np.asarray(f(np.asarray(x)), dtype=np.asarray(x).dtype)

    return apply


def _pow(exponent: float) -> Fn:
    e = float(exponent)
    if e == int(e):
        return _typed(lambda x: np.power(x.astype(np.float64), e))
    return _typed(lambda x: np.power(np.maximum(x.astype(np.float64), 0.0), e))


def _gelu(approximate: str = "none") -> Fn:
    if approximate == "tanh":
        c = math.sqrt(2.0 / math.pi)
        return _typed(lambda x: 0.5 * x * (1.0 + np.tanh(c * (x + 0.044715 * x.astype(np.float64) ** 3))))
    return _typed(lambda x: 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0))))


def _elu(alpha: float = 1.0) -> Fn:
    return _typed(lambda x: np.where(x > 0, x, float(alpha) * np.expm1(np.minimum(x.astype(np.float64), 0.0))))


def _selu(alpha: float = SELU_ALPHA, gamma: float = SELU_GAMMA) -> Fn:
    a, g = float(alpha), float(gamma)
    return _typed(lambda x: g * np.where(x > 0, x, a * np.expm1(np.minimum(x.astype(np.float64), 0.0))))


def _celu(alpha: float = 1.0) -> Fn:
    a = float(alpha)
    return _typed(lambda x: np.maximum(x, 0) + np.minimum(0.0, a * np.expm1(np.minimum(x, 0) / a)))


FUNCTIONS: dict[str, Callable[..., Fn]] = {
    "pow": _pow,
    "sqrt": lambda: _typed(lambda x: np.sqrt(np.maximum(x, 0))),
    "reciprocal": lambda: _typed(lambda x: 1.0 / x.astype(np.float64)),
    "log": lambda: _typed(lambda x: np.log(np.maximum(x.astype(np.float64), 0.0))),
    "exp": lambda: _typed(lambda x: np.exp(x.astype(np.float64))),
    "abs": lambda: _typed(np.abs),
    "neg": lambda: _typed(np.negative),
    "erf": lambda: _typed(_erf),
    "gelu": _gelu,
    "elu": _elu,
    "selu": _selu,
    "celu": _celu,
    "softplus": lambda: _typed(_softplus),
    "softsign": lambda: _typed(lambda x: x / (1.0 + np.abs(x))),
    "mish": lambda: _typed(lambda x: x * np.tanh(_softplus(x.astype(np.float64)))),
}


def unary_function(fn: str, **params: Any) -> Fn | None:
    """The function ``fn`` with the node's ``params``, or None when ``fn`` is not one of these."""
    make = FUNCTIONS.get(fn)
    return None if make is None else make(**params)

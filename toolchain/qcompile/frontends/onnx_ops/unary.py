"""Unary ONNX functions lowered to ``elementwise`` nodes, which quantize to 256-entry int8
tables (``lut``; docs/QUANTIZATION.md, "lut"): Pow with a constant exponent, Sqrt,
Reciprocal, Log, Exp, Abs, Neg, Erf, Gelu, Elu, Selu, Celu, Softplus, Softsign, Mish.
The real functions are :mod:`qcompile.reference.unary_functions`."""

from __future__ import annotations

import numpy as np

from qcompile.frontends.onnx_ops import ONNX_OPS
from qcompile.reference.unary_functions import SELU_ALPHA, SELU_GAMMA

#: ONNX op -> (fn, {ONNX attribute: (IR parameter, default)})
_SIMPLE = {
    "Sqrt": ("sqrt", {}),
    "Reciprocal": ("reciprocal", {}),
    "Log": ("log", {}),
    "Exp": ("exp", {}),
    "Abs": ("abs", {}),
    "Neg": ("neg", {}),
    "Erf": ("erf", {}),
    "Softplus": ("softplus", {}),
    "Softsign": ("softsign", {}),
    "Mish": ("mish", {}),
    "Gelu": ("gelu", {"approximate": ("approximate", "none")}),
    "Elu": ("elu", {"alpha": ("alpha", 1.0)}),
    "Celu": ("celu", {"alpha": ("alpha", 1.0)}),
    "Selu": ("selu", {"alpha": ("alpha", SELU_ALPHA), "gamma": ("gamma", SELU_GAMMA)}),
}


def _gelu_problem(node, ins, attrs, const) -> str | None:
    if attrs.get("approximate", "none") not in ("none", "tanh"):
        return f"Gelu approximate={attrs.get('approximate')!r} is not 'none' or 'tanh'"
    return None


def _make(op: str):
    fn, params = _SIMPLE[op]

    def convert(conv, node, ins, attrs) -> None:
        values = {name: attrs.get(key, default) for key, (name, default) in params.items()}
        conv._unary(node, fn, **{k: (v if isinstance(v, str) else float(v)) for k, v in values.items()})

    return convert


for _op in _SIMPLE:
    ONNX_OPS.register(_op, **({"problem": _gelu_problem} if _op == "Gelu" else {}))(_make(_op))


def _pow_problem(node, ins, attrs, const) -> str | None:
    if ins[1] not in const:
        return "Pow needs a constant exponent (a power of an activation by an activation is not supported)"
    return None


@ONNX_OPS.register("Pow", problem=_pow_problem)
def _pow(conv, node, ins, attrs) -> None:
    exponent = np.asarray(conv.const[ins[1]], dtype=np.float64)
    if exponent.size != 1:
        raise conv.fail("Pow needs a scalar exponent (one value for every element)")
    if conv.shape(node.output[0]) != conv.shape(ins[0]):
        raise conv.fail("Pow must keep its input's shape")
    conv._unary(node, "pow", exponent=float(exponent.reshape(())))

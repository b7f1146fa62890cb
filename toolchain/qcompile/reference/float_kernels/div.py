"""Float-IR ``div``: ``a / b`` with numpy broadcasting (ONNX Div of two activations), then the
fused clamp; the float meaning of ``reference/kernels/div.py``."""

from __future__ import annotations

import numpy as np

from qcompile.reference.float_ops import ActRange, _binary


def div(a: np.ndarray, b: np.ndarray, *, act_range: ActRange = None) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return _binary(np.divide, a, b, act_range)

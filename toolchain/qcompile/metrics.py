"""Error measures shared by verify, report, eval and the mixed precision search."""

from __future__ import annotations

import numpy as np


def sqnr_db(reference: np.ndarray, test: np.ndarray) -> float:
    signal = float(np.sum(np.square(reference.astype(np.float64))))
    noise = float(np.sum(np.square(reference.astype(np.float64) - test.astype(np.float64))))
    return sqnr_from_power(signal, noise)


def sqnr_from_power(signal: float, noise: float) -> float:
    """SQNR in dB from summed squares, so streamed statistics (``qcompile report``) share
    the definition with whole-array comparisons."""
    if noise == 0.0:
        return float("inf")
    if signal == 0.0:
        return float("-inf")
    return 10.0 * np.log10(signal / noise)

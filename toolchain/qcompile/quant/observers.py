"""Calibration observers: the range an activation tensor's int8 grid should cover.

Every observer is streamed: ``update`` sees one batch and keeps O(bins) state, so
calibrating on any number of samples needs bounded memory (ONNX Runtime's entropy and
percentile calibrators keep every activation, which is what runs out of memory on large
sets). The histogram observers share :class:`HistogramObserver`: equal bins whose width
doubles by merging neighbouring pairs when a batch falls outside (merging is exact), so
the histogram is the same whatever the batch boundaries were.

Methods (docs/QUANTIZATION.md, "Calibration methods"):

- ``minmax``: the exact extremes (TFLite's converter). Clips nothing; one outlier
  stretches the grid for every other value.
- ``percentile``: the two-sided percentile range.
- ``entropy``: the window whose 255-level quantized histogram is closest to the observed
  one in KL divergence (TensorRT's and ONNX Runtime's entropy calibration, on the
  asymmetric grid).
- ``mse``: the window that minimises the expected squared error of the int8 asymmetric
  grid over the observed distribution (rounding inside, clipping outside).
"""

from __future__ import annotations

import math

import numpy as np

from qcompile.errors import QCompileError
from qcompile.ir import round_half_away
from qcompile.quant.quantize import activation_params

OBSERVERS = ("minmax", "percentile", "entropy", "mse")
LEVELS = 255  # int8 asymmetric grid: 256 codes, 255 steps
_CANDIDATES = 192  # windows tried by entropy and mse (a bounded search whatever the bin count)
MIN_MEAN_COUNT = 8  # entropy: observations per bin on average, else bins are merged
UPDATE_CHUNK = 1 << 20  # values binned per step of HistogramObserver.update
MIN_BINS_PER_LEVEL = 1  # entropy: coarser windows quantize losslessly at histogram resolution


class MinMaxObserver:
    """Exact running minimum and maximum (TFLite converter's default)."""

    def __init__(self) -> None:
        self.lo = math.inf
        self.hi = -math.inf

    def update(self, x: np.ndarray) -> None:
        if x.size:
            self.lo = min(self.lo, float(np.min(x)))
            self.hi = max(self.hi, float(np.max(x)))

    def range(self) -> tuple[float, float]:
        if self.lo > self.hi:
            raise QCompileError("observer saw no data")
        return (self.lo, self.hi)


class HistogramObserver:
    """A streamed histogram: ``bins`` equal bins over ``[start, start + bins*width)``.

    When a batch falls outside, the width doubles by merging neighbouring bin pairs
    (exact: a merged bin holds exactly the counts of its two halves) and the range grows
    upward, or downward by shifting the merged counts into the upper half, until the
    batch fits. ``include_zero`` makes the first range contain 0, so the bin holding 0
    (where the int8 grid is anchored) is always a bin edge region of the histogram.
    """

    def __init__(self, bins: int = 2048, *, include_zero: bool = False) -> None:
        if bins < 2 or bins % 2:
            raise ValueError("bins must be an even number >= 2")
        self.bins = bins
        self.include_zero = include_zero
        self.counts = np.zeros(bins, dtype=np.int64)
        self.start = 0.0
        self.width = 0.0
        self.minmax = MinMaxObserver()

    def _grow(self, lo: float, hi: float) -> None:
        half = self.bins // 2
        while lo < self.start or hi >= self.start + self.bins * self.width:
            merged = self.counts.reshape(half, 2).sum(axis=1)
            self.counts = np.zeros(self.bins, dtype=np.int64)
            if lo < self.start:  # extend downward: old range becomes the upper half
                self.counts[half:] = merged
                self.start -= self.bins * self.width
            else:
                self.counts[:half] = merged
            self.width *= 2

    def update(self, x: np.ndarray) -> None:
        x = np.asarray(x).reshape(-1)
        if not x.size:
            return
        lo, hi = float(x.min()), float(x.max())
        self.minmax.update(x)
        if self.width == 0.0:
            first_lo, first_hi = (min(lo, 0.0), max(hi, 0.0)) if self.include_zero else (lo, hi)
            span = first_hi - first_lo
            self.width = (span if span > 0 else max(abs(first_lo), 1e-6)) / (self.bins - 1)
            self.start = first_lo
        self._grow(lo, hi)
        # Binned a slice at a time: the float64 and index temporaries of a whole calibration
        # input (10,000 CIFAR images are 30 M values) would otherwise cost ~24 bytes per value.
        for begin in range(0, x.size, UPDATE_CHUNK):
            part = x[begin : begin + UPDATE_CHUNK].astype(np.float64)
            idx = np.floor((part - self.start) / self.width).astype(np.int64)
            np.clip(idx, 0, self.bins - 1, out=idx)
            self.counts += np.bincount(idx, minlength=self.bins)

    def edge(self, i: int) -> float:
        return self.start + i * self.width

    def windows(self) -> list[tuple[int, int]]:
        """Candidate ranges ``[a, b)`` in bins for entropy and mse: windows growing from the
        bin holding 0 equally on both sides, each clipped to the bins that hold data. A
        one-sided tensor (after ReLU) thus tries ``[0, T]`` for growing ``T``; the last
        window is the whole observed range (min/max)."""
        nz = np.flatnonzero(self.counts)
        first, last = int(nz[0]), int(nz[-1]) + 1
        zero = self.zero_bin()
        reach = max(zero - first, last - zero, 1)
        steps = np.unique(np.linspace(1, reach, num=min(_CANDIDATES, reach)).round().astype(int))
        wins = {(max(first, zero - int(i)), min(last, zero + int(i))) for i in steps}
        return sorted((a, b) for a, b in wins if b > a)

    def coarsened(self, min_mean_count: float) -> HistogramObserver:
        """A copy with neighbouring bins merged until the bins hold ``min_mean_count``
        observations on average (or two bins are left): a sparse histogram is mostly
        sampling noise, and KL divergence scores noise as information."""
        copy = HistogramObserver(self.bins, include_zero=self.include_zero)
        copy.counts, copy.start, copy.width, copy.minmax = self.counts.copy(), self.start, self.width, self.minmax
        while copy.bins > 2 and copy.counts.sum() < min_mean_count * copy.bins:
            copy.bins //= 2
            copy.counts = copy.counts.reshape(copy.bins, 2).sum(axis=1)
            copy.width *= 2
        return copy

    def zero_bin(self) -> int:
        return int(np.clip(math.floor(-self.start / self.width), 0, self.bins - 1))

    def window_range(self, a: int, b: int) -> tuple[float, float]:
        """The real range of bins ``[a, b)``, clamped to the exact extremes seen."""
        lo_exact, hi_exact = self.minmax.range()
        return (max(self.edge(a), lo_exact), min(self.edge(b), hi_exact))


class PercentileObserver(HistogramObserver):
    """Two-sided percentile range: the values below which ``100 - percentile`` % and
    ``percentile`` % of the observations fall (bin edges, clamped to the exact min/max)."""

    def __init__(self, percentile: float = 99.99, bins: int = 2048) -> None:
        if not 50.0 < percentile <= 100.0:
            raise QCompileError(f"percentile must be in (50, 100], got {percentile}")
        super().__init__(bins)
        self.percentile = float(percentile)

    def range(self) -> tuple[float, float]:
        lo_exact, hi_exact = self.minmax.range()
        total = int(self.counts.sum())
        cdf = np.cumsum(self.counts)
        tail = total * (100.0 - self.percentile) / 100.0
        i_hi = int(np.searchsorted(cdf, total - tail, side="left"))
        i_lo = int(np.searchsorted(cdf, tail, side="right"))
        hi = self.start + (i_hi + 1) * self.width
        lo = self.start + i_lo * self.width
        return (max(lo, lo_exact), min(hi, hi_exact))


def _width(window: tuple[int, int]) -> int:
    return window[1] - window[0]


def kl_divergence_of_window(counts: np.ndarray, a: int, b: int, levels: int = LEVELS) -> float:
    """KL(P || Q) of quantizing the histogram into ``levels`` levels over bins ``[a, b)``.

    As TensorRT defines it: P is the histogram restricted to the window with the mass
    outside folded into the two edge bins (what clipping does to the values); Q is the
    window's own counts (without the folded mass) merged into ``levels`` groups of
    ``n // levels`` bins, the last one taking the remainder, each group's mass spread
    evenly over its non-empty bins (a quantized value stands for every value rounded to
    it). Q lacking the clipped mass is what makes clipping cost something.
    """
    window = counts[a:b].astype(np.float64)
    p = window.copy()
    p[0] += counts[:a].sum()
    p[-1] += counts[b:].sum()
    n = b - a
    group = np.minimum(np.arange(n) // max(n // levels, 1), levels - 1)
    nonzero = window > 0
    mass = np.bincount(group, weights=window)
    filled = np.bincount(group, weights=nonzero.astype(np.float64))
    q = np.where(nonzero, mass[group] / np.maximum(filled[group], 1), 0.0)
    if p.sum() == 0 or q.sum() == 0:
        return math.inf
    pn, qn = p / p.sum(), q / q.sum()
    used = pn > 0
    qn = np.where(qn > 0, qn, 1e-12)  # an edge bin empty but for clipped mass: heavily penalised
    return float(np.sum(pn[used] * np.log(pn[used] / qn[used])))


class EntropyObserver(HistogramObserver):
    """The candidate window (see :meth:`HistogramObserver.windows`) of least KL divergence.

    Windows narrower than ``LEVELS`` bins quantize losslessly at histogram resolution and
    would all score 0, so they are tried only if no wider window exists: with 2048 bins
    entropy can clip a range to 1/8 of the observed span at most (TensorRT, 128 levels:
    1/16). Finer histograms let KL clip ReLU outputs to a tenth of their range, which
    costs accuracy (DS-CNN: 8192 bins, 28 % top-1). A
    tensor seen too few times to fill the bins (a classifier's logits: 10 values a
    sample) is judged on merged bins; below 255 of them no window is clipped (min/max). As in TensorRT,
    the bin holding 0 counts as much as its fuller neighbour: after a ReLU it holds every
    clipped value, and that spike (which 0, exactly representable, quantizes without
    error) would otherwise make every coarse window look bad."""

    def __init__(self, bins: int = 2048) -> None:
        super().__init__(bins, include_zero=True)

    def range(self) -> tuple[float, float]:
        self.minmax.range()  # raises if nothing was seen
        hist = self.coarsened(MIN_MEAN_COUNT)
        wins = hist.windows()
        wide = [w for w in wins if w[1] - w[0] >= MIN_BINS_PER_LEVEL * LEVELS] or [max(wins, key=_width)]
        counts = hist.counts.copy()
        zero = hist.zero_bin()
        counts[zero] = max(counts[max(zero - 1, 0)], counts[min(zero + 1, hist.bins - 1)])
        scores = [kl_divergence_of_window(counts, a, b) for a, b in wide]
        a, b = wide[int(np.argmin(scores))]
        return hist.window_range(a, b)


def quantization_mse(centers: np.ndarray, counts: np.ndarray, lo: float, hi: float) -> float:
    """Mean squared error of the int8 asymmetric grid of ``[lo, hi]`` (TFLite's parameters,
    :func:`~qcompile.quant.quantize.activation_params`) over values ``centers`` weighted by
    ``counts``: rounding error inside the range, clipping error outside."""
    q = activation_params(lo, hi)
    scale, zp = q.scalar_scale(), q.scalar_zero_point()
    codes = np.clip(round_half_away(centers / scale) + zp, -128, 127)
    err = (codes - zp) * scale - centers
    return float(np.sum(counts * err * err) / max(counts.sum(), 1))


class MSEObserver(HistogramObserver):
    """The candidate window whose int8 grid has the least expected squared error over the
    observed distribution (each bin's values taken at its centre)."""

    def __init__(self, bins: int = 2048) -> None:
        super().__init__(bins, include_zero=True)

    def range(self) -> tuple[float, float]:
        self.minmax.range()
        centers = self.start + (np.arange(self.bins) + 0.5) * self.width
        used = self.counts > 0
        c, w = centers[used], self.counts[used].astype(np.float64)
        best, best_err = (0.0, 0.0), math.inf
        for a, b in self.windows():
            lo, hi = self.window_range(a, b)
            err = quantization_mse(c, w, lo, hi)
            if err < best_err:
                best, best_err = (lo, hi), err
        return best


Observer = MinMaxObserver | HistogramObserver


def make_observer(kind: str, percentile: float = 99.99) -> Observer:
    """A fresh observer of method ``kind`` (one of :data:`OBSERVERS`)."""
    if kind == "minmax":
        return MinMaxObserver()
    if kind == "percentile":
        return PercentileObserver(percentile)
    if kind == "entropy":
        return EntropyObserver()
    if kind == "mse":
        return MSEObserver()
    raise QCompileError(f"unknown observer {kind!r}; use one of {', '.join(OBSERVERS)}")

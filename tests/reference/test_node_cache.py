"""NodeCache (reference/node_cache.py): runs of graphs that differ in a few places reuse the
results of every node upstream of the difference and give the bytes of a full run."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from qcompile.compiler import import_model
from qcompile.quant.calibration import calibrate, load_calibration_data
from qcompile.quant.quantize import QuantConfig, quantize
from qcompile.reference.executor import run_quantized
from qcompile.reference.node_cache import NodeCache, digest

DIGITS = Path(__file__).resolve().parents[2] / "examples" / "digits"


def test_digest_tells_values_apart() -> None:
    a = np.arange(6, dtype=np.int32)
    assert digest(a) == digest(a.copy())
    assert digest(a) != digest(a.astype(np.int64))  # same values, other dtype
    assert digest(a) != digest(a.reshape(2, 3))
    assert digest({"s": (1, 2), "m": a}) == digest({"m": a, "s": (1, 2)})
    assert digest((1, 2)) != digest([1, 2]) and digest(1) != digest(1.0) and digest("1") != digest(1)


def _digits_graphs():
    model = DIGITS / "digits_cnn.onnx"
    g = import_model(model)
    data = load_calibration_data(DIGITS / "calib.npz", g)
    ranges = calibrate(model, g, data, progress=False)
    last = g.nodes[-2].outputs[0]  # a tensor near the end: only its producer and readers change
    return quantize(g, ranges, QuantConfig()), quantize(g, ranges, QuantConfig(act_bits_for={last: 16}))


def test_cached_runs_equal_full_runs_and_reuse_upstream_nodes() -> None:
    int8, mixed = _digits_graphs()
    x = np.random.default_rng(0).integers(-128, 128, size=int8.tensors[int8.inputs[0]].shape, dtype=np.int8)
    cache = NodeCache()
    for g in (int8, mixed, int8):
        got = run_quantized(g, [x], cache=cache, keep_all=True)
        want = run_quantized(g, [x], keep_all=True)
        for name in g.outputs:
            np.testing.assert_array_equal(got[name], want[name])
            assert got[name].dtype == want[name].dtype
    # the int8 graph's nodes ran once; the mixed graph recomputed only its changed tail
    changed = len(mixed.nodes) - cache.reused + len(int8.nodes)
    assert cache.computed == len(int8.nodes) + changed
    assert 0 < changed < len(mixed.nodes) // 2 + 2
    other = x.copy()
    other[0, 0, 0, 0] ^= 1  # another input: nothing to reuse
    before = cache.reused
    run_quantized(int8, [other], cache=cache)
    assert cache.reused == before


def test_budget_drops_least_recently_used() -> None:
    cache = NodeCache(budget_bytes=100)
    cache.put(b"a", (np.zeros(60, np.int8),))
    cache.put(b"b", (np.zeros(30, np.int8),))
    assert cache.get(b"a") is not None  # a is now the most recent
    cache.put(b"c", (np.zeros(30, np.int8),))  # 120 bytes: b goes
    assert cache.get(b"b") is None and cache.get(b"a") is not None and cache.get(b"c") is not None

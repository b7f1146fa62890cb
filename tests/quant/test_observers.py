"""Observers against ranges computed by hand, and bounded memory on a large calibration set."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from qcompile.errors import QCompileError
from qcompile.quant.observers import (
    OBSERVERS,
    EntropyObserver,
    HistogramObserver,
    MSEObserver,
    kl_divergence_of_window,
    make_observer,
    quantization_mse,
)


def _fed(obs, x: np.ndarray, parts: int = 5):
    for chunk in np.array_split(x, parts):
        obs.update(chunk)
    return obs


def test_kl_of_window_by_hand() -> None:
    # P folds the clipped mass into the edge: [2, 2 + 4] -> [.25, .75]; Q spreads the
    # window's own mass (4) over its 2 bins in one level: [.5, .5].
    expected = 0.25 * math.log(0.5) + 0.75 * math.log(1.5)
    assert kl_divergence_of_window(np.array([2, 2, 2, 2]), 0, 2, levels=1) == pytest.approx(expected)
    # a window holding everything, one bin per level: Q == P
    assert kl_divergence_of_window(np.array([0, 3, 5, 0]), 0, 4, levels=4) == pytest.approx(0.0)


def test_quantization_mse_by_hand() -> None:
    # [0, 2.55]: scale 0.01, zero point -128. 0.005 rounds (half away) to 0.01; 3.0 clips to 2.55.
    got = quantization_mse(np.array([0.005, 3.0]), np.array([1.0, 1.0]), 0.0, 2.55)
    assert got == pytest.approx((0.005**2 + 0.45**2) / 2, rel=1e-4)


@pytest.mark.parametrize("kind", ["entropy", "mse"])
def test_no_outliers_keeps_the_whole_range(kind: str) -> None:
    # A uniform distribution has no tail to clip: every clipping costs more than it saves.
    x = np.random.default_rng(0).uniform(-1.0, 1.0, 400_000)
    lo, hi = _fed(make_observer(kind), x).range()
    assert lo == pytest.approx(-1.0, abs=0.02) and hi == pytest.approx(1.0, abs=0.02)


@pytest.mark.parametrize("kind", ["entropy", "percentile"])
def test_a_few_outliers_are_clipped(kind: str) -> None:
    # 400k values in [-1, 1] and 4 at 200: minmax would give them 99 % of the grid. (mse keeps
    # them: clipping 4 values by 199 costs 0.40 mean squared error, the wide grid only 0.05.)
    x = np.concatenate([np.random.default_rng(1).uniform(-1.0, 1.0, 400_000), [200.0] * 4])
    lo, hi = _fed(make_observer(kind), x).range()
    assert lo == pytest.approx(-1.0, abs=0.05)
    # entropy tries windows at least 255 of its 2048 bins wide: about 1/8 of the span at best
    assert 0.95 < hi < (201.0 / 6 if kind == "entropy" else 1.5)
    if kind == "entropy":
        assert _fed(make_observer("mse"), x).range()[1] > 150.0
    assert _fed(make_observer("minmax"), x).range() == (pytest.approx(-1.0, abs=1e-4), 200.0)


def test_mse_matches_brute_force() -> None:
    # Half-normal after a ReLU: the best upper end over a fine grid, by brute force.
    x = np.maximum(np.random.default_rng(2).normal(size=300_000), 0.0)
    obs = _fed(MSEObserver(), x)
    lo, hi = obs.range()
    centers = obs.start + (np.arange(obs.bins) + 0.5) * obs.width
    errs = {t: quantization_mse(centers, obs.counts.astype(float), 0.0, t) for t in np.linspace(1.0, x.max(), 400)}
    best = min(errs.values())
    assert lo == 0.0
    assert quantization_mse(centers, obs.counts.astype(float), 0.0, hi) <= best * 1.02


def test_entropy_relu_range_starts_at_zero_and_clips_the_tail() -> None:
    x = np.maximum(np.random.default_rng(3).normal(size=500_000), 0.0)
    lo, hi = _fed(EntropyObserver(), x).range()
    assert lo == 0.0 and 0.5 < hi < x.max()


def test_histogram_growth_is_exact() -> None:
    # Growing by merging bin pairs loses no count and keeps every value in its bin.
    rng = np.random.default_rng(4)
    obs = HistogramObserver(64, include_zero=True)
    x = np.concatenate([rng.uniform(0.5, 1.0, 1000), rng.uniform(-30.0, 50.0, 1000)])
    _fed(obs, x, parts=10)
    assert obs.counts.sum() == x.size
    assert obs.start <= 0.0 and obs.start <= x.min() and obs.edge(obs.bins) > x.max()
    ref, _ = np.histogram(x, bins=obs.bins, range=(obs.start, obs.edge(obs.bins)))
    np.testing.assert_array_equal(obs.counts, ref)


@pytest.mark.parametrize("kind", OBSERVERS)
def test_empty_observer_is_an_error(kind: str) -> None:
    with pytest.raises(QCompileError, match="no data"):
        make_observer(kind).range()


def test_unknown_observer_names_the_choices() -> None:
    with pytest.raises(QCompileError, match="minmax, percentile, entropy, mse"):
        make_observer("kl")


_MEMORY_SCRIPT = textwrap.dedent(
    """
    import resource, sys
    import numpy as np
    from qcompile.frontends.onnx_import import load_onnx
    from qcompile.quant.calibration import calibrate
    model, n = sys.argv[1], int(sys.argv[2])
    graph = load_onnx(model)
    data = np.random.default_rng(0).random((n, 3, 32, 32), dtype=np.float32)  # no float64 copy
    ranges = calibrate(model, graph, {graph.tensors[graph.inputs[0]].source_name: data}, observer="entropy", progress=False)
    assert len(ranges) > 10
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    """
)


def _peak_rss(model: Path, n: int) -> int:
    done = subprocess.run(
        [sys.executable, "-c", _MEMORY_SCRIPT, str(model), str(n)], capture_output=True, text=True, check=True
    )
    return int(done.stdout.strip().splitlines()[-1])


def test_entropy_calibration_memory_is_bounded(resnet8_onnx: Path) -> None:
    assert _peak_rss(resnet8_onnx, 500) < 1 << 30


@pytest.mark.skipif(not os.environ.get("QC_SLOW"), reason="slow (2-6 minutes under load): set QC_SLOW=1")
def test_entropy_calibration_of_10000_samples_stays_under_1gb(resnet8_onnx: Path) -> None:
    assert _peak_rss(resnet8_onnx, 10_000) < 1 << 30


def test_entropy_on_too_few_values_keeps_min_max() -> None:
    # 2000 logits in 2048 bins are noise to KL: the bins merge below 255 and nothing is clipped.
    x = np.random.default_rng(5).normal(size=2000) * 4.0
    assert _fed(EntropyObserver(), x).range() == (pytest.approx(x.min()), pytest.approx(x.max()))


def test_observer_for_overrides_one_tensor_by_tensor_or_node_name(tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    from qcompile.frontends.onnx_import import load_onnx
    from qcompile.quant.calibration import calibrate

    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"), helper.make_node("Sigmoid", ["r"], ["y"], name="sig")]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4000])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    g = load_onnx(path)
    x = np.random.default_rng(6).uniform(0, 1, (50, 4000)).astype(np.float32)
    x[0, 0] = 1000.0
    plain = calibrate(path, g, {"x": x}, progress=False)
    for name in ("r", "relu"):
        ranges = calibrate(path, g, {"x": x}, observer_for={name: "percentile"}, progress=False)
        changed = {t for t in ranges if ranges[t] != plain[t]}
        assert changed and all(g.tensors[t].source_name == "r" for t in changed)
        assert max(ranges[t][1] for t in changed) < 2.0
    with pytest.raises(QCompileError, match="known names: .*relu"):
        calibrate(path, g, {"x": x}, observer_for={"nope": "mse"}, progress=False)


@pytest.mark.parametrize("kind", ["percentile", "entropy", "mse"])
def test_histogram_update_in_slices_counts_the_same(kind: str, monkeypatch) -> None:
    """Binning a big input a slice at a time (bounded temporaries) gives the very same histogram."""
    from qcompile.quant import observers

    x = np.random.default_rng(9).normal(size=5000).astype(np.float32) * 3.0
    whole = make_observer(kind)
    whole.update(x)
    monkeypatch.setattr(observers, "UPDATE_CHUNK", 7)
    sliced = make_observer(kind)
    sliced.update(x)
    assert np.array_equal(whole.counts, sliced.counts) and whole.range() == sliced.range()

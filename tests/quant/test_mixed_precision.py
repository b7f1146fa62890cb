"""--accuracy-target: the mixed precision search promotes the fewest tensors to int16 (16x8)
until the output SQNR (or top-1 drop) target is met on the calibration data, reports what it
chose and what it costs, keeps the C bit-exact, and fails cleanly when even int16 cannot."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from cli_runner import run_cli

import qcompile
from qcompile.errors import QCompileError
from qcompile.quant.mixed_precision import AccuracyTarget, candidates, parse_accuracy_target
from qcompile.tools.verify import verify

REPO = Path(__file__).resolve().parents[2]
DIGITS = REPO / "examples" / "digits"


def test_accuracy_target_syntax() -> None:
    assert parse_accuracy_target("30") == AccuracyTarget("sqnr", 30.0)
    assert parse_accuracy_target(42.5) == AccuracyTarget("sqnr", 42.5)
    assert parse_accuracy_target("sqnr=12") == AccuracyTarget("sqnr", 12.0)
    assert parse_accuracy_target("top1-drop=0.5") == AccuracyTarget("top1-drop", 0.5)
    for bad in ("fast", "top1-drop=-1", "snr=3", "sqnr=inf", ""):
        with pytest.raises(QCompileError, match="--accuracy-target"):
            parse_accuracy_target(bad)
    assert AccuracyTarget("top1-drop", 0.5).met(-0.4) and not AccuracyTarget("top1-drop", 0.5).met(-0.6)


def _compile(tmp_path: Path, name: str, accuracy, **options):
    return qcompile.compile(
        DIGITS / "digits_cnn.onnx", tmp_path / name, calib=DIGITS / "calib.npz", accuracy_target=accuracy, **options
    )


def test_search_promotes_some_layers_meets_target_and_reports(tmp_path: Path) -> None:
    # int8 and all-int16 figures of the search itself, then a target between them
    probe = _compile(tmp_path, "probe", "0")
    mixed = probe.report["mixed_precision"]
    assert mixed["layers"] == [] and mixed["int8"] >= 0.0 and mixed["all_int16"] is None
    int8 = mixed["int8"]
    pool = candidates(qcompile.compiler.import_model(DIGITS / "digits_cnn.onnx"))
    assert pool, "the digits CNN has tensors between 16x8 layers"

    m = _compile(tmp_path, "mixed", f"{int8 + 0.6:.2f}")
    mixed = m.report["mixed_precision"]
    assert mixed["achieved"] >= int8 + 0.6 and mixed["all_int16"] > int8
    assert 1 <= len(mixed["promoted_tensors"]) < len(pool)
    assert set(mixed["sensitivity"]) == set(pool)
    # the layers that compute in 16x8 carry int16 outputs
    g = m.graph
    int16_nodes = {n.name for n in g.nodes if n.op != "requantize" and g.tensors[n.outputs[0]].dtype == "int16"}
    assert int16_nodes and {layer["name"] for layer in mixed["layers"]} >= int16_nodes - {""}
    assert all(layer["ram_bytes"] > 0 for layer in mixed["layers"])
    # a graph input or output kept in int16 makes the C API take or give int16_t
    input_int16 = g.inputs[0] in mixed["promoted_tensors"]
    assert [i.dtype for i in m.inputs] == ["int16" if input_int16 else "int8"]
    assert m.outputs[0].dtype == g.tensors[g.outputs[0]].dtype
    cost = mixed["int8_vs_mixed"]
    assert cost["weights_and_bias_bytes"][1] >= cost["weights_and_bias_bytes"][0]
    assert mixed["requantize"] and "not measured" in mixed["instructions"]
    on_disk = json.loads((tmp_path / "mixed" / "report.json").read_text())
    assert on_disk["mixed_precision"]["promoted_tensors"] == mixed["promoted_tensors"]
    result = verify(tmp_path / "mixed", data=DIGITS / "calib.npz", limit=32)
    assert result.bit_exact == result.samples == 32


def test_unreachable_target_fails_cleanly(tmp_path: Path) -> None:
    with pytest.raises(QCompileError, match="out of reach.*int8 gives .* dB.*in int16"):
        _compile(tmp_path, "never", "200")
    assert not (tmp_path / "never").exists()
    with pytest.raises(QCompileError, match="drop --act-bits 16"):
        _compile(tmp_path, "both", "30", act_bits=16)


def test_top1_drop_target_needs_labels_and_uses_them(tmp_path: Path) -> None:
    with pytest.raises(QCompileError, match="needs integer labels"):
        _compile(tmp_path, "nolabels", "top1-drop=0.5")
    with np.load(DIGITS / "test.npz") as npz:
        x, y = npz["x"][:64], npz["y"][:64]
    np.savez(tmp_path / "labelled.npz", input=x, digit=y)
    with pytest.raises(QCompileError, match="no array 'y'"):
        qcompile.compile(
            DIGITS / "digits_cnn.onnx", tmp_path / "o", calib=tmp_path / "labelled.npz", accuracy_target="top1-drop=0.5"
        )
    m = qcompile.compile(
        DIGITS / "digits_cnn.onnx",
        tmp_path / "top1",
        calib=tmp_path / "labelled.npz",
        accuracy_target="top1-drop=0.5",
        labels="digit",
    )
    mixed = m.report["mixed_precision"]
    assert mixed["target"] == {"metric": "top1-drop", "value": 0.5} and mixed["achieved"] >= -0.5


def test_batched_reference_gives_the_per_sample_outputs() -> None:
    from qcompile.compiler import import_model
    from qcompile.quant.calibration import calibrate, load_calibration_data
    from qcompile.quant.mixed_precision import batched
    from qcompile.quant.quantize import QuantConfig, quantize
    from qcompile.reference.executor import run_quantized

    model = DIGITS / "digits_cnn.onnx"
    g = import_model(model)
    data = load_calibration_data(DIGITS / "calib.npz", g)
    q = quantize(g, calibrate(model, g, data, progress=False), QuantConfig(act_bits_for={g.nodes[0].outputs[0]: 16}))
    x = q.tensors[q.inputs[0]].quant.quantize(
        np.random.default_rng(1).normal(size=(6, *q.tensors[q.inputs[0]].shape[1:]))
    )
    wide = batched(q, 6)
    assert wide is not None and q.tensors[q.inputs[0]].shape[0] == 1
    together = run_quantized(wide, [x])[q.outputs[0]]
    alone = np.concatenate([run_quantized(q, [x[i : i + 1]])[q.outputs[0]] for i in range(6)])
    np.testing.assert_array_equal(together, alone)


def test_cli_prints_the_search_and_fails_cleanly(tmp_path: Path) -> None:

    common = [DIGITS / "digits_cnn.onnx", "--calib", DIGITS / "calib.npz", "--no-progress"]
    bad = run_cli(*common, "--accuracy-target", "200", "-o", tmp_path / "never")
    assert bad.returncode == 1 and "out of reach" in bad.stderr and "Traceback" not in bad.stderr
    syntax = run_cli(*common, "--accuracy-target", "much", "-o", tmp_path / "never")
    assert syntax.returncode == 1 and "top1-drop=0.5" in syntax.stderr and "Traceback" not in syntax.stderr
    ok = run_cli(*common, "--accuracy-target", "0", "-o", tmp_path / "ok")
    assert ok.returncode == 0, ok.stderr
    assert "accuracy target" in ok.stdout and "none (int8 meets the target)" in ok.stdout


@pytest.mark.skipif(
    not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")),
    reason="needs the Arm toolchain and QEMU",
)
def test_cortex_m_report_counts_instructions_of_both_builds(tmp_path: Path) -> None:
    int8 = _compile(tmp_path, "probe", "0").report["mixed_precision"]["int8"]
    m = _compile(tmp_path, "m7", f"{int8 + 0.6:.2f}", target="cortex-m7")
    mixed = m.report["mixed_precision"]
    counts = mixed["instructions"]
    assert isinstance(counts, dict), counts
    assert all(n > 0 for n in counts["total"]) and counts["total"][1] != counts["total"][0]
    promoted = [layer["name"] for layer in mixed["layers"]]
    assert any(counts["per_layer"].get(name, [None, None])[1] for name in promoted)


def test_reusing_search_decides_as_the_exhaustive_one() -> None:
    """The search with the NodeCache (only nodes downstream of a change recomputed) and with
    every candidate graph run in full: the same sensitivities, promotions and scores."""
    from qcompile.compiler import import_model
    from qcompile.quant.calibration import calibrate, load_calibration_data
    from qcompile.quant.mixed_precision import search
    from qcompile.quant.quantize import QuantConfig

    model = DIGITS / "digits_cnn.onnx"
    g = import_model(model)
    data = load_calibration_data(DIGITS / "calib.npz", g)
    ranges = calibrate(model, g, data, progress=False)
    target = parse_accuracy_target("0")
    int8 = search(g, ranges, data, QuantConfig(), target).int8_score
    target = parse_accuracy_target(f"{int8 + 0.6:.2f}")
    fast = search(g, ranges, data, QuantConfig(), target)
    full = search(g, ranges, data, QuantConfig(), target, reuse=False)
    assert fast.promoted_tensors and fast.promoted_tensors == full.promoted_tensors
    assert fast.sensitivity == full.sensitivity and len(fast.sensitivity) > 2
    assert (fast.score, fast.int16_score, fast.evaluations) == (full.score, full.int16_score, full.evaluations)

"""`qcompile report`: per-layer SQNR on the digits example, the HTML page rendered by Chromium."""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from cli_runner import run_cli
from conftest import EXAMPLE_DIR

from qcompile.tools.report import analyse

MODEL, CALIB, TEST = EXAMPLE_DIR / "digits_cnn.onnx", EXAMPLE_DIR / "calib.npz", EXAMPLE_DIR / "test.npz"


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "digits"
    r = run_cli(MODEL, "--calib", CALIB, "-o", out)
    assert r.returncode == 0, r.stderr
    return out


def test_every_layer_is_compared_and_own_error_is_separated(digits: Path) -> None:
    report = analyse(digits, data=TEST, limit=8)
    assert report.samples == 8 and not report.skipped
    assert [e.index for e in report.layers] == list(range(len(report.layers)))
    first = report.layers[0]
    # the first layer's inputs are the model's (quantized) input: nothing to inherit
    assert first.own_sqnr_db == pytest.approx(first.sqnr_db)
    for e in report.layers:
        assert 15.0 < e.sqnr_db < 80.0, (e.node, e.sqnr_db)  # int8 of a healthy model: neither exact nor broken
        assert e.own_sqnr_db is not None and e.own_sqnr_db >= e.sqnr_db - 1.0
    worst = report.worst_first()
    assert [e.sqnr_db for e in worst] == sorted(e.sqnr_db for e in report.layers)


def test_a_broken_layer_ranks_first(digits: Path, tmp_path: Path) -> None:
    """Clamp one layer's output scale to a quarter of its range: that layer is worst, by its own error."""
    from qcompile.ir_io import load_graph, save_graph
    from qcompile.outdir import GRAPH_FILE

    broken = tmp_path / "digits"
    shutil.copytree(digits, broken)
    graph, meta = load_graph(broken / GRAPH_FILE)
    node = graph.nodes[1]
    q = graph.tensors[node.outputs[0]].quant
    q.scale = np.asarray(q.scale) / 4
    save_graph(graph, broken / GRAPH_FILE, meta=meta)
    healthy, report = analyse(digits, data=TEST, limit=4), analyse(broken, data=TEST, limit=4)
    assert report.worst_first()[0].node == node.name
    assert report.layers[1].own_sqnr_db < healthy.layers[1].own_sqnr_db - 6.0  # its own fault, not inherited
    assert report.layers[0].own_sqnr_db == pytest.approx(healthy.layers[0].own_sqnr_db)  # upstream untouched


def test_cli_prints_worst_first_and_writes_the_page(digits: Path) -> None:
    r = run_cli("report", digits, "--data", TEST, "-n", "4")
    assert r.returncode == 0, r.stderr
    assert "4 samples" in r.stdout and "own SQNR dB" in r.stdout
    page = (digits / "report.html").read_text()
    assert "<svg" in page and "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert not list(digits.glob(".*.tmp"))


def test_tflite_folder_is_refused(tmp_path: Path, kws_tflite: Path) -> None:
    out = tmp_path / "kws"
    assert run_cli(kws_tflite, "-o", out).returncode == 0
    r = run_cli("report", out, "--data", TEST)
    assert r.returncode == 1
    assert ".tflite" in r.stderr and "no float model" in r.stderr
    assert not (out / "report.html").exists()


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium not installed (scripts/setup.sh installs it)")
def test_page_renders_in_chromium(digits: Path, tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    assert run_cli("report", digits, "--data", TEST, "-n", "4", "-o", page).returncode == 0
    args = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1200,2000"]
    shot = tmp_path / "shot.png"
    subprocess.run([*args, f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=180, check=True)
    dom = subprocess.run([*args, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=180).stdout
    for e in analyse(digits, data=TEST, limit=1).layers:
        assert e.node in dom, e.node
    assert dom.count("<svg") >= 2
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>")
    empty = tmp_path / "blank.png"
    subprocess.run([*args, f"--screenshot={empty}", blank.as_uri()], capture_output=True, timeout=180, check=True)
    # a blank 1200x2000 page compresses to a few kB; text, bars and histograms do not
    assert shot.stat().st_size > 10 * empty.stat().st_size


def test_sqnr_power_matches_whole_array_definition() -> None:
    from qcompile.tools.verify import sqnr_db, sqnr_from_power

    a, b = np.array([1.0, -2.0, 3.0]), np.array([1.0, -2.5, 3.0])
    assert sqnr_from_power(14.0, 0.25) == pytest.approx(sqnr_db(a, b))
    assert math.isinf(sqnr_from_power(1.0, 0.0))


def test_tensors_whose_source_shape_no_longer_fits_are_skipped(tmp_path: Path) -> None:
    """The U-Net's DepthToSpace becomes reshape/transpose/reshape: the middle tensors keep the
    ONNX output's name but not its shape. They are skipped (no float counterpart), not a crash."""
    root = Path(__file__).resolve().parents[2] / "examples" / "realworld"
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "x.npz", input=np.tanh(rng.standard_normal((4, 3, 32, 32))).astype(np.float32))
    r = run_cli(root / "unet_decoder.onnx", "--calib", tmp_path / "x.npz", "-o", tmp_path / "unet")
    assert r.returncode == 0, r.stderr
    report = analyse(tmp_path / "unet", data=tmp_path / "x.npz", limit=2)
    ops = {e.op for e in report.layers}
    assert {"transpose_conv2d", "resize_bilinear", "reduce_max", "mean"} <= ops
    assert any("DepthToSpace" in name for name in report.skipped)

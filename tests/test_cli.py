"""The command line: the main job, inspect, verify, and bad input handled cleanly
(one message, non-zero exit, nothing half-written)."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from conftest import EXAMPLE_DIR
from onnx import TensorProto, helper

EXAMPLE_MODEL = EXAMPLE_DIR / "digits_cnn.onnx"
EXAMPLE_CALIB = EXAMPLE_DIR / "calib.npz"


def run_cli(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "qcompile", *map(str, args)], capture_output=True, text=True, cwd=cwd)


def _conv_model(path: Path, *, weight: np.ndarray | None = None, extra_nodes: list | None = None) -> Path:
    w = weight if weight is not None else np.random.default_rng(0).normal(size=(4, 3, 3, 3)).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv0", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["y"], name="relu0"),
    ]
    out = "y"
    for node in extra_nodes or []:
        nodes.append(node)
        out = node.output[0]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)],
        [helper.make_tensor("w", TensorProto.FLOAT, w.shape, w.flatten())],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.save(model, path)
    return path


def _calib(path: Path, shape: tuple[int, ...] = (16, 1, 3, 8, 8)) -> Path:
    np.savez(path, x=np.random.default_rng(0).normal(size=shape).astype(np.float32))
    return path


def test_compile_inspect_verify_example(tmp_path: Path) -> None:
    out = tmp_path / "digits"
    r = run_cli(EXAMPLE_MODEL, "--target", "host", "--calib", EXAMPLE_CALIB, "-o", out)
    assert r.returncode == 0, r.stderr
    for f in ("digits_cnn.h", "digits_cnn.c", "digits_cnn_weights.c", "report.json", "model.qir"):
        assert (out / f).exists(), f
    assert (out / "runtime").is_dir() and (out / "CMakeLists.txt").exists()
    r = run_cli("verify", out, "-n", "50")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "bit-exact: 50/50" in r.stdout
    r = run_cli("inspect", EXAMPLE_MODEL)
    assert r.returncode == 0, r.stderr
    assert "Conv" in r.stdout and "0 unsupported" in r.stdout


def test_compile_is_deterministic(tmp_path: Path) -> None:
    for sub in ("a", "b"):
        r = run_cli(EXAMPLE_MODEL, "--calib", EXAMPLE_CALIB, "-o", tmp_path / sub)
        assert r.returncode == 0, r.stderr
    cmp = filecmp.dircmp(tmp_path / "a", tmp_path / "b")

    def same(c: filecmp.dircmp) -> bool:
        _, mismatch, errors = filecmp.cmpfiles(c.left, c.right, c.common_files, shallow=False)
        return not (mismatch or errors or c.left_only or c.right_only) and all(same(s) for s in c.subdirs.values())

    assert same(cmp)


def _assert_clean_failure(
    r: subprocess.CompletedProcess[str], out: Path, *needles: str, code: int | None = None
) -> None:
    assert r.returncode != 0
    if code is not None:
        assert r.returncode == code, r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    for needle in needles:
        assert needle in r.stderr, r.stderr
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}")], "temporary folder left behind"


def test_truncated_onnx(tmp_path: Path) -> None:
    model = _conv_model(tmp_path / "m.onnx")
    data = model.read_bytes()
    (tmp_path / "t.onnx").write_bytes(data[: len(data) // 2])
    out = tmp_path / "out"
    r = run_cli(tmp_path / "t.onnx", "--calib", _calib(tmp_path / "c.npz"), "-o", out)
    _assert_clean_failure(r, out, "t.onnx")


def test_unsupported_ops_are_all_listed(tmp_path: Path) -> None:
    extra = [
        helper.make_node("Sin", ["y"], ["e"], name="bad_sin"),
        helper.make_node("Cos", ["e"], ["f"], name="bad_cos"),
    ]
    model = _conv_model(tmp_path / "m.onnx", extra_nodes=extra)
    out = tmp_path / "out"
    r = run_cli(model, "--calib", _calib(tmp_path / "c.npz"), "-o", out)
    _assert_clean_failure(r, out, "bad_sin", "Sin", "bad_cos", "Cos", code=2)


def test_wrong_calibration_shape(tmp_path: Path) -> None:
    model = _conv_model(tmp_path / "m.onnx")
    out = tmp_path / "out"
    r = run_cli(model, "--calib", _calib(tmp_path / "c.npz", shape=(16, 3, 9, 8)), "-o", out)
    _assert_clean_failure(r, out, "x")
    assert "3, 8, 8" in r.stderr  # names the expected shape


def test_nan_weight(tmp_path: Path) -> None:
    w = np.ones((4, 3, 3, 3), dtype=np.float32)
    w[1, 2, 0, 0] = np.nan
    model = _conv_model(tmp_path / "m.onnx", weight=w)
    out = tmp_path / "out"
    r = run_cli(model, "--calib", _calib(tmp_path / "c.npz"), "-o", out)
    _assert_clean_failure(r, out, "w")
    assert "NaN" in r.stderr or "nan" in r.stderr.lower()


def test_failed_compile_keeps_previous_output(tmp_path: Path) -> None:
    model = _conv_model(tmp_path / "m.onnx")
    out = tmp_path / "out"
    assert run_cli(model, "--calib", _calib(tmp_path / "c.npz"), "-o", out).returncode == 0
    before = sorted(p.name for p in out.iterdir())
    r = run_cli(model, "--calib", _calib(tmp_path / "bad.npz", shape=(4, 2, 2)), "-o", out)
    assert r.returncode != 0
    assert sorted(p.name for p in out.iterdir()) == before


def test_missing_calibration_and_unknown_target(tmp_path: Path) -> None:
    model = _conv_model(tmp_path / "m.onnx")
    out = tmp_path / "out"
    r = run_cli(model, "-o", out)
    _assert_clean_failure(r, out, "--calib")
    r = run_cli(model, "--calib", _calib(tmp_path / "c.npz"), "--target", "pdp11", "-o", out)
    _assert_clean_failure(r, out, "pdp11", "host")


@pytest.mark.parametrize("args", [["--help"], ["--version"]])
def test_help_and_version(args: list[str]) -> None:
    r = run_cli(*args)
    assert r.returncode == 0 and "qcompile" in r.stdout

"""The U-Net-style test model of examples/realworld/ (make_unet.py, committed): ConvTranspose,
bilinear Resize, DepthToSpace (CRD), Concat with skips, Gather (index_select), ReduceMean,
ReduceMax and ReduceSum heads. It compiles for the host and cortex-m7, the C is bit-exact
with the reference and sanitizer-clean, and int8 tracks float about as well as ONNX
Runtime's quantize_static on the same data (bench/bench_unet.py, QDQ evaluated exactly:
seg 30.1 dB against 29.9 dB, cls 40.2 dB against 40.4 dB)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from c_driver import check_model_sanitized

from qcompile.compiler import CompileOptions, compile_model
from qcompile.tools.verify import verify

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "realworld"
sys.path.insert(0, str(EXAMPLES))
from data import smooth  # noqa: E402


def test_unet_bit_exact_host_and_m7(tmp_path: Path) -> None:
    np.savez(tmp_path / "calib.npz", input=smooth(np.random.default_rng(50), 48, 3, 32, 32))
    np.savez(tmp_path / "test.npz", input=smooth(np.random.default_rng(51), 16, 3, 32, 32))
    model = EXAMPLES / "unet_decoder.onnx"
    opts = CompileOptions(calib=tmp_path / "calib.npz", progress=False)
    report = compile_model(model, tmp_path / "host", opts)
    ops = {layer["op"] for layer in report["layers"]}
    assert {"transpose_conv2d", "resize_bilinear", "transpose", "gather", "reduce_sum", "reduce_max"} <= ops, ops
    result = verify(tmp_path / "host", data=tmp_path / "test.npz")
    assert result.ok, result.diagnosis
    seg, cls = (o.sqnr_db for o in result.outputs)
    assert seg > 28.0 and cls > 35.0, result.outputs
    check_model_sanitized(tmp_path / "host", tmp_path)
    opts.target = "cortex-m7"
    compile_model(model, tmp_path / "m7", opts)
    assert verify(tmp_path / "m7", data=tmp_path / "test.npz", limit=4, float_model=False).ok

"""Pre-quantized ONNX models end to end: ``qcompile MODEL -o DIR`` with no ``--calib``, then
``qcompile verify DIR --data`` (C == reference bit for bit, outputs against the QDQ model run by
onnxruntime with optimisations off); and the KWS figure of issue 11 on the shared data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

from qcompile.compiler import CompileOptions, compile_model
from qcompile.outdir import ModelFolder
from qcompile.tools.verify import verify
from tests.cli_runner import run_cli
from tests.frontends.test_onnx_qdq import int16_model, quantized_model, samples


def test_cli_compile_and_verify(tmp_path: Path) -> None:
    model = quantized_model(tmp_path, QuantFormat.QDQ, True, QuantType.QUInt8)
    data = tmp_path / "data.npz"
    np.savez(data, x=samples(20))
    out = tmp_path / "out"
    compiled = run_cli(model, "-o", out, "--no-progress")
    assert compiled.returncode == 0, compiled.stderr
    assert ModelFolder.open(out).is_qdq_source
    checked = run_cli("verify", out, "--data", data)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "bit-exact: 20/20" in checked.stdout
    assert "the QDQ model (onnxruntime, optimisations off)" in checked.stdout
    report = run_cli("report", out, "--data", data, "-n", "8", "-o", tmp_path / "r.html")
    assert report.returncode == 0, report.stdout + report.stderr
    evaluated = run_cli("eval", out, "--data", data)
    assert evaluated.returncode == 0, evaluated.stdout + evaluated.stderr
    no_data = run_cli("verify", out)
    assert no_data.returncode == 1 and "pre-quantized ONNX model" in no_data.stderr + no_data.stdout
    refused = run_cli(model, "-o", tmp_path / "o2", "--calib", data)
    assert refused.returncode == 1 and "--calib is not accepted" in refused.stderr + refused.stdout


class _Reader(CalibrationDataReader):
    def __init__(self, xs: np.ndarray) -> None:
        self.it = iter([{"input_1": xs[i : i + 1]} for i in range(len(xs))])

    def get_next(self):
        return next(self.it, None)


def kws_qdq(kws_onnx: Path, kws_data: Path, tmp: Path, act=QuantType.QUInt8) -> tuple[Path, Path]:
    """The shared DS-CNN quantized by ``quantize_static`` (QDQ, per channel, calibrated on the
    shared samples; opset 13 first, which per-channel DequantizeLinear needs), and the samples as
    float inputs with labels."""
    from onnx import version_converter

    d = np.load(kws_data)
    x = ((d["x"].astype(np.float32) - d["in_zero_point"]) * d["in_scale"]).reshape(-1, 1, 49, 10)
    data = tmp / "kws.npz"
    np.savez(data, input_1=x.astype(np.float32), y=d["y"])
    f13, q = tmp / "kws13.onnx", tmp / "kws_qdq.onnx"
    onnx.save(version_converter.convert_version(onnx.load(kws_onnx), 13), f13)
    quantize_static(
        str(f13), str(q), _Reader(x.astype(np.float32)), quant_format=QuantFormat.QDQ, per_channel=True,
        activation_type=act, weight_type=QuantType.QInt8,
    )  # fmt: skip
    return q, data


def test_kws_qdq_agrees_with_onnxruntime(kws_onnx: Path, kws_data: Path, tmp_path: Path) -> None:
    model, data = kws_qdq(kws_onnx, kws_data, tmp_path)
    compile_model(model, tmp_path / "out", CompileOptions(progress=False))
    result = verify(tmp_path / "out", data=data)
    assert result.ok and result.samples == 500
    (out,) = result.outputs
    assert out.top1_agreement >= 0.99
    assert abs(out.int8_accuracy - out.float_accuracy) <= 0.003


def test_int16_qdq_compiles_to_16x8_bit_exact(tmp_path: Path) -> None:
    """QInt16 activations: the C takes and returns int16 and equals the reference bit for bit."""
    model = int16_model(tmp_path)
    data = tmp_path / "data.npz"
    np.savez(data, x=samples(20))
    compile_model(model, tmp_path / "out", CompileOptions(progress=False))
    result = verify(tmp_path / "out", data=data)
    assert result.ok and result.samples == 20
    assert result.outputs[0].sqnr_db > 60

"""Keyword transformer (examples/kwt): int8 quality of qcompile's integer-only attention
against ONNX Runtime's ``quantize_static`` on the same model and data.

    python3 bench/bench_kwt.py

For both exports of the same trained weights (``kwt_opset17.onnx`` with the
LayerNormalization op, ``kwt_opset13.onnx`` with LayerNorm decomposed into
ReduceMean/Sub/Pow/Sqrt/Div) it reports, on the 300 held-out samples of
``examples/kwt/test.npz`` after calibration on the 200 of ``calib.npz``:

* qcompile: the host build of the generated C (integer only: batch_matmul, integer
  layer_norm, softmax, GELU table), SQNR of the logits against onnxruntime's float model,
  top-1 agreement with float, and top-1 accuracy;
* ONNX Runtime ``quantize_static`` (QDQ, per-channel int8 weights, int8 activations, MinMax),
  executed with graph optimisations off so every QDQ pair runs as written. ORT leaves ops it
  has no int8 form for (LayerNormalization, Softmax, Erf...) in float between its QDQ pairs,
  so it is not integer-only on the opset-17 export.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
KWT = ROOT / "examples" / "kwt"
sys.path.append(str(ROOT / "toolchain"))  # after site-packages: an installed qcompile wins
sys.path.insert(0, str(ROOT / "bench"))

from bench_quant import _ort_run, ort_qdq_model  # noqa: E402

import qcompile  # noqa: E402
from qcompile.tools.verify import sqnr_db  # noqa: E402


def _row(name: str, out: np.ndarray, ref: np.ndarray, y: np.ndarray) -> str:
    agree = 100 * np.mean(out.argmax(1) == ref.argmax(1))
    acc = 100 * np.mean(out.argmax(1) == y)
    return f"| {name} | {sqnr_db(ref, out):.1f} | {agree:.1f} | {acc:.1f} |"


def main() -> None:
    calib = np.load(KWT / "calib.npz")["input"]
    test = np.load(KWT / "test.npz")
    x, y = test["input"], test["y"]
    print("| model, method | logits SQNR dB | top-1 agreement % | top-1 % |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for opset in (17, 13):
            onnx_path = KWT / f"kwt_opset{opset}.onnx"
            ref = _ort_run(onnx_path, x)
            print(f"| opset {opset}: float (onnxruntime) | - | 100.0 | {100 * np.mean(ref.argmax(1) == y):.1f} |")
            model = qcompile.compile(onnx_path, work / f"q{opset}", calib={"input": calib}, force=True)
            out = model.dequantize(model.run(x)).reshape(ref.shape)
            print(_row(f"opset {opset}: qcompile int8 (integer only)", out, ref, y))
            qdq = ort_qdq_model(onnx_path, calib, work / f"kwt{opset}-ort.onnx", "minmax")
            print(_row(f"opset {opset}: ORT quantize_static QDQ", _ort_run(qdq, x, optimize=False), ref, y))


if __name__ == "__main__":
    main()

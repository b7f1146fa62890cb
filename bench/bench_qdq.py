"""Pre-quantized ONNX models: qcompile's C against the quantized model itself, on KWS.

    python3 bench/bench_qdq.py [--calib 500] [--configs qdq-u8 qdq-s8 qdq-u8-tensor qop-u8]

The MLPerf Tiny DS-CNN (``../shared/models/mlperf_kws_dscnn.onnx``, converted to opset 13, which
per-channel DequantizeLinear needs) is quantized by ONNX Runtime's ``quantize_static`` (MinMax,
int8 weights), calibrated on the first ``--calib`` of the 500 shared samples
(``../shared/data/kws_mfcc_dev500.npz``), in each configuration:

* ``qdq-u8`` QDQ, per-channel weights, uint8 activations (ORT's default);
* ``qdq-s8`` QDQ, per-channel weights, int8 activations;
* ``qdq-u8-tensor`` QDQ, per-tensor weights, uint8 activations;
* ``qop-u8`` operator format (QLinearConv, QGemm, ...), per-channel weights, uint8 activations.
  onnxruntime 1.32's own run of this model scores at chance level (9 % on any optimisation
  level), so its reference is the QDQ model of the same calibration, which it means op for op.

Each is compiled by qcompile with no calibration (its own scales and zero points) and run on all
500 samples through the host build of the generated C. The reference is the quantized model run
by onnxruntime with graph optimisations off (a QDQ model's exact QDQ semantics; an operator-format
model runs ORT's integer kernels). Reported: top-1 agreement of qcompile with the reference, both
accuracies and their difference in points, and output SQNR of qcompile against the reference.
Issue 11's target (``qdq-u8``): agreement >= 99 %, accuracy within 0.3 points.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_quant import SHARED, _opset13, _ort_run, _top1  # noqa: E402

import qcompile  # noqa: E402
from qcompile.tools.verify import sqnr_db  # noqa: E402

CONFIGS = {
    "qdq-u8": ("QDQ", True, "QUInt8"),
    "qdq-s8": ("QDQ", True, "QInt8"),
    "qdq-u8-tensor": ("QDQ", False, "QUInt8"),
    "qop-u8": ("QOperator", True, "QUInt8"),
}


def kws_data() -> tuple[np.ndarray, np.ndarray]:
    with np.load(SHARED / "data/kws_mfcc_dev500.npz") as npz:
        x8, y = npz["x"], npz["y"].astype(np.int64)
        scale, zp = float(npz["in_scale"]), int(npz["in_zero_point"])
    return ((x8.astype(np.float32) - zp) * scale).reshape(-1, 1, 49, 10), y


def quantize_kws(config: str, calib: np.ndarray, work: Path) -> Path:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    fmt, per_channel, act = CONFIGS[config]

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.samples = iter(calib[i : i + 1] for i in range(len(calib)))

        def get_next(self) -> dict[str, np.ndarray] | None:
            x = next(self.samples, None)
            return None if x is None else {"input_1": x}

    out = work / f"kws-{config}.onnx"
    quantize_static(
        str(_opset13(SHARED / "models/mlperf_kws_dscnn.onnx", work)),
        str(out),
        Reader(),
        quant_format=getattr(QuantFormat, fmt),
        per_channel=per_channel,
        activation_type=getattr(QuantType, act),
        weight_type=QuantType.QInt8,
    )
    return out


def measure(config: str, x: np.ndarray, y: np.ndarray, calib: int, work: Path) -> dict[str, float | str]:
    model_path = quantize_kws(config, x[:calib], work)
    reference = _ort_run(model_path, x, optimize=False).reshape(len(x), -1)
    notes = ""
    if CONFIGS[config][0] == "QOperator":
        # onnxruntime's own run of this operator-format DS-CNN scores at chance level (its
        # integer kernels, every optimisation level), so the reference is the QDQ model of the
        # same calibration, which the operator format means op for op
        own = float(np.mean(_top1(reference, len(x)) == y))
        qdq = next(k for k, v in CONFIGS.items() if v == ("QDQ", *CONFIGS[config][1:]))
        reference = _ort_run(quantize_kws(qdq, x[:calib], work), x, optimize=False).reshape(len(x), -1)
        notes = f"reference: {qdq} (onnxruntime's run of the operator-format model: {own:.1%} accuracy)"
    compiled = qcompile.compile(model_path, work / config, force=True)
    ours = compiled.dequantize(compiled.run(x)).reshape(len(x), -1)
    ref_top, our_top = _top1(reference, len(x)), _top1(ours, len(x))
    return {
        "agreement": float(np.mean(ref_top == our_top)),
        "ref_acc": float(np.mean(ref_top == y)),
        "acc": float(np.mean(our_top == y)),
        "sqnr": sqnr_db(reference, ours),
        "notes": notes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calib", type=int, default=500, help="calibration samples (the first N of 500)")
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    args = parser.parse_args()
    x, y = kws_data()
    print(f"KWS DS-CNN, {len(x)} samples, quantize_static MinMax calibrated on the first {args.calib}")
    print(
        f"{'config':<15} {'top-1 agreement':>16} {'ORT acc':>8} {'qcompile acc':>13} {'diff (pt)':>10} {'SQNR dB':>8}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-qdq-") as tmp:
        for config in args.configs:
            r = measure(config, x, y, args.calib, Path(tmp))
            print(
                f"{config:<15} {r['agreement']:>16.2%} {r['ref_acc']:>8.2%} {r['acc']:>13.2%} "
                f"{100 * (r['acc'] - r['ref_acc']):>+10.1f} {r['sqnr']:>8.2f}  {r['notes']}"
            )


if __name__ == "__main__":
    main()

"""int8 output SQNR of qcompile and ONNX Runtime over several data seeds, per model and on average.

    python3 bench/bench_seeds.py [--seeds 0 1 2] [--samples 64] [--options '{"bias_correction": true}']

One bench_realworld.py / bench_unet.py run compares one calibration set and one test set;
at 0.1-0.3 dB the difference between two int8 models with the same quantization points is
the test set's rounding pattern, not a property of either (docs/QUANTIZATION.md, "Tried and
not adopted"). This averages over ``--seeds``: for each seed, fresh calibration and test
inputs (``examples/realworld/data.py``'s ``smooth`` images of each model's shape, seed
``1000 + seed``), qcompile with ``--options`` (keyword arguments of ``qcompile.compile``),
and ORT ``quantize_static`` (QDQ, per-channel, MinMax, run with graph optimisations off),
both scored against the float model. Models: the four issue-12 models (the U-Net's two
outputs are scored separately).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "examples" / "realworld"))
sys.path.append(str(ROOT / "toolchain"))

from bench_unet import ort_run, sqnr_db  # noqa: E402
from data import smooth  # noqa: E402

#: model key -> (ONNX file, --input-shape, input shape without batch)
MODELS = {
    "mbv3_se": ("examples/realworld/mbv3_se.onnx", ["input=1,3,48,48"], (3, 48, 48)),
    "keras_cnn": ("examples/realworld/keras_cnn.onnx", None, (1, 32, 24)),
    "mbv3_small": ("bench/models/mbv3_small.onnx", ["input=1,3,64,64"], (3, 64, 64)),
    "unet": ("examples/realworld/unet_decoder.onnx", None, (3, 32, 32)),
}


def _ours(path: Path, shape, calib: np.ndarray, test: np.ndarray, work: Path, options: dict) -> list[np.ndarray]:
    import qcompile

    model = qcompile.compile(path, work / "out", calib={"input": calib}, input_shape=shape, force=True, **options)
    out = model.dequantize(model.run(model.quantize(test)))
    if isinstance(out, dict):  # the U-Net: seg is NHWC in C
        h, w = test.shape[2:]
        return [np.asarray(out["seg"]).reshape(len(test), h, w, -1).transpose(0, 3, 1, 2), np.asarray(out["cls"])]
    return [np.asarray(out)]


def run(seeds: list[int], n: int, options: dict, work: Path) -> dict[str, list[tuple[float, float]]]:
    """``{model/output: [(ours, ORT) per seed]}`` in dB."""
    from bench_quant import ort_qdq_model

    rows: dict[str, list[tuple[float, float]]] = {}
    for key, (rel, shape, dims) in MODELS.items():
        path = ROOT / rel
        for seed in seeds:
            rng = np.random.default_rng(1000 + seed)
            calib, test = smooth(rng, n, *dims), smooth(rng, n, *dims)
            ref = ort_run(path, test)
            ours = _ours(path, shape, calib, test, work, options)
            theirs = ort_run(ort_qdq_model(path, calib, work / f"{key}-qdq.onnx"), test, optimize=False)
            for j, r in enumerate(ref):
                name = key if len(ref) == 1 else f"{key}/{('seg', 'cls')[j]}"
                rows.setdefault(name, []).append((sqnr_db(r, ours[j]), sqnr_db(r, theirs[j])))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--options", default="{}", help="JSON keyword arguments of qcompile.compile")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = run(args.seeds, args.samples, json.loads(args.options), Path(tmp))
    print(f"int8 output SQNR vs float (dB), seeds {args.seeds}, {args.samples} calibration / test samples each")
    print(f"{'model':<16} {'qcompile':>9} {'ORT QDQ':>9} {'diff':>7} {'min diff':>9}")
    diffs = []
    for name, vals in rows.items():
        a = np.array(vals)
        d = a[:, 0] - a[:, 1]
        diffs.extend(d)
        print(f"{name:<16} {a[:, 0].mean():9.2f} {a[:, 1].mean():9.2f} {d.mean():7.2f} {d.min():9.2f}")
    print(f"{'all':<16} {'':>9} {'':>9} {np.mean(diffs):7.2f} {np.min(diffs):9.2f}")


if __name__ == "__main__":
    main()

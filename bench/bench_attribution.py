"""Where qcompile's int8 model loses to ONNX Runtime's quantize_static, tensor by tensor.

    python3 bench/bench_attribution.py [--models mbv3_se keras_cnn mbv3_small unet] [--samples 64]

For every IR tensor that has a float counterpart in the source model, on the same test
samples of the bench_realworld.py models:

* ``ours``: SQNR of qcompile's int8 reference tensor (dequantized) against the float model;
* ``own``: the same with every upstream tensor float (``qcompile report``'s own SQNR: the
  error this quantization point adds by itself);
* ``ORT``: SQNR of ORT's QDQ model's dequantized copy of that tensor (its
  ``<name>_DequantizeLinear_Output``, or the float op output when ORT leaves it
  unquantized), run with graph optimisations off;
* ``delta``: ``ours - ORT``. Where ``delta`` drops from one row to the next, that op loses
  against ORT's float evaluation of the same quantization point.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.append(str(ROOT / "toolchain"))

import bench_realworld as br  # noqa: E402

from qcompile.quant.calibration import float_outputs  # noqa: E402
from qcompile.reference.executor import run_quantized  # noqa: E402
from qcompile.tools.report import _comparable, _own_output, _physical  # noqa: E402


def _power(ref: np.ndarray, got: np.ndarray) -> tuple[float, float]:
    return float(np.sum(ref.astype(np.float64) ** 2)), float(np.sum((ref.astype(np.float64) - got) ** 2))


#: bench_unet.py's model (two outputs, so not in bench_realworld.MODELS)
UNET = {"unet (examples/realworld/unet_decoder.onnx)": ("unet", ROOT / "examples/realworld/unet_decoder.onnx", None)}


def attribute(key: str, path: Path, shape: list[str] | None, n: int, work: Path) -> list[tuple]:
    """Rows ``(index, node, op, ours, own, ort)`` in graph order (dB)."""
    import qcompile

    bq = br._bench_quant()
    calib, test = br.model_samples(key, "calib", n), br.model_samples(key, "test", n)
    model = qcompile.compile(path, work / key, calib={"input": calib}, input_shape=shape, force=True)
    graph = model.graph
    pairs, _ = _comparable(graph)
    names = sorted({t.source_name for _, t in pairs} - {"input"})
    floats = {**float_outputs(path, {"input": test}, extra=names), "input": test}
    qdq = bq.ort_qdq_model(path, calib, work / f"{key}-qdq.onnx")
    qdq_names = [f"{s}_DequantizeLinear_Output" for s in names]
    theirs = float_outputs(qdq, {"input": test}, extra=_present(qdq, qdq_names + names), optimize=False)
    theirs = {s: theirs.get(f"{s}_DequantizeLinear_Output", theirs.get(s)) for s in names}
    theirs = {s: v for s, v in theirs.items() if v is not None}
    inq = graph.tensors[graph.inputs[0]].quant
    stats = np.zeros((len(pairs), 4))  # signal, our noise, our own noise, ORT's noise
    for i in range(n):
        ref = run_quantized(graph, [to_input(graph, test[i : i + 1], inq)], keep_all=True)
        for row, (node, t) in enumerate(pairs):
            expected = _physical(t, floats, i)
            if expected is not None:
                stats[row] += _row(graph, node, t, expected, ref, _physical(t, theirs, i), floats, i)
    return [
        (graph.nodes.index(nd), nd.name, nd.op, *(_db(st[0], st[k]) for k in (1, 2, 3)))
        for (nd, _), st in zip(pairs, stats, strict=True)
        if st[0] > 0
    ]


def _row(graph, node, t, expected: np.ndarray, ref: dict, other, floats: dict, i: int) -> list[float]:
    """One sample's signal and noise powers (NaN where a tensor has no counterpart)."""
    signal, noise = _power(expected, t.quant.dequantize(ref[t.name]))
    own = _own_output(graph, node, floats, i)
    own_noise = np.nan if own is None else _power(expected, t.quant.dequantize(own))[1]
    return [signal, noise, own_noise, np.nan if other is None else _power(expected, other)[1]]


def to_input(graph, x: np.ndarray, quant) -> np.ndarray:
    from qcompile.outdir import to_physical

    return quant.quantize(to_physical(graph.tensors[graph.inputs[0]], x))


def _present(model: Path, wanted: list[str]) -> list[str]:
    import onnx

    m = onnx.load(str(model))
    have = {o for nd in m.graph.node for o in nd.output}
    return [w for w in wanted if w in have]


def _db(signal: float, noise: float) -> float:
    return float("nan") if not np.isfinite(noise) else float(10 * np.log10(signal / max(noise, 1e-30)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=["mbv3_se", "keras_cnn", "mbv3_small", "unet"])
    parser.add_argument("--samples", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for label, (key, path, shape) in {**br.MODELS, **UNET}.items():
            if not any(label.startswith(m) for m in args.models):
                continue
            print(f"\n{label}: SQNR vs float (dB), {args.samples} calibration / test samples")
            print(f"{'#':>3} {'node':<44} {'op':<18} {'ours':>7} {'own':>7} {'ORT':>7} {'delta':>7}")
            for idx, name, op, ours, own, ort in attribute(key, path, shape, args.samples, Path(tmp)):
                print(f"{idx:3d} {name[-44:]:<44} {op:<18} {ours:7.2f} {own:7.2f} {ort:7.2f} {ours - ort:7.2f}")


if __name__ == "__main__":
    main()

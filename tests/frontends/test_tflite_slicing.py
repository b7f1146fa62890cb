"""STRIDED_SLICE, SLICE, SPLIT, SPLIT_V (``frontends/tflite_ops/slicing.py``) and the int8 ->
uint8 QUANTIZE output edge against TFLite Micro, on single-op models: the reference of the
imported graph and the C kernel (through the binding) must give TFLM's bytes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tflite_micro", reason="tflite_micro (TFLM Python interpreter) is not installed")

from tflite_builder import ModelBuilder, tflm_run  # noqa: E402

from qcompile.errors import UnsupportedModelError  # noqa: E402
from qcompile.frontends.tflite_import import load_tflite  # noqa: E402
from qcompile.reference.executor import run_quantized  # noqa: E402

RNG = np.random.default_rng(1313)
Q = {"scale": 0.02, "zero_point": 3}


def _strided(shape, begin, end, strides, out_shape, **masks) -> ModelBuilder:
    b = ModelBuilder()
    x = b.tensor("x", shape, **Q)
    consts = [
        b.tensor(n, [len(v)], "int32", data=np.array(v, np.int32))
        for n, v in (("b", begin), ("e", end), ("s", strides))
    ]
    y = b.tensor("y", out_shape, **Q)
    b.op("STRIDED_SLICE", [x, *consts], [y], "StridedSliceOptions", **masks)
    b.inputs, b.outputs = [x], [y]
    return b


def _slice(shape, begin, size, out_shape) -> ModelBuilder:
    b = ModelBuilder()
    x = b.tensor("x", shape, **Q)
    consts = [b.tensor(n, [len(v)], "int32", data=np.array(v, np.int32)) for n, v in (("b", begin), ("n", size))]
    y = b.tensor("y", out_shape, **Q)
    b.op("SLICE", [x, *consts], [y], "SliceOptions")
    b.inputs, b.outputs = [x], [y]
    return b


def _split(shape, axis, out_shapes, sizes=None) -> ModelBuilder:
    b = ModelBuilder()
    x = b.tensor("x", shape, **Q)
    a = b.tensor("axis", [], "int32", data=np.array(axis, np.int32))
    ys = [b.tensor(f"y{i}", s, **Q) for i, s in enumerate(out_shapes)]
    if sizes is None:
        b.op("SPLIT", [a, x], ys, "SplitOptions", numSplits=len(ys))
    else:
        n = b.tensor("sizes", [len(sizes)], "int32", data=np.array(sizes, np.int32))
        b.op("SPLIT_V", [x, n, a], ys, "SplitVOptions", numSplits=len(ys))
    b.inputs, b.outputs = [x], ys
    return b


def _to_uint8() -> ModelBuilder:
    b = ModelBuilder()
    x = b.tensor("x", (1, 37), scale=0.03, zero_point=-9)
    y = b.tensor("y", (1, 37), "uint8", scale=0.05, zero_point=131)
    b.op("QUANTIZE", [x], [y])
    b.inputs, b.outputs = [x], [y]
    return b


CASES = {
    "strided_masks": lambda: _strided((1, 4, 10), [0, 1, 0], [0, 4, 0], [1, 1, 1], (1, 3, 10), beginMask=5, endMask=5),
    "strided_step2_negative_begin": lambda: _strided((2, 9, 6), [0, -8, 1], [2, 9, 6], [1, 2, 2], (2, 4, 3)),
    "strided_reverse": lambda: _strided((3, 7), [2, -1], [0, 0], [-1, -2], (2, 3), endMask=0),
    "strided_shrink": lambda: _strided((1, 5, 8), [0, 4, 2], [1, 5, 7], [1, 1, 1], (1, 5), shrinkAxisMask=2),
    "slice_to_end": lambda: _slice((2, 5, 6), [1, 1, 2], [1, -1, 3], (1, 4, 3)),
    "split_last_axis": lambda: _split((1, 3, 12), -1, [(1, 3, 4)] * 3),
    "split_v_rest": lambda: _split((1, 7, 4), 1, [(1, 2, 4), (1, 4, 4), (1, 1, 4)], sizes=[2, -1, 1]),
    "quantize_uint8_output": _to_uint8,
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_tflm(case: str, tmp_path: Path) -> None:
    import qcompile.host._runtime as rt

    model = CASES[case]().finish()
    path = tmp_path / "m.tflite"
    path.write_bytes(model)
    graph = load_tflite(path)
    shape = graph.tensors[graph.inputs[0]].shape
    x = RNG.integers(-128, 128, size=(16, *shape)).astype(np.int8)
    expected = tflm_run(model, [x], len(graph.outputs))
    for s in range(len(x)):
        values = run_quantized(graph, [x[s]], keep_all=True)
        for j, name in enumerate(graph.outputs):
            got = values[name].reshape(-1).view(np.uint8)
            np.testing.assert_array_equal(got, expected[j][s].reshape(-1).view(np.uint8), err_msg=f"{name} step {s}")
        for node in graph.nodes:
            if node.op != "reshape":
                out = getattr(rt, f"{node.op}_s8")(*[values[i] for i in node.inputs], **node.attrs)
                want = values[node.outputs[0]].reshape(-1).view(np.int8)
                np.testing.assert_array_equal(np.asarray(out).reshape(-1), want)


def test_uint8_output_is_declared_uint8(tmp_path: Path) -> None:
    path = tmp_path / "m.tflite"
    path.write_bytes(_to_uint8().finish())
    graph = load_tflite(path)
    t = graph.tensors[graph.outputs[0]]
    assert (t.dtype, t.quant.dtype, int(t.quant.zero_point)) == ("uint8", "uint8", 131)


def test_bad_split_names_the_operator(tmp_path: Path) -> None:
    path = tmp_path / "m.tflite"
    path.write_bytes(_split((1, 3, 10), -1, [(1, 3, 3)] * 3).finish())
    with pytest.raises(UnsupportedModelError, match=r"operator 0 \(SPLIT\).*does not split into 3"):
        load_tflite(path)


def test_strided_slice_offset_is_refused(tmp_path: Path) -> None:
    """TFLM ignores ``offset`` where TFLite adds begin to end: refused rather than guessed."""
    path = tmp_path / "m.tflite"
    path.write_bytes(_strided((4, 6), [1, 2], [2, 3], [1, 1], (2, 3), offset=True).finish())
    with pytest.raises(UnsupportedModelError, match="offset are not supported"):
        load_tflite(path)


def test_runtime_begin_is_refused(tmp_path: Path) -> None:
    b = ModelBuilder()
    x = b.tensor("x", (4, 6), **Q)
    begin = b.tensor("begin", (2,), "int32", scale=None)
    size = b.tensor("size", (2,), "int32", data=np.array([1, 1], np.int32))
    y = b.tensor("y", (1, 1), **Q)
    b.op("SLICE", [x, begin, size], [y], "SliceOptions")
    b.inputs, b.outputs = [x, begin], [y]
    path = tmp_path / "m.tflite"
    path.write_bytes(b.finish())
    with pytest.raises(UnsupportedModelError):
        load_tflite(path)

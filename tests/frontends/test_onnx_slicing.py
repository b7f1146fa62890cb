"""ONNX Slice and Split (``frontends/onnx_ops/slicing.py``) to ``strided_slice``: the float IR
equals onnxruntime (NCHW models, so the axes are permuted to NHWC), and a compiled model is
bit-exact and close to float."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from frontends.test_onnx_import import check, make_model, ops
from onnx import numpy_helper

from qcompile.errors import UnsupportedModelError
from qcompile.frontends.onnx_import import load_onnx

RNG = np.random.default_rng(12)


def _i64(name: str, values) -> onnx.TensorProto:
    return numpy_helper.from_array(np.array(values, np.int64), name)


def _conv_then(nodes, outputs, inits, opset: int = 13) -> onnx.ModelProto:
    w = numpy_helper.from_array(RNG.normal(0, 0.3, (6, 3, 3, 3)).astype(np.float32), "w")
    conv = onnx.helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])
    return make_model([conv, *nodes], [("x", [1, 3, 8, 8])], outputs, [w, *inits], opset=opset)


CASES = {
    "slice_hw_reverse_step": lambda: _conv_then(
        [onnx.helper.make_node("Slice", ["y", "st", "en", "ax", "sp"], ["s"])],
        ["s"],
        [_i64("st", [1, -1]), _i64("en", [8, -100]), _i64("ax", [2, 3]), _i64("sp", [2, -2])],
    ),
    "slice_channels_default_axes": lambda: _conv_then(
        [onnx.helper.make_node("Slice", ["y", "st", "en"], ["s"])],
        ["s"],
        [_i64("st", [0, 2, 0, 3]), _i64("en", [1, 5, 100, 7])],
    ),
    "split_channels_sizes": lambda: _conv_then(
        [onnx.helper.make_node("Split", ["y", "parts"], ["a", "b", "c"], axis=1)],
        ["a", "b", "c"],
        [_i64("parts", [1, 3, 2])],
    ),
    "split_width_equal_opset18": lambda: _conv_then(
        [onnx.helper.make_node("Split", ["y"], ["a", "b", "c"], axis=-1, num_outputs=3)], ["a", "b", "c"], [], 18
    ),
    "split_attribute_opset11": lambda: _conv_then(
        [onnx.helper.make_node("Split", ["y"], ["a", "b"], axis=2, split=[5, 3])], ["a", "b"], [], 11
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_float_ir_matches_onnxruntime(case: str, tmp_path: Path) -> None:
    graph = check(CASES[case](), tmp_path)
    assert "strided_slice" in ops(graph)


def test_compiled_slices_are_bit_exact(tmp_path: Path) -> None:
    import qcompile
    from qcompile.tools.verify import verify

    onnx.save(CASES["split_channels_sizes"](), tmp_path / "m.onnx")
    np.savez(tmp_path / "calib.npz", x=RNG.normal(0, 1, (40, 1, 3, 8, 8)).astype(np.float32))
    qcompile.compile(tmp_path / "m.onnx", tmp_path / "out", calib=tmp_path / "calib.npz")
    result = verify(tmp_path / "out")
    assert result.ok and min(o.sqnr_db for o in result.outputs) > 30


def test_runtime_starts_are_named(tmp_path: Path) -> None:
    model = make_model(
        [onnx.helper.make_node("Slice", ["x", "st", "en"], ["s"])],
        [("x", [1, 8]), ("st", [1])],
        ["s"],
        [_i64("en", [4])],
    )
    model.graph.input[1].type.tensor_type.elem_type = onnx.TensorProto.INT64
    onnx.save(model, tmp_path / "m.onnx")
    with pytest.raises(UnsupportedModelError, match="st must be constant"):
        load_onnx(tmp_path / "m.onnx")

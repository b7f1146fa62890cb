"""The resize index tables and float kernels against ONNX Resize as onnxruntime runs it:
every coordinate transformation and nearest mode the importer accepts for nearest, and the
three linear modes for the float bilinear (TFLite's flags). The int8 kernels are checked
against TFLM in tests/frontends/test_tflite_datamove.py."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from qcompile.reference.float_kernels.datamove import resize_bilinear as float_bilinear
from qcompile.reference.kernels.resize import ONNX_NEAREST_COORDINATES, ONNX_NEAREST_MODES, onnx_nearest_index


def _ort_resize(x: np.ndarray, out_hw, **attrs) -> np.ndarray:
    import onnxruntime as ort

    sizes = numpy_helper.from_array(np.array([*x.shape[:2], *out_hw], np.int64), "sizes")
    node = helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], **attrs)
    graph = helper.make_graph(
        [node], "r", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [sizes],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x})[0]


@pytest.mark.parametrize("coord,mode", list(itertools.product(ONNX_NEAREST_COORDINATES, ONNX_NEAREST_MODES)))
def test_onnx_nearest_tables_are_onnxruntime(coord: str, mode: str) -> None:
    for in_size, out_size in [(3, 7), (5, 3), (4, 8), (7, 2), (2, 9), (6, 1)]:
        x = np.arange(in_size, dtype=np.float32).reshape(1, 1, in_size, 1)
        got = _ort_resize(x, (out_size, 1), mode="nearest", coordinate_transformation_mode=coord, nearest_mode=mode)
        want = onnx_nearest_index(in_size, out_size, out_size / in_size, coord, mode)
        assert got.reshape(-1).astype(int).tolist() == want, (in_size, out_size)


@pytest.mark.parametrize("coord", ["half_pixel", "align_corners", "asymmetric"])
def test_float_bilinear_is_onnxruntime_linear(coord: str) -> None:
    rng = np.random.default_rng(3)
    flags = {"half_pixel": (0, 1), "align_corners": (1, 0), "asymmetric": (0, 0)}[coord]
    for in_hw, out_hw in [((3, 4), (6, 8)), ((5, 3), (7, 4)), ((4, 6), (2, 3))]:
        x = rng.standard_normal((1, 2, *in_hw)).astype(np.float32)
        want = _ort_resize(x, out_hw, mode="linear", coordinate_transformation_mode=coord)
        got = float_bilinear(
            x.transpose(0, 2, 3, 1), size=out_hw, align_corners=flags[0], half_pixel_centers=flags[1]
        ).transpose(0, 3, 1, 2)
        np.testing.assert_allclose(got, want, atol=1e-5)

"""Direct tests of the ONNX checks; the CLI-level cases are in tests/fuzz/test_regressions.py."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, numpy_helper

from qcompile.errors import QCompileError
from qcompile.frontends.onnx_validate import check_tensor_proto


def tensor(dtype: int, dims: list[int], field: str, values: list) -> TensorProto:
    """A TensorProto as a file may hold it (helper.make_tensor refuses inconsistent ones)."""
    t = TensorProto()
    t.name, t.data_type = "w", dtype
    t.dims.extend(dims)
    getattr(t, field).extend(values)
    return t


def test_typed_fields_must_match_dims() -> None:
    check_tensor_proto(tensor(TensorProto.FLOAT, [2, 3], "float_data", [0.5] * 6), "w")
    short = tensor(TensorProto.FLOAT, [2, 3], "float_data", [0.5] * 5)
    with pytest.raises(QCompileError, match=r"declares shape \[2, 3\] \(6 values\) but holds 5"):
        check_tensor_proto(short, "w")
    int8 = tensor(TensorProto.INT8, [4], "int32_data", [1, 2, 3])  # stored widened in int32_data
    with pytest.raises(QCompileError, match="holds 3"):
        check_tensor_proto(int8, "q")


def test_raw_data_must_match_dims_and_type() -> None:
    t = numpy_helper.from_array(np.zeros((2, 2), np.float64), "d")
    check_tensor_proto(t, "d")
    t.data_type = TensorProto.FLOAT  # same bytes read as float32: twice too many
    with pytest.raises(QCompileError, match="16 bytes.*holds 32"):
        check_tensor_proto(t, "d")


@pytest.mark.parametrize("dtype", [TensorProto.STRING, TensorProto.BFLOAT16, TensorProto.COMPLEX64, 99])
def test_unreadable_element_types(dtype: int) -> None:
    t = numpy_helper.from_array(np.zeros(4, np.float32), "w")
    t.data_type = dtype
    with pytest.raises(QCompileError, match="element type"):
        check_tensor_proto(t, "w")


def test_external_data_that_was_not_loaded() -> None:
    t = numpy_helper.from_array(np.zeros(4, np.float32), "w")
    t.data_location = TensorProto.EXTERNAL
    with pytest.raises(QCompileError, match="external file"):
        check_tensor_proto(t, "w")


def test_negative_dims() -> None:
    t = tensor(TensorProto.FLOAT, [-1, 2], "float_data", [])
    with pytest.raises(QCompileError, match="dimension -1"):
        check_tensor_proto(t, "w")

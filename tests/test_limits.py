"""The size limits shared by every importer."""

from __future__ import annotations

import pytest

from qcompile.errors import QCompileError
from qcompile.limits import MAX_RANK, MAX_TENSOR_ELEMENTS, check_shape


def test_check_shape_accepts_and_normalises() -> None:
    assert check_shape([1, 2, 3], "t") == (1, 2, 3)
    assert check_shape([0, 4], "t", allow_empty=True) == (0, 4)
    assert check_shape([MAX_TENSOR_ELEMENTS], "t") == (MAX_TENSOR_ELEMENTS,)


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ([1, 0, 3], "dimension 0"),
        ([2, -1], "dimension -1"),
        ([MAX_TENSOR_ELEMENTS + 1], "limit"),
        ([1 << 20, 1 << 20, 1 << 20], "limit"),  # products never overflow (Python ints)
        ([1] * (MAX_RANK + 1), "rank"),
    ],
)
def test_check_shape_refuses(shape: list[int], message: str) -> None:
    with pytest.raises(QCompileError, match=message) as info:
        check_shape(shape, "tensor 'x'")
    assert "tensor 'x'" in str(info.value)

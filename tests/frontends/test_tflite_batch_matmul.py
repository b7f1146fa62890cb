"""TFLite BATCH_MATMUL (int8) against the TFLite Micro interpreter, bit for bit: plain,
adj_x, adj_y, broadcast batch dims, rank 5; the reference and then the C kernel node by
node (``test_tflite_ops._check``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from frontends.test_tflite_ops import _check
from tflite_builder import ModelBuilder

pytest.importorskip("tflite_micro", reason="tflite_micro (TFLM Python interpreter) is not installed")


def _matmul(a_shape, b_shape, out_shape, adj_x=False, adj_y=False, qa=(0.031, -7), qb=(0.047, 12), qo=(0.9, 5)):
    b = ModelBuilder()
    a = b.tensor("a", a_shape, scale=qa[0], zero_point=qa[1])
    c = b.tensor("b", b_shape, scale=qb[0], zero_point=qb[1])
    y = b.tensor("y", out_shape, scale=qo[0], zero_point=qo[1])
    b.op("BATCH_MATMUL", [a, c], [y], "BatchMatMulOptions", adjX=adj_x, adjY=adj_y)
    b.inputs, b.outputs = [a, c], [y]
    return b


CASES = {
    "plain": lambda: _matmul((1, 5, 16), (1, 16, 7), (1, 5, 7)),
    "adj_x": lambda: _matmul((2, 16, 5), (2, 16, 7), (2, 5, 7), adj_x=True),
    "adj_y": lambda: _matmul((2, 5, 16), (2, 7, 16), (2, 5, 7), adj_y=True),
    "adj_both_broadcast": lambda: _matmul((3, 2, 9, 4), (2, 6, 9), (3, 2, 4, 6), adj_x=True, adj_y=True),
    "broadcast_lhs": lambda: _matmul((1, 4, 6), (3, 2, 6, 5), (3, 2, 4, 5)),
    "rank5_saturating": lambda: _matmul((2, 1, 2, 3, 20), (1, 3, 1, 20, 4), (2, 3, 2, 3, 4), qo=(0.2, -3)),
    "odd_scales": lambda: _matmul((1, 3, 33), (1, 33, 3), (1, 3, 3), qa=(0.0123, 100), qb=(0.0777, -128), qo=(1.3, 0)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_batch_matmul_matches_tflm(case: str, tmp_path: Path) -> None:
    _check(CASES[case]().finish(), tmp_path)


def test_compiled_batch_matmul_model_matches_tflm(tmp_path: Path) -> None:
    """Two BATCH_MATMULs (the second with adj_y, broadcasting) through the generated C."""
    from frontends.test_tflite_ops import _random_inputs
    from tflite_builder import tflm_run

    from qcompile.compiler import CompileOptions, compile_model
    from qcompile.host._runtime import ModelLibrary
    from qcompile.host.build import build_host_library

    b = ModelBuilder()
    q = b.tensor("q", (2, 6, 8), scale=0.05, zero_point=3)
    k = b.tensor("k", (2, 8, 6), scale=0.04, zero_point=-9)
    s = b.tensor("s", (2, 6, 6), scale=0.3, zero_point=-4)
    v = b.tensor("v", (1, 5, 6), scale=0.06, zero_point=10)
    y = b.tensor("y", (2, 6, 5), scale=0.9, zero_point=1)
    b.op("BATCH_MATMUL", [q, k], [s], "BatchMatMulOptions", adjX=False, adjY=False)
    b.op("BATCH_MATMUL", [s, v], [y], "BatchMatMulOptions", adjX=False, adjY=True)
    b.inputs, b.outputs = [q, k, v], [y]
    model_bytes = b.finish()
    path = tmp_path / "bmm.tflite"
    path.write_bytes(model_bytes)
    compile_model(path, tmp_path / "out", CompileOptions(progress=False))
    n = 6
    inputs = _random_inputs(model_bytes, n)
    expected = tflm_run(model_bytes, inputs)[0].reshape(n, -1)
    lib = build_host_library(tmp_path / "out", name="bmm", build_dir=tmp_path / "build")
    got = ModelLibrary(str(lib), "bmm", [96, 96, 30], [60], 0).run([x.reshape(n, -1) for x in inputs])[0]
    np.testing.assert_array_equal(np.asarray(got).reshape(n, -1), expected)

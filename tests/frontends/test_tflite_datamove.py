"""TFLite GATHER, TRANSPOSE, RESIZE_NEAREST_NEIGHBOR, RESIZE_BILINEAR, SUM, REDUCE_MAX, MEAN
over any axes, TRANSPOSE_CONV, DEPTH_TO_SPACE and SPACE_TO_DEPTH against TFLite Micro.

Single-op int8 models built with ``tflite_builder`` run on random int8 inputs through
TFLM (the oracle), our numpy reference of the imported graph and our C kernels node by
node (``test_tflite_ops._check``); all three must agree on every byte. One model chaining
them is compiled to C and built for the host."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tflite_micro", reason="tflite_micro (TFLM Python interpreter) is not installed")

from frontends.test_tflite_ops import _check, compiled_matches_tflm  # noqa: E402
from tflite_builder import ACT, PAD, ModelBuilder  # noqa: E402

RNG = np.random.default_rng(1212)
Q = dict(scale=0.05, zero_point=-6)


def _single(code: str, x_shape, y_shape, consts, options=None, y_q=Q, **fields) -> ModelBuilder:
    b = ModelBuilder()
    x = b.tensor("x", x_shape, **Q)
    ins = [x] + [b.tensor(f"c{i}", np.shape(v), "int32", data=np.asarray(v, np.int32)) for i, v in enumerate(consts)]
    y = b.tensor("y", y_shape, **y_q)
    b.op(code, ins, [y], options, **fields)
    b.inputs, b.outputs = [x], [y]
    return b


def _gather(axis: int, indices) -> ModelBuilder:
    shape = (1, 4, 5, 6)
    idx = np.asarray(indices, np.int32)
    out = shape[: axis % 4] + idx.shape + shape[axis % 4 + 1 :]
    return _single("GATHER", shape, out, [idx], "GatherOptions", axis=axis, batchDims=0)


def _transpose(shape, perm) -> ModelBuilder:
    return _single("TRANSPOSE", shape, [shape[p] for p in perm], [perm], "TransposeOptions")


def _resize(code: str, size, align: bool, half: bool, shape=(1, 3, 4, 5)) -> ModelBuilder:
    options = "ResizeBilinearOptions" if code == "RESIZE_BILINEAR" else "ResizeNearestNeighborOptions"
    out = (shape[0], *size, shape[3])
    return _single(code, shape, out, [size], options, alignCorners=align, halfPixelCenters=half)


def _reduce(code: str, axes, keep: bool, same_q: bool = False) -> ModelBuilder:
    shape = (1, 4, 5, 6)
    out = (
        tuple(1 if i in axes else d for i, d in enumerate(shape))
        if keep
        else tuple(d for i, d in enumerate(shape) if i not in axes)
    )
    y_q = Q if same_q else dict(scale=0.3 if code == "SUM" else 0.02, zero_point=7)
    return _single(code, shape, out, [axes], "ReducerOptions", y_q=y_q, keepDims=keep)


def _transpose_conv(padding: str, stride: int, per_channel: bool, bias: bool, act: str = "NONE") -> ModelBuilder:
    b = ModelBuilder()
    in_shape, oc, k = (1, 4, 5, 3), 6, 3
    oh = 4 * stride if padding == "SAME" else (4 - 1) * stride + k
    ow = 5 * stride if padding == "SAME" else (5 - 1) * stride + k
    shape_t = b.tensor("out_shape", (4,), "int32", data=np.array([1, oh, ow, oc], np.int32))
    ws = RNG.uniform(0.002, 0.02, size=oc) if per_channel else 0.01
    w = b.tensor("w", (oc, k, k, 3), scale=ws, data=RNG.integers(-127, 128, (oc, k, k, 3)).astype(np.int8))
    x = b.tensor("x", in_shape, **Q)
    ins = [shape_t, w, x]
    if bias:
        ins.append(b.tensor("b", (oc,), "int32", scale=0.05 * np.atleast_1d(ws), data=RNG.integers(-3000, 3000, oc)))
    y = b.tensor("y", (1, oh, ow, oc), scale=0.08, zero_point=5)
    b.op(
        "TRANSPOSE_CONV", ins, [y], "TransposeConvOptions", padding=PAD[padding], strideW=stride, strideH=stride,
        fusedActivationFunction=ACT[act],
    )  # fmt: skip
    b.inputs, b.outputs = [x], [y]
    return b


def _depth_space(code: str) -> ModelBuilder:
    if code == "DEPTH_TO_SPACE":
        return _single(code, (1, 3, 4, 8), (1, 6, 8, 2), [], "DepthToSpaceOptions", blockSize=2)
    return _single(code, (1, 4, 6, 3), (1, 2, 3, 12), [], "SpaceToDepthOptions", blockSize=2)


CASES: dict[str, Callable[[], ModelBuilder]] = {
    "gather_axis1": lambda: _gather(1, [3, 0, 0, 2]),
    "gather_axis3_last": lambda: _gather(-1, [5, 1]),
    "gather_scalar_index": lambda: _gather(2, 4),
    "gather_2d_indices": lambda: _gather(1, [[0, 1], [3, 2]]),
    "transpose_nchw": lambda: _transpose((1, 4, 5, 6), [0, 3, 1, 2]),
    "transpose_rank3": lambda: _transpose((2, 5, 7), [2, 0, 1]),
    "transpose_rank5": lambda: _transpose((1, 2, 3, 4, 5), [0, 4, 2, 1, 3]),
    "nearest_2x": lambda: _resize("RESIZE_NEAREST_NEIGHBOR", (6, 8), False, False),
    "nearest_half_pixel_odd": lambda: _resize("RESIZE_NEAREST_NEIGHBOR", (7, 3), False, True),
    "nearest_align_corners": lambda: _resize("RESIZE_NEAREST_NEIGHBOR", (5, 9), True, False),
    "bilinear_2x": lambda: _resize("RESIZE_BILINEAR", (6, 8), False, False),
    "bilinear_half_pixel": lambda: _resize("RESIZE_BILINEAR", (6, 8), False, True),
    "bilinear_half_pixel_odd": lambda: _resize("RESIZE_BILINEAR", (7, 11), False, True),
    "bilinear_align_corners": lambda: _resize("RESIZE_BILINEAR", (5, 9), True, False),
    "bilinear_down": lambda: _resize("RESIZE_BILINEAR", (2, 3), False, True, shape=(1, 5, 7, 4)),
    "sum_channels_keep": lambda: _reduce("SUM", [3], True),
    "sum_hw": lambda: _reduce("SUM", [1, 2], False),
    "mean_channels": lambda: _reduce("MEAN", [3], False),
    "mean_h_and_c_keep": lambda: _reduce("MEAN", [1, 3], True),
    "reduce_max_hw": lambda: _reduce("REDUCE_MAX", [1, 2], False, same_q=True),
    "reduce_max_w_keep": lambda: _reduce("REDUCE_MAX", [2], True, same_q=True),
    "transpose_conv_same_s2": lambda: _transpose_conv("SAME", 2, True, True),
    "transpose_conv_valid_s2_relu": lambda: _transpose_conv("VALID", 2, True, True, "RELU"),
    "transpose_conv_same_s1_per_tensor_no_bias": lambda: _transpose_conv("SAME", 1, False, False),
    "depth_to_space": lambda: _depth_space("DEPTH_TO_SPACE"),
    "space_to_depth": lambda: _depth_space("SPACE_TO_DEPTH"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_op_matches_tflm(case: str, tmp_path: Path) -> None:
    _check(CASES[case]().finish(), tmp_path)


def test_reduce_max_with_other_output_params_is_refused(tmp_path: Path) -> None:
    from qcompile.errors import UnsupportedModelError
    from qcompile.frontends.tflite_import import load_tflite

    path = tmp_path / "m.tflite"
    path.write_bytes(_reduce("REDUCE_MAX", [1], False).finish())
    with pytest.raises(UnsupportedModelError, match="REDUCE_MAX needs equal input and output"):
        load_tflite(path)


def test_compiled_decoder_chain_matches_tflm(tmp_path: Path) -> None:
    """TRANSPOSE_CONV -> RESIZE_BILINEAR -> DEPTH_TO_SPACE -> GATHER -> SUM, compiled to C."""
    b = ModelBuilder()
    x = b.tensor("x", (1, 3, 4, 4), **Q)
    shape_t = b.tensor("os", (4,), "int32", data=np.array([1, 6, 8, 8], np.int32))
    w = b.tensor("w", (8, 2, 2, 4), scale=RNG.uniform(0.005, 0.02, 8), data=RNG.integers(-127, 128, (8, 2, 2, 4)))
    t = b.tensor("t", (1, 6, 8, 8), scale=0.06, zero_point=-3)
    b.op("TRANSPOSE_CONV", [shape_t, w, x], [t], "TransposeConvOptions", padding=PAD["VALID"], strideW=2, strideH=2)
    size = b.tensor("size", (2,), "int32", data=np.array([12, 16], np.int32))
    r = b.tensor("r", (1, 12, 16, 8), scale=0.06, zero_point=-3)
    b.op("RESIZE_BILINEAR", [t, size], [r], "ResizeBilinearOptions", halfPixelCenters=True)
    d = b.tensor("d", (1, 24, 32, 2), scale=0.06, zero_point=-3)
    b.op("DEPTH_TO_SPACE", [r], [d], "DepthToSpaceOptions", blockSize=2)
    idx = b.tensor("idx", (1,), "int32", data=np.array([1], np.int32))
    g = b.tensor("g", (1, 24, 32, 1), scale=0.06, zero_point=-3)
    b.op("GATHER", [d, idx], [g], "GatherOptions", axis=3)
    axes = b.tensor("axes", (1,), "int32", data=np.array([2], np.int32))
    y = b.tensor("y", (1, 24, 1), scale=0.5, zero_point=2)
    b.op("SUM", [g, axes], [y], "ReducerOptions", keepDims=False)
    b.inputs, b.outputs = [x], [y]
    compiled_matches_tflm(b.finish(), tmp_path, "dec", n=16)

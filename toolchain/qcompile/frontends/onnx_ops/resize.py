"""ONNX Resize (nearest and linear) of the H and W axes of a 4-D NCHW activation.

Nearest: every ``coordinate_transformation_mode`` except ``tf_crop_and_resize`` and every
``nearest_mode``; the source row and column tables are computed here with ONNX's formulas
(``resize_nearest``, no arithmetic on values). Linear: the modes that are TFLite's
RESIZE_BILINEAR flags (``half_pixel`` / ``pytorch_half_pixel`` = half_pixel_centers,
``align_corners``, ``asymmetric`` = neither), computed with TFLM's integer algorithm
(``resize_bilinear``). Anything else is refused by name before conversion."""

from __future__ import annotations

import numpy as np

from qcompile.frontends.onnx_ops import ONNX_OPS
from qcompile.reference.kernels.resize import ONNX_NEAREST_COORDINATES, ONNX_NEAREST_MODES, onnx_nearest_index

_LINEAR_FLAGS = {  # coordinate_transformation_mode -> (align_corners, half_pixel_centers)
    "half_pixel": (0, 1),
    "pytorch_half_pixel": (0, 1),
    "align_corners": (1, 0),
    "asymmetric": (0, 0),
}


def _problem(node, ins, a, const) -> str | None:
    mode = a.get("mode", "nearest")
    coord = a.get("coordinate_transformation_mode", "half_pixel")
    if mode not in ("nearest", "linear"):
        return f"Resize mode {mode!r} is not supported (nearest and linear are; re-export with one of them)"
    if int(a.get("antialias", 0)):
        return "Resize with antialias=1 is not supported"
    if a.get("keep_aspect_ratio_policy", "stretch") != "stretch":
        return "Resize keep_aspect_ratio_policy other than 'stretch' is not supported"
    if mode == "nearest" and coord not in ONNX_NEAREST_COORDINATES:
        return f"nearest Resize with coordinate_transformation_mode {coord!r} is not supported"
    if mode == "nearest" and a.get("nearest_mode", "round_prefer_floor") not in ONNX_NEAREST_MODES:
        return f"nearest_mode {a.get('nearest_mode')!r} is not supported"
    if mode == "linear" and coord not in _LINEAR_FLAGS:
        return (
            f"linear Resize with coordinate_transformation_mode {coord!r} has no TFLite RESIZE_BILINEAR form; "
            f"use one of {', '.join(sorted(_LINEAR_FLAGS))}"
        )
    if any(i and i not in const for i in ins[1:4]):
        return "Resize roi/scales/sizes must be constant"
    return None


def _targets(conv, ins, a, shape) -> tuple[list[int], list[float]]:
    """Output size and ONNX scale of every axis."""
    rank = len(shape)
    axes = [int(x) % rank for x in a.get("axes", range(rank))]
    out, scale = list(shape), [1.0] * rank
    sizes = np.asarray(conv.const[ins[3]]).reshape(-1) if ins[3] and conv.const[ins[3]].size else None
    scales = np.asarray(conv.const[ins[2]]).reshape(-1) if ins[2] and conv.const[ins[2]].size else None
    for k, ax in enumerate(axes):
        if sizes is not None:
            out[ax] = int(sizes[k])
            scale[ax] = out[ax] / shape[ax]
        elif scales is not None:
            scale[ax] = float(scales[k])
            out[ax] = int(np.floor(shape[ax] * scale[ax]))
    return out, scale


@ONNX_OPS.register("Resize", problem=_problem)
def _resize(conv, node, ins, a) -> None:
    x, y = ins[0], node.output[0]
    shape = conv.shape(x)
    if len(shape) != 4:
        raise conv.fail(f"only 4-D Resize (N, C, H, W) is supported, got rank {len(shape)}")
    out, scale = _targets(conv, ins, a, shape)
    if out[:2] != list(shape[:2]):
        raise conv.fail("Resize of the batch or channel axis is not supported (only H and W)")
    if min(out) < 1:
        raise conv.fail(f"Resize output {out} is empty")
    coord = a.get("coordinate_transformation_mode", "half_pixel")
    nhwc = (0, 2, 3, 1)
    xin = conv.get(x, nhwc)
    y_ir = conv.new_act(y, nhwc, out)
    if a.get("mode", "nearest") == "nearest":
        mode = a.get("nearest_mode", "round_prefer_floor")
        yi = onnx_nearest_index(shape[2], out[2], scale[2], coord, mode)
        xi = onnx_nearest_index(shape[3], out[3], scale[3], coord, mode)
        conv.emit("resize_nearest", [xin], [y_ir], y_index=tuple(yi), x_index=tuple(xi))
        return
    for ax in (2, 3):
        if abs(scale[ax] - out[ax] / shape[ax]) > 1e-6 * scale[ax]:
            raise conv.fail(
                f"linear Resize with scale {scale[ax]} on axis {ax} is not output/input size "
                f"({out[ax]}/{shape[ax]}); TFLite's bilinear needs that: give sizes instead of scales"
            )
        if coord == "pytorch_half_pixel" and out[ax] == 1 and shape[ax] != 1:
            raise conv.fail("pytorch_half_pixel Resize to a size of 1 differs from half_pixel; not supported")
    align, half = _LINEAR_FLAGS[coord]
    conv.emit("resize_bilinear", [xin], [y_ir], size=(out[2], out[3]), align_corners=align, half_pixel_centers=half)

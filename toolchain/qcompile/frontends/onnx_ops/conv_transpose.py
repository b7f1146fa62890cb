"""ONNX ConvTranspose (2-D, group 1, dilation 1) as ``transpose_conv2d`` (TFLite
TRANSPOSE_CONV semantics, int8 per-channel weights). ONNX weights ``[C_in, C_out, KH, KW]``
become TFLite's ``[C_out, KH, KW, C_in]`` (no flip: both index the filter by the tap
offset); ``output_padding`` becomes a negative bottom/right pad."""

from __future__ import annotations

import numpy as np

from qcompile.frontends.onnx_ops import ONNX_OPS


def _problem(node, ins, a, const) -> str | None:
    if ins[1] not in const or (ins[2] and ins[2] not in const):
        return "ConvTranspose weights and bias must be constant"
    if int(a.get("group", 1)) != 1:
        return "grouped ConvTranspose is not supported (group must be 1)"
    if any(int(d) != 1 for d in a.get("dilations", [1])):
        return "dilated ConvTranspose is not supported"
    if a.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID") or "output_shape" in a:
        return "ConvTranspose with auto_pad SAME_* or output_shape is not supported: re-export with explicit pads"
    return None


@ONNX_OPS.register("ConvTranspose", problem=_problem)
def _conv_transpose(conv, node, ins, a) -> None:
    x, y = ins[0], node.output[0]
    w = np.asarray(conv.const[ins[1]], dtype=np.float32)
    if w.ndim != 4:
        raise conv.fail(f"only 2-D ConvTranspose is supported (weight rank {w.ndim})")
    strides = tuple(int(s) for s in a.get("strides", (1, 1)))
    pads = [int(p) for p in a.get("pads", (0, 0, 0, 0))] if a.get("auto_pad", "NOTSET") == "NOTSET" else [0] * 4
    out_pad = [int(p) for p in a.get("output_padding", (0, 0))]
    kh, kw = w.shape[2:4]
    if pads[0] >= kh or pads[1] >= kw or min(pads) < 0:
        raise conv.fail(f"ConvTranspose pads {pads} must lie in [0, kernel)")
    ir_pads = (pads[0], pads[1], pads[2] - out_pad[0], pads[3] - out_pad[1])
    nhwc = (0, 2, 3, 1)
    inputs = [conv.get(x, nhwc), conv.constant(ins[1], w.transpose(1, 2, 3, 0))]
    if ins[2]:
        inputs.append(conv.constant(ins[2], conv.const[ins[2]]))
    out = conv.new_act(y, nhwc)
    n, h, wd, _ = conv.g.tensors[inputs[0]].shape
    expect = ((h - 1) * strides[0] + kh - ir_pads[0] - ir_pads[2], (wd - 1) * strides[1] + kw - ir_pads[1] - ir_pads[3])
    if tuple(conv.g.tensors[out].shape[1:3]) != expect:
        raise conv.fail(f"ConvTranspose output {conv.g.tensors[out].shape} does not match the computed {expect}")
    conv.emit("transpose_conv2d", inputs, [out], strides=strides, pads=ir_pads, act_range=(None, None))

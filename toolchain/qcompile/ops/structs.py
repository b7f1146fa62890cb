"""The C parameter structs of the runtime kernels (``runtime_c/include/qc_kernels.h``), built once.

Each ``*_fields`` function takes the input shapes and a node's attributes (the schema's
names) and returns the struct's fields as an ordered dict, in the C declaration order, or
raises ValueError naming the bad value. The code generator renders the dict as a
``static const`` initialiser; the Cython binding assigns it to the C struct (Cython
converts a dict to a struct field by field). One builder per struct means the generated
model and the host tests always pass the kernel the same numbers, and the range checks the
kernels rely on (offsets, shifts, activation bounds) are made for both.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from qcompile import op_params

I32_MIN = -(2**31)
I32_MAX = 2**31 - 1


def _int(name: str, value: Any, lo: int = I32_MIN, hi: int = I32_MAX) -> int:
    """An integer-valued attribute as a Python int in [lo, hi] (never a silent C overflow)."""
    try:
        v = int(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be an integer, got {value!r}") from exc
    if v != value and not isinstance(value, np.integer | int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if not lo <= v <= hi:
        raise ValueError(f"{name}={v} is outside [{lo}, {hi}]")
    return v


def _pair(name: str, value: Sequence[Any]) -> tuple[int, int]:
    vals = tuple(value)
    if len(vals) != 2:
        raise ValueError(f"{name} must have 2 entries, got {value!r}")
    return _int(name, vals[0], 1), _int(name, vals[1], 1)


def _shape(shape: Sequence[int], ndim: int, name: str) -> tuple[int, ...]:
    dims = tuple(int(d) for d in shape)
    if len(dims) != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {dims}")
    if any(not 1 <= d <= I32_MAX for d in dims):
        raise ValueError(f"{name} has an empty or oversized dimension: {dims}")
    return dims


def _act(attrs: Mapping[str, Any], prefix: str = "", bits: int = 8) -> dict[str, int]:
    """Activation bounds within the activation type (int8, or int16 for the 16x8 kernels)."""
    qmin, qmax = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    lo = _int(prefix + "act_min", attrs["act_min"], qmin, qmax)
    hi = _int(prefix + "act_max", attrs["act_max"], qmin, qmax)
    if lo > hi:
        raise ValueError(f"{prefix}act_min {lo} > {prefix}act_max {hi}")
    return {"act_min": lo, "act_max": hi}


def _offsets(attrs: Mapping[str, Any]) -> dict[str, int]:
    return {
        "input_offset": _int("input_offset", attrs["input_offset"], -127, 128),
        "output_offset": _int("output_offset", attrs["output_offset"], -128, 127),
    }


def _conv_window(xs: tuple[int, ...], kh: int, kw: int, attrs: Mapping[str, Any]) -> dict[str, int]:
    """Strides, dilations, pads and the output size they give."""
    (sh, sw), (dh, dw) = _pair("strides", attrs["strides"]), _pair("dilations", attrs["dilations"])
    pads = tuple(attrs["pads"])
    if len(pads) != 4:
        raise ValueError(f"pads must be (top, left, bottom, right), got {pads!r}")
    top, left, bottom, right = (_int("pads", v, 0, 1 << 20) for v in pads)
    oh = (xs[1] + top + bottom - dh * (kh - 1) - 1) // sh + 1
    ow = (xs[2] + left + right - dw * (kw - 1) - 1) // sw + 1
    if oh < 1 or ow < 1:
        raise ValueError(f"the {kh}x{kw} window (dilation {dh},{dw}) does not fit the padded {xs[1]}x{xs[2]} input")
    return {"out_h": oh, "out_w": ow, "stride_h": sh, "stride_w": sw, "dilation_h": dh, "dilation_w": dw} | {
        "pad_top": top,
        "pad_left": left,
    }


def conv_fields(
    x_shape: Sequence[int], w_shape: Sequence[int], attrs: Mapping[str, Any], *, depthwise: bool, bits: int = 8
) -> dict[str, int]:
    """``qc_conv_params`` of a conv2d (w ``[OC,KH,KW,C/groups]``) or depthwise conv (w ``[KH,KW,C*dm]``)."""
    n, h, wd, c = xs = _shape(x_shape, 4, "x")
    if depthwise:
        kh, kw, oc = _shape(w_shape, 3, "w")
        dm = _int("depth_multiplier", attrs["depth_multiplier"], 1)
        if oc != c * dm:
            raise ValueError(f"filter has {oc} channels, expected {c} * depth_multiplier {dm}")
        groups = 1
    else:
        oc, kh, kw, cg = _shape(w_shape, 4, "w")
        groups, dm = _int("groups", attrs["groups"], 1), 1
        if c % groups or oc % groups or c // groups != cg:
            raise ValueError(f"groups={groups} does not fit input channels {c} and filter {tuple(w_shape)}")
    win = _conv_window(xs, kh, kw, attrs)
    for total, what in ((n * h * wd * c, "input"), (n * win["out_h"] * win["out_w"] * oc, "output")):
        if total > I32_MAX:
            raise ValueError(f"{what} tensor too large for the int32 C kernel")
    if oc * kh * kw * c > I32_MAX:
        raise ValueError("filter tensor too large for the int32 C kernel")
    return _conv_struct(xs, oc, kh, kw, win, groups, dm, attrs, bits)


def _conv_struct(
    xs: tuple[int, ...], oc: int, kh: int, kw: int, win: Mapping[str, int], groups: int, dm: int, attrs, bits: int = 8
) -> dict[str, int]:
    """The ``qc_conv_params`` dict, in declaration order (``win``: output size, strides, dilations, pads)."""
    n, h, wd, c = xs
    return {
        "batches": n,
        "in_h": h,
        "in_w": wd,
        "in_c": c,
        "out_h": win["out_h"],
        "out_w": win["out_w"],
        "out_c": oc,
        "kernel_h": kh,
        "kernel_w": kw,
        **{k: win[k] for k in ("stride_h", "stride_w", "dilation_h", "dilation_w", "pad_top", "pad_left")},
        "groups": groups,
        "depth_multiplier": dm,
        **_offsets(attrs),
        **_act(attrs, bits=bits),
    }


def fc_fields(
    x_shape: Sequence[int], w_shape: Sequence[int], attrs: Mapping[str, Any], bits: int = 8
) -> dict[str, int]:
    """``qc_fc_params``: rows = every dimension of x but the last; ``per_channel`` when the
    multiplier or shift has more than one entry."""
    xs = tuple(int(d) for d in x_shape)
    nout, k = _shape(w_shape, 2, "w")
    if not xs or xs[-1] != k:
        raise ValueError(f"fully_connected needs x [..., {k}] for w {tuple(w_shape)}, got x {xs}")
    rows = math.prod(xs[:-1])
    if rows < 1:
        raise ValueError(f"x has an empty dimension: {xs}")
    if max(rows * k, rows * nout, nout * k) > I32_MAX:
        raise ValueError("tensor too large for the int32 C kernel")
    m = np.asarray(attrs.get("multiplier", 0)).reshape(-1)  # a scratch query may leave out the requantisation
    s = np.asarray(attrs.get("shift", 0)).reshape(-1)
    return {
        "batches": rows,
        "in_features": k,
        "out_features": nout,
        **_offsets(attrs),
        **_act(attrs, bits=bits),
        "per_channel": int(m.size != 1 or s.size != 1),
    }


def _broadcast(shape1: Sequence[int] | None, shape2: Sequence[int] | None) -> dict[str, Any]:
    if shape1 is None or shape2 is None:  # fused epilogue: element by element, no broadcasting
        return {"out_shape": (1,) * 5, "in1_strides": (0,) * 5, "in2_strides": (0,) * 5}
    out5, st1, st2 = op_params.broadcast_layout(shape1, shape2)
    return {"out_shape": out5, "in1_strides": st1, "in2_strides": st2}


def add_fields(
    shape1: Sequence[int] | None,
    shape2: Sequence[int] | None,
    attrs: Mapping[str, Any],
    prefix: str = "",
    bits: int = 8,
) -> dict[str, Any]:
    """``qc_add_params`` (TFLM's int8 ADD/SUB contract: input shifts and output shift <= 0);
    no shapes for the fused epilogue of ``conv2d_add``. ``prefix`` names the attributes in errors."""
    fields = _broadcast(shape1, shape2)
    fields["subtract"] = 1 if attrs["subtract"] else 0
    for k in ("input1_offset", "input2_offset"):
        fields[k] = _int(prefix + k, attrs[k], -255, 255)
    fields["output_offset"] = _int(prefix + "output_offset", attrs["output_offset"])
    fields["left_shift"] = _int(prefix + "left_shift", attrs["left_shift"], 0, 23)
    for k in ("input1", "input2", "output"):
        fields[f"{k}_multiplier"] = _int(f"{prefix}{k}_multiplier", attrs[f"{k}_multiplier"])
        fields[f"{k}_shift"] = _int(f"{prefix}{k}_shift", attrs[f"{k}_shift"], -31, 0)
    return fields | _act(attrs, prefix, bits)


def mul_fields(shape1: Sequence[int], shape2: Sequence[int], attrs: Mapping[str, Any], bits: int = 8) -> dict[str, Any]:
    """``qc_mul_params``."""
    fields = _broadcast(shape1, shape2)
    for k in ("input1_offset", "input2_offset"):
        fields[k] = _int(k, attrs[k], -255, 255)
    fields["output_offset"] = _int("output_offset", attrs["output_offset"])
    fields["output_multiplier"] = _int("output_multiplier", attrs["output_multiplier"])
    fields["output_shift"] = _int("output_shift", attrs["output_shift"], -31, 31)
    return fields | _act(attrs, bits=bits)


def broadcast_fields(shape1: Sequence[int], shape2: Sequence[int], attrs: Mapping[str, Any]) -> dict[str, Any]:
    """``qc_broadcast_params`` of ``maximum`` / ``minimum`` (no attributes)."""
    return _broadcast(shape1, shape2)


def prelu_fields(x_shape: Sequence[int], alpha_shape: Sequence[int], attrs: Mapping[str, Any]) -> dict[str, Any]:
    """``qc_prelu_params`` (TFLM's PRELU; alpha broadcast against the input)."""
    fields = _broadcast(x_shape, alpha_shape)
    if tuple(np.broadcast_shapes(tuple(x_shape), tuple(alpha_shape))) != tuple(x_shape):
        raise ValueError(f"alpha {tuple(alpha_shape)} must broadcast to the input {tuple(x_shape)}")
    for k in ("input_offset", "alpha_offset"):
        fields[k] = _int(k, attrs[k], -127, 128)
    fields["output_offset"] = _int("output_offset", attrs["output_offset"], -128, 127)
    for k in ("1", "2"):
        fields[f"output_multiplier_{k}"] = _int(f"output_multiplier_{k}", attrs[f"output_multiplier_{k}"])
        fields[f"output_shift_{k}"] = _int(f"output_shift_{k}", attrs[f"output_shift_{k}"], -31, 31)
    return fields


def div_fields(shape1: Sequence[int], shape2: Sequence[int], attrs: Mapping[str, Any]) -> dict[str, Any]:
    """``qc_mul_params`` of ``div`` (TFLM's DIV, broadcast; ``reference.kernels.div``): the MUL
    fields, within DIV's narrower ranges."""
    fields = mul_fields(shape1, shape2, attrs)
    for k in ("input1_offset", "input2_offset"):
        _int(k, fields[k], -127, 128)
    _int("output_offset", fields["output_offset"], -128, 127)
    _int("output_multiplier", fields["output_multiplier"], 0, I32_MAX)
    return fields


def pool_fields(x_shape: Sequence[int], attrs: Mapping[str, Any], bits: int = 8) -> dict[str, int]:
    """``qc_pool_params`` of max_pool2d / avg_pool2d (pads = top, left, bottom, right)."""
    fields = op_params.pool_layout(x_shape, attrs["kernel"], attrs["strides"], attrs["pads"])
    return fields | _act(attrs, bits=bits)


def softmax_fields(x_shape: Sequence[int], attrs: Mapping[str, Any], bits: int = 8) -> dict[str, int]:
    """``qc_softmax_params``: softmax over the last axis (16x8: a signed MBQM shift)."""
    shape = tuple(int(d) for d in x_shape)
    if not shape or shape[-1] == 0:
        raise ValueError("softmax needs a non-empty last axis")
    return {
        "outer": math.prod(shape) // shape[-1],
        "depth": shape[-1],
        "input_multiplier": _int("input_multiplier", attrs["input_multiplier"]),
        "input_left_shift": _int("input_left_shift", attrs["input_left_shift"], *((0, 31) if bits == 8 else (-31, 15))),
        "diff_min": _int("diff_min", attrs["diff_min"]),
    }


def pad_fields(x_shape: Sequence[int], attrs: Mapping[str, Any], bits: int = 8) -> dict[str, Any]:
    """``qc_pad_params``: right-aligned rank-5 shape and pads."""
    in5, before, after = op_params.pad_layout(x_shape, attrs["pads"])
    qmin, qmax = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return {"in_shape": in5, "pad_before": before, "pad_after": after} | {
        "pad_value": _int("pad_value", attrs["pad_value"], qmin, qmax)
    }


def transpose_fields(x_shape: Sequence[int], attrs: Mapping[str, Any]) -> dict[str, Any]:
    """``qc_transpose_params``: right-aligned rank-5 shape and permutation."""
    in5, perm5 = op_params.transpose_layout(x_shape, attrs["perm"])
    return {"in_shape": in5, "perm": perm5}


def strided_slice_fields(x_shape: Sequence[int], attrs: Mapping[str, Any]) -> dict[str, Any]:
    """``qc_strided_slice_params``: right-aligned rank-5 input shape, begin, output shape, strides."""
    in5, begin5, out5, strides5 = op_params.strided_slice_layout(
        x_shape, attrs["begin"], attrs["size"], attrs["strides"]
    )
    return {"in_shape": in5, "begin": begin5, "out_shape": out5, "strides": strides5}


def mean_fields(x_shape: Sequence[int], attrs: Mapping[str, Any]) -> dict[str, int]:
    """``qc_mean_params``: TFLite MEAN over H and W of an ``[N,H,W,C]`` tensor."""
    n, h, w, c = _shape(x_shape, 4, "x")
    return {
        "batches": n,
        "in_h": h,
        "in_w": w,
        "channels": c,
        "input_offset": _int("input_offset", attrs["input_offset"]),
        "output_offset": _int("output_offset", attrs["output_offset"]),
        "multiplier": _int("multiplier", attrs["multiplier"]),
        "shift": _int("shift", attrs["shift"]),
    }


def reduce_fields(x_shape: Sequence[int], attrs: Mapping[str, Any]) -> dict[str, Any]:
    """``qc_reduce_params`` of ``reduce_sum`` / ``reduce_max`` (the max has no requantization: zeros)."""
    shape = tuple(int(d) for d in x_shape)
    if not 1 <= len(shape) <= 5 or any(not 1 <= d <= I32_MAX for d in shape):
        raise ValueError(f"reductions take rank 1..5 tensors with non-empty dimensions, got {shape}")
    axes = sorted({_int("axes", a, 0, len(shape) - 1) for a in attrs["axes"]})
    if not axes or len(axes) != len(tuple(attrs["axes"])):
        raise ValueError(f"axes {tuple(attrs['axes'])} must be distinct axes of a rank-{len(shape)} tensor")
    if math.prod(shape[a] for a in axes) > 1 << 23:
        raise ValueError("more than 2^23 elements per output")
    pad = 5 - len(shape)
    fields: dict[str, Any] = {
        "in_shape": (1,) * pad + shape,
        "reduce": (0,) * pad + tuple(int(i in axes) for i in range(len(shape))),
    }
    fields["input_offset"] = _int("input_offset", attrs.get("input_offset", 0), -127, 128)
    fields["output_offset"] = _int("output_offset", attrs.get("output_offset", 0), -128, 127)
    fields["multiplier"] = _int("multiplier", attrs.get("multiplier", 0))
    fields["shift"] = _int("shift", attrs.get("shift", 0), -31, 30)
    return fields


def gather_fields(x_shape: Sequence[int], attrs: Mapping[str, Any]) -> dict[str, int]:
    """``qc_gather_params``: the input as [outer, axis_size, inner]."""
    shape = tuple(int(d) for d in x_shape)
    axis = _int("axis", attrs["axis"], 0, max(len(shape) - 1, 0))
    indices = np.asarray(attrs["indices"]).reshape(-1)
    if not shape or indices.size == 0 or indices.min() < 0 or indices.max() >= shape[axis]:
        raise ValueError(f"gather indices must lie in [0, {shape[axis] if shape else 0})")
    return {
        "outer": _int("outer", math.prod(shape[:axis]), 1),
        "axis_size": _int("axis_size", shape[axis], 1),
        "inner": _int("inner", math.prod(shape[axis + 1 :]), 1),
        "num_indices": _int("num_indices", indices.size, 1),
    }


def resize_fields(x_shape: Sequence[int], attrs: Mapping[str, Any]) -> dict[str, int]:
    """``qc_resize_params`` of ``resize_nearest`` (size from its tables) or ``resize_bilinear``."""
    n, h, w, c = _shape(x_shape, 4, "x")
    if "size" in attrs:
        oh, ow = (_int("size", s, 1, 65536) for s in attrs["size"])
    else:
        oh, ow = len(tuple(attrs["y_index"])), len(tuple(attrs["x_index"]))
    align, half = int(bool(attrs.get("align_corners", 0))), int(bool(attrs.get("half_pixel_centers", 0)))
    if align and half:
        raise ValueError("align_corners and half_pixel_centers cannot both be set")
    if max(h, w, oh, ow) > 32768 or min(oh, ow) < 1:
        raise ValueError(f"resize sizes {h}x{w} -> {oh}x{ow} are not supported (1..32768)")
    return {"batches": n, "in_h": h, "in_w": w, "channels": c, "out_h": oh, "out_w": ow} | {
        "align_corners": align,
        "half_pixel_centers": half,
    }


def transpose_conv_fields(x_shape: Sequence[int], w_shape: Sequence[int], attrs: Mapping[str, Any]) -> dict[str, int]:
    """``qc_conv_params`` of a transposed conv (w ``[OC,KH,KW,C]``; pads top, left, bottom,
    right, the last two possibly negative): dilations, groups and depth multiplier are 1."""
    xs = _shape(x_shape, 4, "x")
    oc, kh, kw, wc = _shape(w_shape, 4, "w")
    if wc != xs[3]:
        raise ValueError(f"filter {tuple(w_shape)} does not take {xs[3]} input channels")
    sh, sw = _pair("strides", attrs["strides"])
    top, left, bottom, right = (_int("pads", v, -(1 << 20), 1 << 20) for v in attrs["pads"])
    if not 0 <= top < kh or not 0 <= left < kw:
        raise ValueError(f"pads top/left {top}, {left} must lie in [0, kernel)")
    oh, ow = (xs[1] - 1) * sh + kh - top - bottom, (xs[2] - 1) * sw + kw - left - right
    if min(oh, ow) < 1 or max(xs[1] * sh, xs[2] * sw, oh, ow) > 1 << 24:
        raise ValueError(f"transposed conv output {oh}x{ow} is not supported")
    win = {"out_h": oh, "out_w": ow, "stride_h": sh, "stride_w": sw, "dilation_h": 1, "dilation_w": 1}
    return _conv_struct(xs, oc, kh, kw, win | {"pad_top": top, "pad_left": left}, 1, 1, attrs)


def batch_matmul_fields(
    a_shape: Sequence[int], b_shape: Sequence[int], attrs: Mapping[str, Any], bits: int = 8
) -> dict[str, Any]:
    """``qc_batch_matmul_params``: the broadcast batch dims (right-aligned to 3), each
    operand's element stride per batch dim (0 where it broadcasts), and M, N, K."""
    a, b = tuple(int(d) for d in a_shape), tuple(int(d) for d in b_shape)
    if not (2 <= len(a) <= 5 and 2 <= len(b) <= 5):
        raise ValueError(f"batch_matmul operands must have rank 2..5, got {a} and {b}")
    adj_x, adj_y = _int("adj_x", attrs["adj_x"], 0, 1), _int("adj_y", attrs["adj_y"], 0, 1)
    rows, depth = (a[-1], a[-2]) if adj_x else (a[-2], a[-1])
    depth_b, cols = (b[-1], b[-2]) if adj_y else (b[-2], b[-1])
    if depth != depth_b or not 1 <= depth <= 32768:
        raise ValueError(f"inner dimensions {depth} and {depth_b} must agree and lie in [1, 32768]")
    a3, b3 = (1,) * (5 - len(a)) + a[:-2], (1,) * (5 - len(b)) + b[:-2]
    batch = []
    for da, db in zip(a3, b3, strict=True):
        if da != db and 1 not in (da, db):
            raise ValueError(f"batch dims of {a} and {b} do not broadcast")
        batch.append(max(da, db))

    def strides(dims: tuple[int, ...], matrix: int) -> list[int]:
        out, step = [0, 0, 0], matrix
        for i in (2, 1, 0):
            out[i] = step if dims[i] > 1 else 0
            step *= dims[i]
        return out

    return {
        "batch": batch,
        "lhs_strides": strides(a3, a[-1] * a[-2]),
        "rhs_strides": strides(b3, b[-1] * b[-2]),
        "rows": rows,
        "cols": cols,
        "depth": depth,
        "adj_x": adj_x,
        "adj_y": adj_y,
        "lhs_offset": _int("lhs_offset", attrs["lhs_offset"], -128, 128),
        "rhs_offset": _int("rhs_offset", attrs["rhs_offset"], -128, 128),
        "output_offset": _int("output_offset", attrs["output_offset"], -128, 127),
        "output_multiplier": _int("output_multiplier", attrs["output_multiplier"]),
        "output_shift": _int("output_shift", attrs["output_shift"], -31, 31),
    } | _act(attrs, bits=bits)


def layer_norm_fields(x_shape: Sequence[int], attrs: Mapping[str, Any]) -> dict[str, int]:
    """``qc_layer_norm_params``: rows of ``cols`` (the innermost axis) values."""
    shape = tuple(int(d) for d in x_shape)
    if not shape or not 1 <= shape[-1] <= 4096:
        raise ValueError(f"layer_norm rows must have 1..4096 elements, got shape {shape}")
    return {
        "rows": math.prod(shape) // shape[-1],
        "cols": shape[-1],
        "eps": _int("eps", attrs["eps"], 0),
        "out_shift": _int("out_shift", attrs["out_shift"], 1, 62),
        "output_offset": _int("output_offset", attrs["output_offset"], -128, 127),
    } | _act(attrs)


def gru_fields(x_shape: Sequence[int], attrs: Mapping[str, Any]) -> dict[str, Any]:
    """``qc_gru_params``: x ``[T, B, I]`` and the node's attributes (docs/QUANTIZATION.md, "gru")."""
    steps, batch, inputs = _shape(x_shape, 3, "gru input")
    hidden = _int("hidden", attrs["hidden"], 1, 4096)
    if inputs > 4096:
        raise ValueError(f"gru input size {inputs} exceeds 4096")
    gm, gs = tuple(attrs["gate_multiplier"]), tuple(attrs["gate_shift"])
    if len(gm) != 3 or len(gs) != 3:
        raise ValueError("gate_multiplier and gate_shift need 3 entries (z, r, n)")
    return {
        "steps": steps,
        "batch": batch,
        "input_size": inputs,
        "hidden": hidden,
        "directions": _int("directions", attrs["directions"], 1, 2),
        "reverse": _int("reverse", attrs["reverse"], 0, 1),
        "linear_before_reset": _int("linear_before_reset", attrs["linear_before_reset"], 0, 1),
        "input_offset": _int("input_offset", attrs["input_offset"], -127, 128),
        "h0_offset": _int("h0_offset", attrs["h0_offset"], -127, 128),
        "h0_multiplier": _int("h0_multiplier", attrs["h0_multiplier"], 0),
        "h0_shift": _int("h0_shift", attrs["h0_shift"], -31, 31),
        "output_offset": _int("output_offset", attrs["output_offset"], -128, 127),
        "output_multiplier": _int("output_multiplier", attrs["output_multiplier"], 0),
        "output_shift": _int("output_shift", attrs["output_shift"], -31, 31),
        "gate_multiplier": [_int("gate_multiplier", v, 0, 32767) for v in gm],
        "gate_shift": [_int("gate_shift", v, 0, 31) for v in gs],
        "rhn_multiplier": _int("rhn_multiplier", attrs["rhn_multiplier"], 0),
        "rhn_shift": _int("rhn_shift", attrs["rhn_shift"], -31, 31),
    }


def lstm_fields(x_shape: Sequence[int], w_shape: Sequence[int], attrs: Mapping[str, Any]) -> dict[str, Any]:
    """``qc_lstm_params``: x ``[B, T, I]`` (``[T, B, I]`` when time-major), w ``[4, H, I]``."""
    if len(x_shape) != 3 or len(w_shape) != 3 or int(w_shape[0]) != 4 or int(w_shape[2]) != int(x_shape[2]):
        raise ValueError(f"lstm needs x [B, T, I] and w [4, H, I], got {tuple(x_shape)} and {tuple(w_shape)}")
    time_major = _int("time_major", attrs["time_major"], 0, 1)
    steps, batches = (x_shape[0], x_shape[1]) if time_major else (x_shape[1], x_shape[0])
    fields: dict[str, Any] = {
        "batches": int(batches),
        "time_steps": int(steps),
        "input_size": int(x_shape[2]),
        "hidden_size": _int("hidden_size", w_shape[1], 1, 4096),
        "time_major": time_major,
        "input_offset": _int("input_offset", attrs["input_offset"], -127, 128),
        "hidden_zero_point": _int("hidden_zero_point", attrs["hidden_zero_point"], -128, 127),
    }
    rows = lstm_row_requant(attrs, fields["hidden_size"])
    for key in LSTM_GATE_KEYS:
        # per-row layers carry their multipliers in the requant array; the struct's per-gate ones are unused
        fields[key] = [0] * 4 if rows is not None else _lstm_gate_values(attrs, key, 4)
    for key in ("cell_forget", "cell_input", "hidden"):
        fields[f"{key}_multiplier"] = _int(f"{key}_multiplier", attrs[f"{key}_multiplier"], 0, I32_MAX)
        fields[f"{key}_shift"] = _int(f"{key}_shift", attrs[f"{key}_shift"], -31, 31)
    fields["cell_clip"] = _int("cell_clip", attrs["cell_clip"], -1, 32767)
    fields["cell_tanh_multiplier"] = _int("cell_tanh_multiplier", attrs["cell_tanh_multiplier"], 0, 32767)
    fields["cell_tanh_shift"] = _int("cell_tanh_shift", attrs["cell_tanh_shift"], 0, 31)
    return fields


LSTM_GATE_KEYS = ("gate_in_multiplier", "gate_in_shift", "gate_rec_multiplier", "gate_rec_shift")


def _lstm_gate_values(attrs: Mapping[str, Any], key: str, count: int) -> list[int]:
    values = list(attrs[key])
    if len(values) != count:
        raise ValueError(f"{key} needs {count} values (one per gate, or per gate row), got {len(values)}")
    lo, hi = (-31, 31) if key.endswith("shift") else (0, I32_MAX)
    return [_int(key, v, lo, hi) for v in values]


def lstm_row_requant(attrs: Mapping[str, Any], hidden: int) -> np.ndarray | None:
    """``qc_lstm_unidirectional_per_row_s8``'s ``requant`` (int32 ``[4 H][4]``: input multiplier,
    input shift, recurrent multiplier, recurrent shift of each gate row) when the ``gate_*``
    attributes hold one value per gate row (per-row int8 weights), else None (TFLM's per gate)."""
    if len(list(attrs["gate_in_multiplier"])) == 4:
        return None
    cols = [_lstm_gate_values(attrs, key, 4 * int(hidden)) for key in LSTM_GATE_KEYS]
    return np.array(cols, dtype=np.int32).T.copy()


def lstm_folded_biases(w: Any, r: Any, b: Any, attrs: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The C kernel's ``bias_in`` / ``bias_rec`` (int32 ``[4 H]``): TFLM's input and recurrent FC
    offsets folded into constants, ``b + input_offset * rowsum(w)`` and ``-hidden_zero_point *
    rowsum(r)`` (the same int32 sums the offsets would add on every step)."""
    w64, r64 = np.asarray(w, dtype=np.int64), np.asarray(r, dtype=np.int64)
    bias_in = np.asarray(b, dtype=np.int64) + int(attrs["input_offset"]) * w64.sum(axis=2)
    bias_rec = -int(attrs["hidden_zero_point"]) * r64.sum(axis=2)
    for name, v in (("bias_in", bias_in), ("bias_rec", bias_rec)):
        if v.min() < I32_MIN or v.max() > I32_MAX:
            raise ValueError(f"lstm {name} does not fit int32")
    return bias_in.astype(np.int32).reshape(-1), bias_rec.astype(np.int32).reshape(-1)

"""numpy reference of the convolution-family int8 kernels: the spec the C runtime must match.

Arithmetic (docs/QUANTIZATION.md, TFLite int8 spec with TFLM rounding), for every output
element with output channel ``oc``::

    acc = wrap_int32(bias[oc] + sum_{taps} (x + input_offset) * w)
    out = clamp(wrap_int32(MBQM(acc, multiplier[oc], shift[oc]) + output_offset), act_min, act_max)

- Taps outside the input (padding) contribute nothing, which is what TFLM's padding with
  the input zero point means (``zero_point + input_offset == 0``).
- ``MBQM`` is TFLM's ``MultiplyByQuantizedMultiplier`` with its two roundings
  (:func:`qcompile.quant.fixedpoint.multiply_by_quantized_multiplier`).
- ``wrap_int32``: TFLM accumulates in int32. The tap sum itself cannot leave int32 for
  any realistic reduction length (|(x + input_offset) * w| <= 255 * 128, so fewer than
  65 000 taps are always safe); only adding a huge bias can, and there the C runtime
  wraps in two's complement (through uint32, no undefined behaviour) as gcc builds of
  TFLM do. The reference models that wrap explicitly so both agree on every input. The
  same holds for ``+ output_offset`` after a saturated MBQM (INT32_MAX + zero point).
- ``shift`` must lie in [-31, 31] (QuantizeMultiplier never produces anything else).

Implementation: the tap sums are computed as float64 matrix products (BLAS). That is
exact, not approximate: every operand and every partial sum is an integer below 2^53 in
magnitude (the bound holds for reduction lengths up to ~2.7e11), so any summation order
gives the same integer. Where ``max |x + input_offset| * sum |w|`` (per output channel)
stays below 2^24 the same holds in float32, which is twice as fast (``_sum_dtype``; most
int8 layers). Convolutions are lowered to im2col through a strided view of the
zero-offset, zero-padded input, processed in bounded chunks of whole samples (or rows of
one large sample) so whole batches of model inputs run as a few large products without
large temporaries.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qcompile.quant.fixedpoint import multiply_by_quantized_multiplier, wrap_int32

# Upper bound on the number of float64 elements of one im2col chunk (64 MiB).
_CHUNK_ELEMENTS = 1 << 23


def _check_common(
    x: np.ndarray,
    w: np.ndarray,
    input_offset: int,
    act_min: int,
    act_max: int,
) -> None:
    if x.dtype != np.int8:
        raise ValueError(f"input must be int8, got {x.dtype}")
    if w.dtype != np.int8:
        raise ValueError(f"weights must be int8, got {w.dtype}")
    if not -128 <= -int(input_offset) <= 127:
        raise ValueError(f"input_offset {input_offset} is not minus an int8 zero point")
    if not -128 <= int(act_min) <= int(act_max) <= 127:
        raise ValueError(f"activation range [{act_min}, {act_max}] is not an int8 range")


def _per_channel(values: np.ndarray | Sequence[int] | int, n: int, name: str) -> np.ndarray:
    """int64 vector of length n from a length-n or length-1 (per-tensor) parameter."""
    arr = np.asarray(values, dtype=np.int64).reshape(-1)
    if arr.size == 1:
        return np.broadcast_to(arr, (n,))
    if arr.size != n:
        raise ValueError(f"{name} has {arr.size} entries, expected {n} (or 1)")
    return arr


def _bias(bias: np.ndarray | None, n: int) -> np.ndarray:
    if bias is None:
        return np.zeros(n, dtype=np.int64)
    b = np.asarray(bias)
    if b.shape != (n,):
        raise ValueError(f"bias has shape {b.shape}, expected ({n},)")
    return b.astype(np.int64)


def _requantize(
    sums: np.ndarray,
    bias: np.ndarray,
    multiplier: np.ndarray,
    shift: np.ndarray,
    output_offset: int,
    act_min: int,
    act_max: int,
) -> np.ndarray:
    """Channels last: acc = wrap_int32(bias + sums); clamp(MBQM(acc) + output_offset) as int8."""
    if np.any(shift < -31) or np.any(shift > 31):
        raise ValueError("shift values must lie in [-31, 31]")
    acc = wrap_int32(np.asarray(sums, dtype=np.int64) + bias)
    out = wrap_int32(multiply_by_quantized_multiplier(acc, multiplier, shift) + int(output_offset))
    return np.clip(out, int(act_min), int(act_max)).astype(np.int8)


def _pad_shift(x: np.ndarray, input_offset: int, pads: Sequence[int], dtype: type) -> np.ndarray:
    """(x + input_offset) in `dtype`, zero-padded spatially: padded taps then add nothing."""
    top, left, bottom, right = (int(p) for p in pads)
    if min(top, left, bottom, right) < 0:
        raise ValueError(f"pads {tuple(pads)} must be non-negative")
    n, h, wd, c = x.shape
    xp = np.zeros((n, h + top + bottom, wd + left + right, c), dtype=dtype)
    xp[:, top : top + h, left : left + wd, :] = x.astype(dtype) + input_offset
    return xp


def _out_size(size: int, k: int, stride: int, dilation: int, pad_a: int, pad_b: int, axis: str) -> int:
    if stride < 1 or dilation < 1:
        raise ValueError(f"strides and dilations must be >= 1, got stride {stride}, dilation {dilation}")
    span = dilation * (k - 1) + 1
    out = (size + pad_a + pad_b - span) // stride + 1
    if out < 1:
        raise ValueError(f"the {axis} window ({span}) does not fit the padded input ({size + pad_a + pad_b})")
    return out


def _out_hw(
    h: int, wd: int, kh: int, kw: int, strides: Sequence[int], dilations: Sequence[int], pads: Sequence[int]
) -> tuple[int, int]:
    """(OH, OW) of a ``kh x kw`` window over an ``h x wd`` input, pads (top, left, bottom, right)."""
    top, left, bottom, right = (int(p) for p in pads)
    oh = _out_size(h, kh, int(strides[0]), int(dilations[0]), top, bottom, "height")
    ow = _out_size(wd, kw, int(strides[1]), int(dilations[1]), left, right, "width")
    return oh, ow


def _channel_params(
    multiplier: np.ndarray | Sequence[int] | int,
    shift: np.ndarray | Sequence[int] | int,
    bias: np.ndarray | None,
    n: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(multiplier, shift, bias) as int64 vectors of the ``n`` output channels."""
    return _per_channel(multiplier, n, "multiplier"), _per_channel(shift, n, "shift"), _bias(bias, n)


def _windows(
    xp: np.ndarray, kh: int, kw: int, oh: int, ow: int, strides: Sequence[int], dilations: Sequence[int]
) -> np.ndarray:
    """Read-only view [N, OH, OW, KH, KW, C] of the padded input: window taps of each output pixel."""
    sh, sw = (int(s) for s in strides)
    dh, dw = (int(d) for d in dilations)
    s_n, s_h, s_w, s_c = xp.strides
    return np.lib.stride_tricks.as_strided(
        xp,
        shape=(xp.shape[0], oh, ow, kh, kw, xp.shape[3]),
        strides=(s_n, s_h * sh, s_w * sw, s_h * dh, s_w * dw, s_c),
        writeable=False,
    )


def _sum_dtype(x: np.ndarray, w: np.ndarray, input_offset: int, axes: tuple[int, ...]) -> type:
    """float32 when every partial tap sum is an integer below 2^24 in magnitude, else float64.

    A partial sum of ``(x + input_offset) * w`` over an output channel's taps is bounded by
    ``max |x + input_offset| * sum |w|`` (the weights summed over ``axes``, the largest
    channel): below 2^24 every product, every partial sum in whatever order BLAS adds them
    (with or without FMA) and the result are integers float32 holds exactly. Typical int8
    layers qualify, and float32 halves the memory traffic and doubles BLAS's rate; int16
    inputs (16x8) and extreme layers take float64 (exact below 2^53, module docstring)."""
    if x.size == 0 or w.size == 0:
        return np.float64
    off = int(input_offset)
    largest = max(abs(int(x.min()) + off), abs(int(x.max()) + off))
    weight = int(np.abs(w.astype(np.int64)).sum(axis=axes).max())
    return np.float32 if largest * weight < 2**24 else np.float64


def _conv_chunks(n: int, oh: int, row_elements: int):
    """``(b0, b1, y0, y1)`` blocks of samples and output rows whose im2col has at most
    ``_CHUNK_ELEMENTS`` elements: whole samples together when one fits (a batch of small
    images is one large matrix product), else a few rows of one sample at a time."""
    if oh * row_elements <= _CHUNK_ELEMENTS:
        per = max(1, _CHUNK_ELEMENTS // max(1, oh * row_elements))
        for b0 in range(0, n, per):
            yield b0, min(n, b0 + per), 0, oh
        return
    rows = max(1, _CHUNK_ELEMENTS // max(1, row_elements))
    for b0 in range(n):
        for y0 in range(0, oh, rows):
            yield b0, b0 + 1, y0, min(oh, y0 + rows)


def conv2d_sums(
    x: np.ndarray,
    w: np.ndarray,
    *,
    strides: Sequence[int],
    dilations: Sequence[int],
    pads: Sequence[int],
    groups: int,
    input_offset: int,
) -> np.ndarray:
    """int64 tap sums ``sum (x + input_offset) * w`` of :func:`conv2d`, [N,OH,OW,OC] (any
    integer input type: the int8 and the 16x8 convolutions share them). im2col: the windows
    of a chunk of samples copied into one reused buffer, then one matrix product per chunk
    (exact in the float type :func:`_sum_dtype` picks)."""
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(f"conv2d needs x [N,H,W,C] and w [OC,KH,KW,C/groups], got {x.shape} and {w.shape}")
    n, h, wd, c = x.shape
    oc, kh, kw, cg = w.shape
    groups = int(groups)
    if groups < 1 or c % groups or oc % groups or c // groups != cg:
        raise ValueError(f"groups={groups} does not fit input channels {c}, filter {w.shape}")
    oh, ow = _out_hw(h, wd, kh, kw, strides, dilations, pads)

    ocg = oc // groups
    k = kh * kw * cg
    dtype = _sum_dtype(x, w, input_offset, (1, 2, 3))
    # Filters as [G, K, OCg] so one batched matmul serves every group.
    wmat = w.astype(dtype).reshape(groups, ocg, k).transpose(0, 2, 1)
    xp = _pad_shift(x, input_offset, pads, dtype)
    win = _windows(xp, kh, kw, oh, ow, strides, dilations)  # [N, OH, OW, KH, KW, C]
    sums = np.empty((n, oh, ow, oc), dtype=np.int64)
    row = ow * kh * kw * c  # im2col elements of one output row
    chunks = list(_conv_chunks(n, oh, row))
    buffer = np.empty(max(((b1 - b0) * (y1 - y0) * row for b0, b1, y0, y1 in chunks), default=0), dtype=dtype)
    for b0, b1, y0, y1 in chunks:
        block = win[b0:b1, y0:y1]
        cols = buffer[: block.size].reshape(block.shape)
        np.copyto(cols, block)  # one strided copy: each window's KW x C taps are contiguous runs
        p = cols.shape[0] * cols.shape[1] * ow
        res = np.matmul(cols.reshape(p, kh, kw, groups, cg).transpose(3, 0, 1, 2, 4).reshape(groups, p, k), wmat)
        sums[b0:b1, y0:y1] = res.transpose(1, 0, 2).reshape(b1 - b0, y1 - y0, ow, oc)
    return sums


def conv2d(
    x: np.ndarray,
    w: np.ndarray,
    bias: np.ndarray | None = None,
    *,
    strides: Sequence[int],
    dilations: Sequence[int],
    pads: Sequence[int],
    groups: int,
    input_offset: int,
    output_offset: int,
    multiplier: np.ndarray,
    shift: np.ndarray,
    act_min: int,
    act_max: int,
) -> np.ndarray:
    """int8 2-D convolution (dense or grouped), NHWC input, OHWI filter.

    x int8 [N,H,W,C]; w int8 [OC,KH,KW,C/groups]; bias int32 [OC] or None;
    pads (top, left, bottom, right); output int8 [N,OH,OW,OC] with
    OH = (H + top + bottom - dh*(KH-1) - 1) // sh + 1 (likewise OW).
    Output channel ``oc`` belongs to group ``g = oc // (OC/groups)`` and reads input
    channels ``g*C/groups .. (g+1)*C/groups - 1``::

        acc[n,y,x,oc] = wrap_int32(bias[oc] + sum_{ky,kx,i} (in[n, y*sh - top + ky*dh,
                                   x*sw - left + kx*dw, g*Cg + i] + input_offset) * w[oc,ky,kx,i])
        out = clamp(MBQM(acc, multiplier[oc], shift[oc]) + output_offset, act_min, act_max)

    with out-of-range input positions contributing 0 (MBQM: two roundings, see module doc).
    """
    x = np.asarray(x)
    w = np.asarray(w)
    _check_common(x, w, input_offset, act_min, act_max)
    sums = conv2d_sums(x, w, strides=strides, dilations=dilations, pads=pads, groups=groups, input_offset=input_offset)
    mult, shf, b = _channel_params(multiplier, shift, bias, w.shape[0])
    return _requantize(sums, b, mult, shf, output_offset, act_min, act_max)


def depthwise_sums(
    x: np.ndarray,
    w: np.ndarray,
    *,
    strides: Sequence[int],
    dilations: Sequence[int],
    pads: Sequence[int],
    depth_multiplier: int,
    input_offset: int,
) -> np.ndarray:
    """int64 tap sums of :func:`depthwise_conv2d`, [N,OH,OW,OC] (any integer input type): one
    multiply-add per filter tap, exact in the float type :func:`_sum_dtype` picks."""
    if x.ndim != 4 or w.ndim != 3:
        raise ValueError(f"depthwise_conv2d needs x [N,H,W,C] and w [KH,KW,OC], got {x.shape} and {w.shape}")
    n, h, wd, c = x.shape
    kh, kw, oc = w.shape
    dm = int(depth_multiplier)
    if dm < 1 or oc != c * dm:
        raise ValueError(f"filter has {oc} channels, expected input channels {c} * depth_multiplier {dm}")
    sh, sw = (int(s) for s in strides)
    dh, dw = (int(d) for d in dilations)
    oh, ow = _out_hw(h, wd, kh, kw, strides, dilations, pads)

    dtype = _sum_dtype(x, w, input_offset, (0, 1))
    xp = _pad_shift(x, input_offset, pads, dtype)
    wf = w.astype(dtype).reshape(kh, kw, c, dm)
    acc = np.zeros((n, oh, ow, c, dm), dtype=dtype)
    product = np.empty_like(acc)
    for ky in range(kh):
        ys = slice(ky * dh, ky * dh + (oh - 1) * sh + 1, sh)
        for kx in range(kw):
            xs = slice(kx * dw, kx * dw + (ow - 1) * sw + 1, sw)
            np.multiply(xp[:, ys, xs, :, None], wf[ky, kx], out=product)
            acc += product
    sums = acc.astype(np.int64)
    return sums.reshape(n, oh, ow, oc)


def depthwise_conv2d(
    x: np.ndarray,
    w: np.ndarray,
    bias: np.ndarray | None = None,
    *,
    strides: Sequence[int],
    dilations: Sequence[int],
    pads: Sequence[int],
    depth_multiplier: int,
    input_offset: int,
    output_offset: int,
    multiplier: np.ndarray,
    shift: np.ndarray,
    act_min: int,
    act_max: int,
) -> np.ndarray:
    """int8 depthwise 2-D convolution, NHWC input, filter [KH,KW,C*depth_multiplier].

    Output channel ``oc = ic * depth_multiplier + m`` reads input channel ``ic`` only::

        acc[n,y,x,oc] = wrap_int32(bias[oc] + sum_{ky,kx} (in[n, y*sh - top + ky*dh,
                                   x*sw - left + kx*dw, oc // depth_multiplier] + input_offset) * w[ky,kx,oc])
        out = clamp(MBQM(acc, multiplier[oc], shift[oc]) + output_offset, act_min, act_max)

    Out-of-range positions contribute 0. Output shape as :func:`conv2d`. Computed exactly
    (:func:`depthwise_sums`), one vectorised multiply-add per filter tap.
    """
    x = np.asarray(x)
    w = np.asarray(w)
    _check_common(x, w, input_offset, act_min, act_max)
    sums = depthwise_sums(
        x,
        w,
        strides=strides,
        dilations=dilations,
        pads=pads,
        depth_multiplier=depth_multiplier,
        input_offset=input_offset,
    )
    mult, shf, b = _channel_params(multiplier, shift, bias, w.shape[2])
    return _requantize(sums, b, mult, shf, output_offset, act_min, act_max)


def fc_sums(x: np.ndarray, w: np.ndarray, input_offset: int) -> np.ndarray:
    """int64 sums ``sum_k (x[r, k] + input_offset) * w[j, k]`` of :func:`fully_connected`, [rows, N]."""
    k = w.shape[1]
    rows = x.reshape(-1, k).astype(np.float64) + int(input_offset)
    return (rows @ w.astype(np.float64).T).astype(np.int64)


def fully_connected(
    x: np.ndarray,
    w: np.ndarray,
    bias: np.ndarray | None = None,
    *,
    input_offset: int,
    output_offset: int,
    multiplier: np.ndarray,
    shift: np.ndarray,
    act_min: int,
    act_max: int,
) -> np.ndarray:
    """int8 fully connected layer: x [..., K] (leading dims are rows), w [N, K] -> [..., N].

    ``multiplier``/``shift`` have N entries (per channel) or 1 (per tensor)::

        acc[r, j] = wrap_int32(bias[j] + sum_k (x[r, k] + input_offset) * w[j, k])
        out = clamp(MBQM(acc, multiplier[j], shift[j]) + output_offset, act_min, act_max)

    Two roundings as TFLM's FULLY_CONNECTED (not LiteRT's single-rounding reference).
    """
    x = np.asarray(x)
    w = np.asarray(w)
    _check_common(x, w, input_offset, act_min, act_max)
    if x.ndim < 1 or w.ndim != 2 or x.shape[-1] != w.shape[1]:
        raise ValueError(f"fully_connected needs x [..., K] and w [N, K], got {x.shape} and {w.shape}")
    nout, k = w.shape
    mult, shf, b = _channel_params(multiplier, shift, bias, nout)
    out = _requantize(fc_sums(x, w, input_offset), b, mult, shf, output_offset, act_min, act_max)
    return out.reshape(*x.shape[:-1], nout)

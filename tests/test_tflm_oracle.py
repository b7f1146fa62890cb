"""TFLite Micro as the oracle: our reference kernels reproduce TFLM layer by layer.

docs/QUANTIZATION.md claims qcompile's int8 arithmetic is TFLM's, bit for bit. These
tests take the two MLPerf Tiny int8 models, run them through the TFLM Python
interpreter with every intermediate tensor preserved (``tests/tflm_layers.py``), and for
every CONV_2D, DEPTHWISE_CONV_2D, ADD, AVERAGE_POOL_2D, FULLY_CONNECTED and SOFTMAX feed
our reference kernel the exact int8 input TFLM's kernel saw, with integer attributes
derived from the .tflite quantization parameters the way our quantizer derives them
(``qcompile.quant.fixedpoint.quantize_multiplier``, ``qcompile.op_params``). The output must be
identical to TFLM's, element for element.

What the models establish about TFLM (tflite_micro wheel, reference kernels):

- conv/depthwise/fully-connected per-channel multiplier: ``QuantizeMultiplier(double(s_in)
  * double(s_w[c]) / double(s_out))``, the float32 scales widened before multiplying.
  Forming ``s_in * s_w`` in float32 first (old TFLite's ``GetQuantizedConvolutionMultipler``)
  moves the last bit of the multiplier of nearly every channel of both models; on these
  inputs that flips one output element of ResNet op 10 (CONV_2D), enough for
  ``test_float32_scale_product_is_not_tflm`` to show TFLM does not do it.
- FULLY_CONNECTED weights in both models are per-channel and TFLM applies them per
  channel (same formula as conv), rounding twice (MultiplyByQuantizedMultiplier). A
  per-tensor FC (TFLM's ``GetQuantizedConvolutionMultipler`` path) is not covered here.
- fused activation bounds: TFLM's ``Quantize`` is ``zp + TfLiteRound(f / scale)`` with a
  float32 division; see ``test_activation_bounds_match_tflm_on_many_scales``.
- ADD, SOFTMAX (gemmlowp exp), AVERAGE_POOL_2D: the formulas in docs/QUANTIZATION.md.

Defects this oracle found (both fixed by their owners): the gemmlowp exp Taylor step
lacked its ``x +`` term (``constant_term + SRDHM(constant_term, x + poly)``), giving
softmax outputs off by up to 4; ``op_params.activation_bounds`` divided in float64 where
TFLM divides in float32 (e.g. RELU6 at scale float32(2.4): 6/s is 2.4999999 in float64,
2.5 in float32, so the upper bound differed by one).

Inputs: 20 random int8 images for ResNet-8 (their real range does not matter to
integer arithmetic; they excite every code path including saturation), the first 20
KWS MFCC samples for DS-CNN. Skips when tflite_micro / ai_edge_litert, the shared
models, or the qcompile kernels are absent.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("tflite_micro", reason="tflite_micro (TFLM Python interpreter) is not installed")
pytest.importorskip("ai_edge_litert", reason="ai_edge_litert (LiteRT interpreter) is not installed")

from tflm_layers import tflm_layer_records, tflm_outputs, tflm_padding  # noqa: E402

N_SAMPLES = 20
CHECKED_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "AVERAGE_POOL_2D", "FULLY_CONNECTED", "SOFTMAX")


def _module(name: str) -> Any:
    """A qcompile module imported late (an import error fails the test: qcompile is this
    repository's own code, never an optional dependency)."""
    return importlib.import_module(name)


# ---- inputs and records ------------------------------------------------------------------


def _resnet_inputs() -> np.ndarray:
    return (
        np.random.default_rng(1234).integers(-128, 128, size=(N_SAMPLES, 1, 32, 32, 3), dtype=np.int64).astype(np.int8)
    )


def _kws_inputs(kws_data: Path) -> np.ndarray:
    with np.load(kws_data) as data:
        x = data["x"][:N_SAMPLES]
    return x.reshape(N_SAMPLES, 1, 49, 10, 1).astype(np.int8)


@pytest.fixture(scope="module")
def resnet_case(resnet8_tflite: Path) -> tuple[Path, np.ndarray, list[dict]]:
    x = _resnet_inputs()
    return resnet8_tflite, x, tflm_layer_records(resnet8_tflite, x)


@pytest.fixture(scope="module")
def kws_case(kws_tflite: Path, kws_data: Path) -> tuple[Path, np.ndarray, list[dict]]:
    x = _kws_inputs(kws_data)
    return kws_tflite, x, tflm_layer_records(kws_tflite, x)


@pytest.fixture(params=["resnet8", "kws"])
def case(request: pytest.FixtureRequest) -> tuple[Path, np.ndarray, list[dict]]:
    return request.getfixturevalue("resnet_case" if request.param == "resnet8" else "kws_case")


# ---- deriving our attributes from .tflite parameters ---------------------------------------


def _qp(detail: dict) -> Any:
    """Per-tensor QuantParams from a record's tensor detail (scale kept at its float32 value)."""
    from qcompile.ir import QuantParams

    if detail["scales"].size != 1:
        raise AssertionError(f"tensor {detail['name']!r} is not per-tensor quantized")
    return QuantParams(np.float64(detail["scales"][0]), np.int64(detail["zero_points"][0]))


_ACT_RANGES = {"NONE": (None, None), "RELU": (0.0, None), "RELU6": (0.0, 6.0), "RELU_N1_TO_1": (-1.0, 1.0)}


def _act_bounds(rec: dict) -> tuple[int, int]:
    op_params = _module("qcompile.op_params")
    act = rec["options"].get("fusedActivationFunction", "NONE")
    return op_params.activation_bounds(_ACT_RANGES[act], _qp(rec["output_details"][0]))


def tflm_activation_bounds(act: str, scale: np.float32, zero_point: int) -> tuple[int, int]:
    """TFLM's ``CalculateActivationRangeQuantized`` as written in C++: ``zp + round(f / scale)``
    with ``f / scale`` a float32 division and TfLiteRound (half away from zero)."""

    def q(f: float) -> int:
        v = float(np.float32(f) / np.float32(scale))
        return int(zero_point + np.sign(v) * np.floor(abs(v) + 0.5))

    lo, hi = _ACT_RANGES[act]
    return (-128 if lo is None else max(-128, q(lo))), (127 if hi is None else min(127, q(hi)))


def channel_multipliers(s_in: np.float32, s_w: np.ndarray, s_out: np.float32, float32_product: bool = False):
    """(multiplier[c], shift[c]) from TFLM's effective scale ``double(s_in) * double(s_w[c]) /
    double(s_out)``; ``float32_product=True`` gives the old TFLite variant ``double(s_in * s_w[c])``."""
    from qcompile.quant.fixedpoint import quantize_multiplier

    pairs = []
    for w in np.asarray(s_w, dtype=np.float32).reshape(-1):
        product = float(np.float32(s_in) * w) if float32_product else float(s_in) * float(w)
        pairs.append(quantize_multiplier(product / float(s_out)))
    return np.array([p[0] for p in pairs], dtype=np.int32), np.array([p[1] for p in pairs], dtype=np.int32)


def reference_output(rec: dict, float32_product: bool = False) -> np.ndarray:
    """Our reference kernel's output for one TFLM op, on the input values TFLM used."""
    op = rec["op"]
    ins = rec["input_values"]
    in_d, out_d = rec["input_details"], rec["output_details"][0]
    opts = rec["options"]
    if op in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
        conv = _module("qcompile.reference.conv")
        x, w, b = ins[0], ins[1], (ins[2] if len(ins) > 2 else None)
        s_in, s_out = in_d[0]["scales"][0], out_d["scales"][0]
        mult, shift = channel_multipliers(s_in, in_d[1]["scales"], s_out, float32_product)
        act_min, act_max = _act_bounds(rec)
        common = {
            "input_offset": -int(in_d[0]["zero_points"][0]),
            "output_offset": int(out_d["zero_points"][0]),
            "multiplier": mult,
            "shift": shift,
            "act_min": act_min,
            "act_max": act_max,
        }
        if op == "FULLY_CONNECTED":
            return conv.fully_connected(x.reshape(-1, w.shape[1]), w, b, **common)
        strides = (opts["strideH"], opts["strideW"])
        dilations = (opts["dilationHFactor"], opts["dilationWFactor"])
        k_hw = (w.shape[1], w.shape[2])
        pads = tflm_padding(opts["padding"], x.shape[1:3], out_d["shape"][1:3], k_hw, strides, dilations)
        if op == "CONV_2D":
            return conv.conv2d(
                x, w, b, strides=strides, dilations=dilations, pads=pads, groups=x.shape[3] // w.shape[3], **common
            )
        return conv.depthwise_conv2d(
            x,
            w.reshape(w.shape[1:]),
            b,
            strides=strides,
            dilations=dilations,
            pads=pads,
            depth_multiplier=opts["depthMultiplier"],
            **common,
        )
    ops = _module("qcompile.reference.ops")
    op_params = _module("qcompile.op_params")
    if op == "ADD":
        act_min, act_max = _act_bounds(rec)
        attrs = op_params.add_params(_qp(in_d[0]), _qp(in_d[1]), _qp(out_d), act_min=act_min, act_max=act_max)
        return ops.add(ins[0], ins[1], **attrs)
    if op == "AVERAGE_POOL_2D":
        x = ins[0]
        kernel = (opts["filterHeight"], opts["filterWidth"])
        strides = (opts["strideH"], opts["strideW"])
        pads = tflm_padding(opts["padding"], x.shape[1:3], out_d["shape"][1:3], kernel, strides, (1, 1))
        act_min, act_max = _act_bounds(rec)
        return ops.avg_pool2d(x, kernel=kernel, strides=strides, pads=pads, act_min=act_min, act_max=act_max)
    if op == "SOFTMAX":
        attrs = op_params.softmax_params(float(in_d[0]["scales"][0]), float(opts.get("beta", 1.0)))
        return ops.softmax(ins[0], **attrs)
    raise AssertionError(f"no reference mapping for {op}")


def describe_mismatch(rec: dict, ours: np.ndarray) -> str | None:
    """None when identical, else a precise account: op, counts, worst element, first positions."""
    theirs = rec["output_values"][0]
    ours = np.asarray(ours).reshape(theirs.shape)
    if ours.dtype == theirs.dtype and np.array_equal(ours, theirs):
        return None
    diff = ours.astype(np.int64) - theirs.astype(np.int64)
    bad = np.argwhere(diff != 0)
    worst = tuple(int(i) for i in np.unravel_index(np.argmax(np.abs(diff)), diff.shape))
    first = ", ".join(
        f"{tuple(int(i) for i in p)}: ours {int(ours[tuple(p)])} tflm {int(theirs[tuple(p)])}" for p in bad[:5]
    )
    return (
        f"op {rec['index']} {rec['op']} (output tensor {rec['outputs'][0]} {rec['output_details'][0]['name']!r}): "
        f"{len(bad)}/{diff.size} elements differ, max |diff| {int(np.abs(diff).max())} at {worst}, "
        f"diff histogram {dict(zip(*[a.tolist() for a in np.unique(diff[diff != 0], return_counts=True)], strict=True))}; "
        f"first: {first}"
    )


# ---- the helper itself -----------------------------------------------------------------


def test_records_agree_with_plain_tflm_run(case) -> None:
    """Preserving all tensors must not change TFLM's result, and the records must chain:
    op 0 sees our input, the last op's output is the model output."""
    path, x, records = case
    assert np.array_equal(records[0]["input_values"][0], x.reshape(records[0]["input_values"][0].shape))
    assert np.array_equal(records[-1]["output_values"][0], tflm_outputs(path, x))
    produced = {}
    for rec in records:
        for i, v in zip(rec["inputs"], rec["input_values"], strict=True):
            if i in produced:
                assert v is produced[i] or np.array_equal(v, produced[i])
        for i, v in zip(rec["outputs"], rec["output_values"], strict=True):
            assert v.shape[0] == N_SAMPLES and v.dtype == np.int8
            produced[i] = v


def test_records_describe_ops(kws_case) -> None:
    _, _, records = kws_case
    ops = [r["op"] for r in records]
    assert ops.count("DEPTHWISE_CONV_2D") == 4 and ops.count("CONV_2D") == 5
    dw = records[ops.index("DEPTHWISE_CONV_2D")]
    assert dw["options"]["padding"] in ("SAME", "VALID")
    assert dw["options"]["fusedActivationFunction"] == "RELU"
    w = dw["constants"][dw["inputs"][1]]
    assert w.dtype == np.int8 and w.ndim == 4 and w.shape[0] == 1
    assert dw["input_details"][1]["scales"].size == w.shape[3]  # per-channel
    assert dw["constants"][dw["inputs"][2]].dtype == np.int32


# ---- the oracle ---------------------------------------------------------------------------


# Every op type each model contains (a model lacking one it should contain fails below).
ORACLE_CASES = [("resnet8", op) for op in ("CONV_2D", "ADD", "AVERAGE_POOL_2D", "FULLY_CONNECTED", "SOFTMAX")] + [
    ("kws", op) for op in ("CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "FULLY_CONNECTED", "SOFTMAX")
]
assert {op for _, op in ORACLE_CASES} == set(CHECKED_OPS)


@pytest.mark.parametrize(("model", "op"), ORACLE_CASES)
def test_reference_matches_tflm(request: pytest.FixtureRequest, model: str, op: str) -> None:
    """Every op of this type: our kernel on TFLM's input equals TFLM's output exactly."""
    _, _, records = request.getfixturevalue("resnet_case" if model == "resnet8" else "kws_case")
    selected = [r for r in records if r["op"] == op]
    assert selected, f"{model} has no {op}: the oracle would check nothing"
    problems = [m for r in selected if (m := describe_mismatch(r, reference_output(r))) is not None]
    assert not problems, "our reference differs from TFLM:\n" + "\n".join(problems)


def test_float32_scale_product_is_not_tflm(resnet_case, kws_case) -> None:
    """Forming ``s_in * s_w`` in float32 before widening gives different multipliers, and
    at least one output on these models changes (ResNet op 10): evidence that the float64
    product (what we do) is what TFLM does, not a coincidence of both rounding alike."""
    changed = 0
    for _, _, records in (resnet_case, kws_case):
        for rec in records:
            if rec["op"] in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
                if describe_mismatch(rec, reference_output(rec, float32_product=True)) is not None:
                    changed += 1
    assert changed > 0


def test_activation_bounds_match_tflm(case) -> None:
    """op_params.activation_bounds (float64 division) equals TFLM's float32 computation
    for every fused activation in the model."""
    op_params = _module("qcompile.op_params")
    _, _, records = case
    for rec in records:
        act = rec["options"].get("fusedActivationFunction")
        if act is None:
            continue
        out = rec["output_details"][0]
        ours = op_params.activation_bounds(_ACT_RANGES[act], _qp(out))
        assert ours == tflm_activation_bounds(act, out["scales"][0], int(out["zero_points"][0])), rec["index"]


def float64_activation_bounds(act: str, scale: np.float32, zero_point: int) -> tuple[int, int]:
    """The same formula with the division done in float64: differs from TFLM exactly when
    ``f / scale`` rounds across a half-integer in float32, e.g. ``6 / float32(2.4)`` is
    2.4999999 in float64 but 2.5 in float32. Used to explain a failure precisely."""

    def q(f: float) -> int:
        v = f / float(scale)
        return int(zero_point + np.sign(v) * np.floor(abs(v) + 0.5))

    lo, hi = _ACT_RANGES[act]
    return (-128 if lo is None else max(-128, q(lo))), (127 if hi is None else min(127, q(hi)))


@pytest.mark.parametrize("act", ["RELU", "RELU6", "RELU_N1_TO_1", "NONE"])
def test_activation_bounds_match_tflm_on_many_scales(act: str) -> None:
    """op_params.activation_bounds against TFLM's float32 ``Quantize`` over random scales and
    zero points plus scales that put ``6 / scale`` and ``1 / scale`` near a half-integer,
    where a float64 division rounds differently from TFLM's float32 one."""
    op_params = _module("qcompile.op_params")
    from qcompile.ir import QuantParams

    rng = np.random.default_rng(7)
    scales = np.exp(rng.uniform(np.log(1e-4), np.log(1.0), size=2000)).astype(np.float32)
    k = np.arange(0, 400) + 0.5
    scales = np.concatenate([scales, (6.0 / k).astype(np.float32), (1.0 / k).astype(np.float32)])
    zps = rng.integers(-128, 128, size=scales.size)
    mismatches = []
    for s, zp in zip(scales, zps, strict=True):
        try:
            ours = op_params.activation_bounds(_ACT_RANGES[act], QuantParams(np.float64(s), np.int64(zp)))
        except ValueError:
            continue  # empty range (act_min > act_max): not a model we compile
        tflm = tflm_activation_bounds(act, s, int(zp))
        if ours != tflm:
            mismatches.append((float(s), int(zp), ours, tflm, ours == float64_activation_bounds(act, s, int(zp))))
    assert not mismatches, "(scale, zp, ours, tflm, explained by float64 division): " + "; ".join(
        map(str, mismatches[:10])
    )

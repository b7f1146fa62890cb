"""maximum, minimum, prelu: the C kernels (through the binding) equal the numpy reference
bit for bit on random broadcasts and parameters, and the reference means the real
functions (within the output's rounding)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from runtime_ext import require_runtime

from qcompile.ir import QuantParams
from qcompile.quant.converters.eltwise import _convert_prelu
from qcompile.reference.kernels import eltwise

rt = require_runtime()
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def _shapes(draw, alpha: bool = False):
    rank = draw(st.integers(1, 5))
    full = [draw(st.integers(1, 5)) for _ in range(rank - 1)] + [draw(st.integers(1, 40))]
    a = full if alpha else [d if draw(st.integers(0, 3)) else 1 for d in full]
    b = [d if draw(st.integers(0, 2)) else 1 for d in full]
    b = b[draw(st.integers(0, rank - 1)) :]
    return tuple(a), tuple(b)


def _i8(rng, shape):
    return rng.integers(-128, 128, size=shape).astype(np.int8)


@FAST
@given(shapes=_shapes(), seed=st.integers(0, 2**32 - 1))
def test_minmax_c_matches_reference(shapes, seed) -> None:
    rng = np.random.default_rng(seed)
    x1, x2 = _i8(rng, shapes[0]), _i8(rng, shapes[1])
    for c_fn, ref in ((rt.maximum_s8, eltwise.maximum), (rt.minimum_s8, eltwise.minimum)):
        got, want = c_fn(x1, x2), ref(x1, x2)
        assert got.dtype == want.dtype == np.int8
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(eltwise.maximum(x1, x2), np.maximum(x1, x2))
    np.testing.assert_array_equal(eltwise.minimum(x1, x2), np.minimum(x1, x2))


def _prelu_attrs(rng, in_q: QuantParams, out_q: QuantParams, slope: np.ndarray):
    """The quantizer's own conversion of a float prelu node."""
    from qcompile.ir import Graph, Node, Tensor

    g = Graph("t")
    g.add_tensor(Tensor("x", (1, len(slope)), quant=in_q))
    g.add_tensor(Tensor("y", (1, len(slope)), quant=out_q))
    s = g.add_constant("s", slope.astype(np.float32)).name
    node = g.add_node(Node("p", "prelu", ["x", s], ["y"], {}))
    _convert_prelu(g, node)
    return node.attrs, g.tensors[node.inputs[1]]


@FAST
@given(shapes=_shapes(alpha=True), seed=st.integers(0, 2**32 - 1))
def test_prelu_c_matches_reference(shapes, seed) -> None:
    rng = np.random.default_rng(seed)
    x, alpha = _i8(rng, shapes[0]), _i8(rng, shapes[1])
    attrs = dict(
        input_offset=int(rng.integers(-127, 129)),
        alpha_offset=int(rng.integers(-127, 129)),
        output_offset=int(rng.integers(-128, 128)),
        output_multiplier_1=int(rng.integers(1 << 30, 1 << 31)),
        output_shift_1=int(rng.integers(-12, 3)),
        output_multiplier_2=int(rng.integers(1 << 30, 1 << 31)),
        output_shift_2=int(rng.integers(-16, 1)),
    )
    np.testing.assert_array_equal(rt.prelu_s8(x, alpha, **attrs), eltwise.prelu(x, alpha, **attrs))


def test_prelu_means_the_real_function() -> None:
    rng = np.random.default_rng(3)
    slope = rng.uniform(-0.3, 0.6, 12)
    in_q, out_q = QuantParams(0.05, 10), QuantParams(0.04, -20)
    attrs, alpha = _prelu_attrs(rng, in_q, out_q, slope)
    x = np.repeat(np.arange(-128, 128, dtype=np.int8)[:, None], 12, axis=1)
    got = out_q.dequantize(eltwise.prelu(x, alpha.data, **attrs))
    real = in_q.dequantize(x)
    want = np.clip(np.where(real >= 0, real, real * slope), out_q.dequantize(-128), out_q.dequantize(127))
    # one output step of rounding plus the slope's own quantization step over |x|
    tol = 0.04 + np.abs(real) * float(alpha.quant.scalar_scale())
    assert np.all(np.abs(got - want) <= tol + 1e-9)

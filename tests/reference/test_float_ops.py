"""Float reference kernels against independent direct definitions (loops / onnxruntime in
tests/importers); here: the small exact identities each docstring states."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcompile.reference import float_ops as F


def _conv_loops(x, w, b, strides, dilations, pads, groups):
    n, h, wd, c = x.shape
    oc, kh, kw, cg = w.shape
    ocg = oc // groups
    oh = (h + pads[0] + pads[2] - (kh - 1) * dilations[0] - 1) // strides[0] + 1
    ow = (wd + pads[1] + pads[3] - (kw - 1) * dilations[1] - 1) // strides[1] + 1
    y = np.zeros((n, oh, ow, oc))
    for o in range(oc):
        g = o // ocg
        for oy in range(oh):
            for ox in range(ow):
                acc = b[o]
                for ky in range(kh):
                    for kx in range(kw):
                        iy = oy * strides[0] - pads[0] + ky * dilations[0]
                        ix = ox * strides[1] - pads[1] + kx * dilations[1]
                        if 0 <= iy < h and 0 <= ix < wd:
                            acc = acc + x[0, iy, ix, g * cg : (g + 1) * cg] @ w[o, ky, kx]
                y[0, oy, ox, o] = acc
    return y


@settings(max_examples=25, deadline=None)
@given(
    groups=st.sampled_from([1, 2]),
    stride=st.integers(1, 2),
    dil=st.integers(1, 2),
    pads=st.tuples(*[st.integers(0, 2)] * 4),
    seed=st.integers(0, 1000),
)
def test_conv2d_matches_loops(groups, stride, dil, pads, seed) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(1, 6, 5, 4))
    w = rng.normal(size=(4, 3, 2, 4 // groups))
    b = rng.normal(size=4)
    got = F.conv2d(x, w, b, strides=(stride, stride), dilations=(dil, dil), pads=pads, groups=groups)
    np.testing.assert_allclose(got, _conv_loops(x, w, b, (stride, stride), (dil, dil), pads, groups), atol=1e-10)


def test_depthwise_is_grouped_conv() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, 5, 5, 3))
    w = rng.normal(size=(3, 3, 6))  # depth multiplier 2
    dense = w.transpose(2, 0, 1)[..., None]  # [OC, KH, KW, 1]
    kw = dict(strides=(2, 1), dilations=(1, 1), pads=(1, 0, 1, 2))
    got = F.depthwise_conv2d(x, w, np.arange(6.0), depth_multiplier=2, **kw)
    np.testing.assert_allclose(got, F.conv2d(x, dense, np.arange(6.0), groups=3, **kw), atol=1e-12)


def test_pools_exclude_padding() -> None:
    x = np.arange(16, dtype=np.float64).reshape(1, 4, 4, 1) - 20
    avg = F.avg_pool2d(x, kernel=(2, 2), strides=(2, 2), pads=(1, 1, 1, 1))
    assert avg[0, 0, 0, 0] == x[0, 0, 0, 0]  # one valid position: no zeros averaged in
    mx = F.max_pool2d(x, kernel=(2, 2), strides=(2, 2), pads=(1, 1, 1, 1))
    assert mx[0, 0, 0, 0] == x[0, 0, 0, 0]  # negative values beat the padding


def test_act_range_and_softmax() -> None:
    x = np.array([[-3.0, 0.5, 9.0]])
    np.testing.assert_array_equal(F.add(x, x, act_range=(0.0, 6.0)), [[0.0, 1.0, 6.0]])
    s = F.softmax(x, beta=1.0)
    np.testing.assert_allclose(s.sum(), 1.0)
    np.testing.assert_allclose(s, np.exp(x) / np.exp(x).sum())


@pytest.mark.parametrize(
    "fn,params,x,y",
    [
        ("relu", {}, [-1.0, 2.0], [0.0, 2.0]),
        ("clip", {"min": -1.0, "max": None}, [-3.0, 9.0], [-1.0, 9.0]),
        ("leaky_relu", {"alpha": 0.1}, [-2.0, 3.0], [-0.2, 3.0]),
        ("hard_sigmoid", {"alpha": 0.2, "beta": 0.5}, [-5.0, 0.0, 1.0], [0.0, 0.5, 0.7]),
        ("hard_swish", {}, [-4.0, 1.0, 4.0], [0.0, 1.0 * (1 / 6 + 0.5), 4.0]),
        ("sigmoid", {}, [0.0, -1000.0, 1000.0], [0.5, 0.0, 1.0]),
        ("tanh", {}, [0.0], [0.0]),
        ("scale", {"factor": -0.5}, [2.0], [-1.0]),
    ],
)
def test_elementwise_functions(fn, params, x, y) -> None:
    f = F.elementwise_function(fn, **params)
    np.testing.assert_allclose(f(np.array(x)), y, atol=1e-12)
    out32 = F.elementwise(np.array(x, np.float32), fn=fn, **params)
    assert out32.dtype == np.float32


def test_data_movement() -> None:
    x = np.arange(6.0).reshape(1, 2, 3)
    assert F.pad(x, pads=((0, 0), (1, 0), (0, 2)), value=7.0).shape == (1, 3, 5)
    np.testing.assert_array_equal(F.transpose(x, perm=(0, 2, 1)), x.transpose(0, 2, 1))
    assert F.concat(x, x, axis=2).shape == (1, 2, 6)
    assert F.reshape(x, shape=(3, 2)).shape == (3, 2)
    np.testing.assert_allclose(F.fully_connected(x, np.eye(3), np.ones(3)), x + 1)

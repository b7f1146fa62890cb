"""DSP kernels of the recurrent ops: random TFLite LSTMs (shapes, scales, zero points, batch and
time-major layouts, cell clip) generated for a ``dsp`` target, built on the host with the
emulated intrinsics under ASan + UBSan (guarded buffers), run as a stream of calls (the state
carried in the state buffer) and compared with the numpy reference on every call; the reference
equals TFLite Micro (tests/frontends/test_tflite_lstm.py)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from c_driver import check_model_sanitized
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tflite_lstm_model import lstm_model  # noqa: E402

from qcompile.codegen import generate  # noqa: E402
from qcompile.codegen.families.dsp_rnn import (  # noqa: E402
    fc_requant_expr,
    pack_gate_rows_s8,
    pack_lstm_weights,
    pack_pair_rows,
    pack_rows_s16,
)
from qcompile.frontends.tflite_import import load_tflite  # noqa: E402
from qcompile.quant.fixedpoint import multiply_by_quantized_multiplier  # noqa: E402
from qcompile.targets import Target  # noqa: E402

DSP = Target(name="dsp-host-test", kernel_family="dsp", cc="cc", cflags=("-O2",))
pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")


def _lanes(word: int) -> tuple[int, int]:
    u = int(word) & 0xFFFFFFFF
    lo, hi = u & 0xFFFF, u >> 16
    return lo - (1 << 16) * (lo >> 15), hi - (1 << 16) * (hi >> 15)


def test_pack_lstm_weights_pairs_match_sxtb16_order() -> None:
    """Per unit, quad and gate: (w0, w2) then (w1, w3), the K tail zero-padded."""
    rng = np.random.default_rng(0)
    w = rng.integers(-128, 128, size=(4, 3, 6)).astype(np.int8)
    words = pack_lstm_weights(w).reshape(3, 2, 4, 2)
    for j in range(3):
        for q in range(2):
            taps = np.concatenate([w[:, j].astype(np.int64), np.zeros((4, 2), np.int64)], axis=1)[:, 4 * q : 4 * q + 4]
            for g in range(4):
                assert _lanes(words[j, q, g, 0]) == (taps[g, 0], taps[g, 2])
                assert _lanes(words[j, q, g, 1]) == (taps[g, 1], taps[g, 3])


def test_fc_requant_expr_picks_the_exact_form() -> None:
    assert fc_requant_expr(1 << 30, -3, 1000).startswith("qc_requantize_x2(2 * ACC, 1073741824, 4, 3)")
    assert fc_requant_expr(1 << 30, 0, 1000).startswith("qc_requantize_x2_e0(")
    assert fc_requant_expr(1 << 30, 2, 1000).startswith("qc_requantize(")  # left shift: the general form
    assert fc_requant_expr(1 << 30, -3, 2**30).startswith("qc_requantize(")  # 2 * acc may overflow
    assert fc_requant_expr(0, -3, 10).startswith("qc_requantize(")


def test_shift0_one_smlal_form_equals_mbqm() -> None:
    """qc_requantize_x2_e0's formula floor((2 acc m + 2^31) / 2^32) is TFLM's MBQM with shift 0."""
    rng = np.random.default_rng(1)
    acc = np.concatenate([rng.integers(-(2**30) + 1, 2**30, 4000), [0, 1, -1, 2**30 - 1, -(2**30) + 1]])
    for m in (1, 1 << 30, 2**31 - 1, int(rng.integers(1, 2**31))):
        want = multiply_by_quantized_multiplier(acc.astype(np.int64), m, 0)
        got = (2 * acc.astype(object) * m + 2**31) // 2**32
        np.testing.assert_array_equal(np.asarray(want, dtype=np.int64), np.asarray(got, dtype=np.int64))


def _per_row(graph, seed: int) -> None:
    """Give the graph's LSTM one requantisation per gate row (the ONNX LSTM's form): each row's
    multiplier the TFLite one times a random factor in [0.5, 2) (the shift follows)."""
    from qcompile.quant.fixedpoint import quantize_multiplier

    rng = np.random.default_rng(seed)
    node = next(n for n in graph.nodes if n.op == "lstm")
    hidden = graph.tensors[node.inputs[1]].shape[1]
    for side in ("in", "rec"):
        m, e = node.attrs[f"gate_{side}_multiplier"], node.attrs[f"gate_{side}_shift"]
        real = [m[g] / 2.0**31 * 2.0 ** e[g] * float(rng.uniform(0.5, 2.0)) for g in range(4) for _ in range(hidden)]
        pairs = [quantize_multiplier(v) for v in real]
        node.attrs[f"gate_{side}_multiplier"] = tuple(int(p[0]) for p in pairs)
        node.attrs[f"gate_{side}_shift"] = tuple(int(p[1]) for p in pairs)


def _check_lstm(tmp: Path, calls: int = 3, per_row: bool = False, **kwargs) -> str:
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / "lstm.tflite"
    path.write_bytes(lstm_model(**kwargs))
    graph = load_tflite(path)
    if per_row:
        _per_row(graph, int(kwargs.get("seed", 0)))
    out = tmp / "out"
    generate(graph, out, name="lstm", target=DSP)
    kernels = (out / "lstm_kernels.c").read_text()
    check_model_sanitized(out, tmp, graph=graph, samples=calls, seed=int(kwargs.get("seed", 0)))
    return kernels


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 2**16),
    batch=st.integers(1, 3),
    steps=st.integers(1, 5),
    inputs=st.integers(1, 23),
    hidden=st.integers(1, 21),
    time_major=st.booleans(),
    clip=st.sampled_from([0.0, 0.5, 3.0]),
    cell_log2=st.integers(10, 15),
)
def test_random_lstm_dsp_equals_reference_sanitized(
    tmp_path: Path, seed, batch, steps, inputs, hidden, time_major, clip, cell_log2
) -> None:
    tmp = tmp_path / f"l{seed}_{batch}_{steps}_{inputs}_{hidden}"
    kernels = _check_lstm(
        tmp, seed=seed, batch=batch, steps=steps, inputs=inputs, hidden=hidden, time_major=time_major,
        cell_clip=clip, cell_scale=2.0**-cell_log2,
    )  # fmt: skip
    assert "qc_lstm_unit_s8(" in kernels and "qc_smlad(" in kernels


def test_lstm_kws_shape_both_requant_forms(tmp_path: Path) -> None:
    """The benchmark's shape (10 inputs, 32 units) for several seeds: the one-SMLAL and the general
    FC requantisation both occur (gate scales above and below 1) and every call is exact."""
    seen: set[str] = set()
    for seed in (2026, 3, 8):
        kernels = _check_lstm(tmp_path / str(seed), calls=4, seed=seed, steps=3, inputs=10, hidden=32, cell_clip=3.0)
        seen |= {f for f in ("qc_requantize_x2(", "qc_requantize_x2_e0(", "qc_requantize(") if f"= qc_sat16({f}" in kernels
                 or f"qc_sat16({f}2 * a" in kernels or f"qc_sat16({f}a[" in kernels}  # fmt: skip
    assert "qc_requantize(" in seen and ("qc_requantize_x2(" in seen or "qc_requantize_x2_e0(" in seen)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**16), inputs=st.integers(1, 13), hidden=st.integers(2, 17), time_major=st.booleans())
def test_per_row_lstm_dsp_equals_reference_sanitized(tmp_path: Path, seed, inputs, hidden, time_major) -> None:
    """One requantisation per gate row (the ONNX LSTM's per-row weights): the DSP kernel reads
    each unit's table and equals the reference under ASan/UBSan."""
    tmp = tmp_path / f"r{seed}_{inputs}_{hidden}"
    kernels = _check_lstm(
        tmp, per_row=True, seed=seed, batch=2, steps=3, inputs=inputs, hidden=hidden, time_major=time_major,
        cell_clip=3.0,
    )  # fmt: skip
    assert "_dsp_rq[24 * j + " in kernels and "qc_smlad(" in kernels


def test_per_row_lstm_kws_shape_both_requant_forms(tmp_path: Path) -> None:
    """Per-row at the benchmark's shape: gate sides in one SMLAL and in the general form both
    occur over these seeds, every call exact."""
    seen: set[str] = set()
    for seed in (2026, 3, 8):
        kernels = _check_lstm(tmp_path / str(seed), calls=3, per_row=True, seed=seed, steps=3, inputs=10, hidden=32)
        seen |= {f for f in ("qc_requantize_x2(2 * a", "qc_requantize(a") if f in kernels}
    assert seen == {"qc_requantize_x2(2 * a", "qc_requantize(a"}


# ---- GRU -----------------------------------------------------------------------------------


def test_pack_pair_rows_lanes() -> None:
    w = np.arange(-9, 9).reshape(2, 3, 3).astype(np.int8)  # G=2, H=3, K=3 (odd: zero pad)
    words = pack_pair_rows(w).reshape(3, 2, 2)  # [H][pairs][gate]
    for j in range(3):
        for g in range(2):
            assert _lanes(words[j, 0, g]) == (w[g, j, 0], w[g, j, 1])
            assert _lanes(words[j, 1, g]) == (w[g, j, 2], 0)


GRU_CASES = [
    dict(direction="forward", lbr=1, h0=True, seed=1),
    dict(direction="reverse", lbr=0, h0=True, seed=2),
    dict(direction="bidirectional", lbr=1, h0=False, seed=3),
    dict(direction="bidirectional", lbr=0, h0=False, y=False, seed=4),
]


@pytest.mark.parametrize("family", ["dsp", "mve"])
@pytest.mark.parametrize("case", GRU_CASES, ids=lambda c: f"{c['direction']}-lbr{c['lbr']}")
def test_gru_dsp_equals_reference_sanitized(tmp_path: Path, case: dict, family: str) -> None:
    """ONNX GRUs (hidden 7: odd pairs and a predicated int16 tail; 5 inputs: a tap tail) through the
    dsp family (SMLAD) and the mve family (Helium, emulated) under ASan/UBSan."""
    pytest.importorskip("onnx")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
    from test_gru_models import make_gru

    from qcompile.compiler import CompileOptions, compile_model

    np.savez(tmp_path / "calib.npz", **make_gru(tmp_path / "g.onnx", **case))
    target = tmp_path / "dsp.toml"
    target.write_text(f'name = "{family}-host-test"\nkernel_family = "{family}"\ncc = "cc"\ncflags = ["-O2"]\n')
    options = CompileOptions(target=str(target), calib=tmp_path / "calib.npz", name="g", progress=False)
    compile_model(tmp_path / "g.onnx", tmp_path / "out", options)
    kernels = (tmp_path / "out" / "g_kernels.c").read_text()
    assert "qc_gru_blend(" in kernels and ("vmladavaq_s16(" if family == "mve" else "qc_smlad(") in kernels
    check_model_sanitized(tmp_path / "out", tmp_path, samples=4, seed=case["seed"])


@pytest.mark.parametrize(
    "shape",
    [dict(inputs=6, hidden=5), dict(inputs=17, hidden=16, batch=2), dict(inputs=33, hidden=20, time_major=True)],
    ids=lambda d: f"i{d['inputs']}h{d['hidden']}",
)
@pytest.mark.parametrize("per_row", [False, True], ids=["per_gate", "per_row"])
def test_mve_family_lstm_helium_products(tmp_path: Path, shape: dict, per_row: bool) -> None:
    """The ``mve`` family's LSTM: VMLADAVA.S8 per 16 taps (tails of 1..15 predicated off; emulated
    here), the rest the shared code, with TFLM's per-gate or the ONNX LSTM's per-row
    requantisation; equal to the reference under the sanitizers."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "lstm.tflite"
    path.write_bytes(lstm_model(seed=9, steps=3, cell_clip=0.5, **shape))
    graph = load_tflite(path)
    if per_row:
        _per_row(graph, 9)
    mve = Target(name="mve-host-test", kernel_family="mve", cc="cc", cflags=("-O2",))
    generate(graph, tmp_path / "out", name="lstm", target=mve)
    kernels = (tmp_path / "out" / "lstm_kernels.c").read_text()
    assert "vmladavaq_s8(" in kernels and "qc_lstm_unit_s8(" in kernels and "qc_smlad(" not in kernels
    assert ("_dsp_rq[24 * j" in kernels) == per_row
    check_model_sanitized(tmp_path / "out", tmp_path, graph=graph, samples=3, seed=9)


def test_pack_rows_s16_pads_rows_to_8() -> None:
    w = np.arange(2 * 3 * 9).reshape(2, 3, 9) - 20
    rows = pack_rows_s16(w).reshape(3, 2, 16)
    for j in range(3):
        for g in range(2):
            np.testing.assert_array_equal(rows[j, g, :9], w[g, j])
            assert not rows[j, g, 9:].any()


def test_pack_gate_rows_s8_pads_rows_to_16() -> None:
    w = np.arange(2 * 3 * 18).reshape(2, 3, 18) % 251 - 125
    rows = pack_gate_rows_s8(w).reshape(3, 2, 32)
    for j in range(3):
        for g in range(2):
            np.testing.assert_array_equal(rows[j, g, :18], w[g, j])
            assert not rows[j, g, 18:].any()


@pytest.mark.parametrize("family", ["dsp", "mve"])
def test_stateful_gru_q15_state_sanitized(tmp_path: Path, family: str) -> None:
    """``--stateful h=h_next`` keeps the GRU's Q15 state in and out of the node (``h_last``, may
    alias ``h0``): the per-layer kernel carries it over 6 calls under ASan/UBSan, equal to the
    reference stream."""
    kws = Path(__file__).resolve().parents[3] / "shared" / "data" / "kws_mfcc_dev500.npz"
    if not kws.exists():
        pytest.skip(f"{kws} is absent (the shared KWS samples)")
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    from bench_gru import MODELS, kws_frames, record_states

    from qcompile.compiler import CompileOptions, compile_model

    frames = kws_frames()[:4].reshape(-1, 10)
    model = MODELS / "gru_kws_step.onnx"
    np.savez(tmp_path / "calib.npz", x=frames[:, None, None], h=record_states(model, frames))
    target = tmp_path / "t.toml"
    target.write_text(f'name = "{family}-host-test"\nkernel_family = "{family}"\ncc = "cc"\ncflags = ["-O2"]\n')
    options = CompileOptions(
        target=str(target), calib=tmp_path / "calib.npz", stateful=[("h", "h_next")], name="g", progress=False
    )
    compile_model(model, tmp_path / "out", options)
    assert "h_last" in (tmp_path / "out" / "g_kernels.c").read_text()
    check_model_sanitized(tmp_path / "out", tmp_path, samples=6, seed=3)

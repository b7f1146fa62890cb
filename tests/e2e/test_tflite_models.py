"""The MLPerf Tiny int8 TFLite models compiled from their .tflite files: same bits as TFLite Micro.

ResNet-8 on 500 random int8 images and DS-CNN on 500 random inputs plus the 500 KWS
evaluation inputs, through the generated C (host build, Cython binding), must give
every output byte TFLite Micro gives. ``qcompile compare`` must agree and report less
RAM than TFLM's arena.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tflite_micro", reason="tflite_micro (TFLM Python interpreter) is not installed")

from tflite_builder import tflm_run  # noqa: E402

from qcompile.errors import QCompileError  # noqa: E402

N = 500


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory, resnet8_tflite: Path, kws_tflite: Path) -> dict[str, Path]:
    from qcompile.compiler import CompileOptions, compile_model

    root = tmp_path_factory.mktemp("tflite_models")
    out = {}
    for key, model in (("resnet8", resnet8_tflite), ("kws", kws_tflite)):
        compile_model(model, root / key, CompileOptions(progress=False))
        out[key] = root / key
    return out


def _run_c(out_dir: Path, x: np.ndarray, tmp_path: Path) -> np.ndarray:
    from qcompile.outdir import ModelFolder

    return np.asarray(ModelFolder.open(out_dir).run_host([x])[0])


def _inputs(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(-128, 128, size=(N, *shape)).astype(np.int8)


def test_resnet8_tflite_matches_tflm(compiled: dict[str, Path], resnet8_tflite: Path, tmp_path: Path) -> None:
    x = _inputs((1, 32, 32, 3), 8)
    expected = tflm_run(resnet8_tflite.read_bytes(), [x])[0].reshape(N, -1)
    got = _run_c(compiled["resnet8"], x, tmp_path).reshape(N, -1)
    assert int((got == expected).all(axis=1).sum()) == N


def test_kws_tflite_matches_tflm(compiled: dict[str, Path], kws_tflite: Path, kws_data: Path, tmp_path: Path) -> None:
    with np.load(kws_data) as data:
        real = data["x"].astype(np.int8).reshape(-1, 1, 49, 10, 1)
    x = np.concatenate([_inputs((1, 49, 10, 1), 9), real])
    expected = tflm_run(kws_tflite.read_bytes(), [x])[0].reshape(len(x), -1)
    got = _run_c(compiled["kws"], x, tmp_path).reshape(len(x), -1)
    assert int((got == expected).all(axis=1).sum()) == len(x)


@pytest.mark.parametrize("key", ["resnet8", "kws"])
def test_compare_reports_equal_outputs_and_less_ram(
    compiled: dict[str, Path], key: str, resnet8_tflite: Path, kws_tflite: Path
) -> None:
    from qcompile.tools.compare import compare

    model = resnet8_tflite if key == "resnet8" else kws_tflite
    result = compare(compiled[key], model, n=20)
    assert result.ok and result.equal == 20
    nb = result.numbers
    from qcompile.outdir import read_report

    report = read_report(compiled[key])
    assert nb["arena_bytes"] == report["arena_bytes"]
    assert nb["tflm_recorded_arena"] > 0 and nb["tflm_minimal_arena"] > 0
    # TFLM cannot run in less than its minimum; our plan needs less than that.
    assert nb["arena_bytes"] + nb["static_state_bytes"] < nb["tflm_minimal_arena"]


def test_compare_cli_exit_code_on_mismatch(compiled: dict[str, Path], kws_tflite: Path) -> None:
    """Comparing ResNet-8's C against the KWS model cannot agree: a non-zero exit, not a pass."""
    from qcompile.cli import main

    with pytest.raises((SystemExit, QCompileError)) as info:
        main(["compare", str(compiled["resnet8"]), "--tflm", str(kws_tflite), "-n", "3"])
    code = info.value.code if isinstance(info.value, SystemExit) else info.value.exit_code
    assert code != 0


def test_calib_is_refused_for_tflite(resnet8_tflite: Path, tmp_path: Path) -> None:
    from qcompile.compiler import CompileOptions, compile_model

    with pytest.raises(QCompileError, match="already quantized"):
        compile_model(resnet8_tflite, tmp_path / "o", CompileOptions(calib=tmp_path / "c.npz", progress=False))
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("key", ["kws", "resnet8"])
def test_tflite_model_on_qemu_cortex_m7_matches_tflm(
    key: str, resnet8_tflite: Path, kws_tflite: Path, kws_data: Path, tmp_path: Path
) -> None:
    """The same .tflite compiled for Cortex-M7 (DSP kernels) and run under QEMU: TFLM's bits."""
    import shutil

    if not (shutil.which("qemu-system-arm") and shutil.which("arm-none-eabi-gcc")):
        pytest.skip("qemu-system-arm / arm-none-eabi-gcc not installed")
    from qcompile.compiler import CompileOptions, compile_model
    from qcompile.tools.firmware import run_on_qemu

    model = resnet8_tflite if key == "resnet8" else kws_tflite
    shape = (1, 32, 32, 3) if key == "resnet8" else (1, 49, 10, 1)
    n = 100  # CI budget; the full 500 (+500 KWS) were run once and matched too
    x = _inputs(shape, 11)[:n]
    if key == "kws":
        with np.load(kws_data) as data:
            x = np.concatenate([x, data["x"][:n].astype(np.int8).reshape(-1, *shape)])
    out_dir = tmp_path / key
    compile_model(model, out_dir, CompileOptions(target="cortex-m7", progress=False))
    expected = tflm_run(model.read_bytes(), [x])[0].reshape(len(x), -1)
    got = run_on_qemu(out_dir, "cortex-m7", x.reshape(len(x), -1), build_dir=tmp_path / "fw").outputs[0]
    assert int((np.asarray(got).reshape(len(x), -1) == expected).all(axis=1).sum()) == len(x)

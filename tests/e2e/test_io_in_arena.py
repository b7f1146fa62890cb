"""In-arena I/O (``--io-in-arena``, issue 14): the TFLM-style API and the RAM it reports.

The host build is driven through ``<name>_input(i)`` / ``<name>_invoke()`` /
``<name>_output(i)`` with ctypes (the Cython binding only reaches the pointer API), and
compared bit for bit with the numpy reference; the accounting compares the two builds of
the MLPerf models for Cortex-M7 against TFLite Micro's arenas (which hold the I/O too).
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from qcompile.compiler import CompileOptions, compile_model
from qcompile.ir_io import load_graph
from qcompile.outdir import GRAPH_FILE
from qcompile.reference.executor import run_quantized
from qcompile.tools.verify import verify

TFLM = {"resnet8": 55_984, "dscnn": 24_272}


def _compile(model: Path, out: Path, target: str, io_in_arena: bool) -> dict:
    options = CompileOptions(target=target, name="m", progress=False, io_in_arena=io_in_arena)
    return compile_model(model, out, options)


def _shared_library(out: Path, tmp: Path) -> ctypes.CDLL:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc not found")
    sources = sorted(str(p) for p in [*out.glob("*.c"), *(out / "runtime").glob("*.c")])
    lib = tmp / "libm.so"
    cmd = [
        gcc,
        "-std=c99",
        "-O1",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-shared",
        "-fPIC",
        f"-I{out}",
        f"-I{out / 'runtime'}",
    ]
    subprocess.run([*cmd, *sources, "-o", str(lib)], check=True)
    return ctypes.CDLL(str(lib))


def test_invoke_in_arena_bit_exact(kws_tflite: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = _compile(kws_tflite, out, "host", True)
    header = (out / "m.h").read_text()
    assert "#define M_IO_IN_ARENA 1" in header and "int m_invoke(void);" in header
    lib = _shared_library(out, tmp_path)
    lib.m_input.restype = ctypes.POINTER(ctypes.c_int8)
    lib.m_output.restype = ctypes.POINTER(ctypes.c_int8)
    graph, _ = load_graph(out / GRAPH_FILE)
    (inp,), (outp,) = report["inputs"], report["outputs"]
    in_size, out_size = int(np.prod(inp["shape"])), int(np.prod(outp["shape"]))
    assert not lib.m_input(1) and not lib.m_output(-1)
    rng = np.random.default_rng(3)
    for _ in range(4):
        x = rng.integers(-128, 128, size=inp["shape"], dtype=np.int8)
        ctypes.memmove(lib.m_input(0), x.ctypes.data, in_size)
        assert lib.m_invoke() == 0
        got = np.ctypeslib.as_array(lib.m_output(0), shape=(out_size,)).copy()
        want = run_quantized(graph, {graph.inputs[0]: x})[graph.outputs[0]]
        np.testing.assert_array_equal(got, want.reshape(-1))
    # the pointer API of the same build copies through the arena (the binding's path)
    result = verify(out, limit=8, float_model=False)
    assert result.bit_exact == result.samples > 0


@pytest.mark.parametrize("model", ["resnet8", "dscnn"])
def test_ram_accounting_cortex_m7(model: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    path = request.getfixturevalue("resnet8_tflite" if model == "resnet8" else "kws_tflite")
    outside = _compile(path, tmp_path / "ptr", "cortex-m7", False)["ram"]
    inside = _compile(path, tmp_path / "io", "cortex-m7", True)["ram"]
    assert outside["io_bytes_outside_arena"] > 0
    assert (
        outside["total_bytes"]
        == outside["arena_bytes"] + outside["static_state_bytes"] + outside["io_bytes_outside_arena"]
    )
    assert inside["io_bytes_outside_arena"] == 0 and inside["total_bytes"] == inside["arena_bytes"]
    # the input's bytes are reused: the I/O costs less inside the arena than outside it
    assert inside["total_bytes"] <= outside["total_bytes"]
    assert inside["total_bytes"] <= 0.70 * TFLM[model]

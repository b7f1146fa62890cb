"""Code generator: the generated folder compiles strictly, is deterministic, survives hostile
names, and its host build is bit-exact with the numpy reference executor."""

from __future__ import annotations

import ctypes
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from codegen_graphs import build_small, build_zoo, compile_c  # noqa: E402

from qcompile.codegen import generate, model_identifier  # noqa: E402
from qcompile.codegen.names import comment_text, sanitize  # noqa: E402
from qcompile.errors import QCompileError, UnsupportedModelError  # noqa: E402
from qcompile.host.build import build_host_library  # noqa: E402
from qcompile.ir import Graph, Node  # noqa: E402
from qcompile.reference.executor import run_quantized  # noqa: E402
from qcompile.targets import load_target  # noqa: E402

HOST = load_target("host")

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")


def _random_inputs(g: Graph, batch: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(-128, 128, size=(batch, *g.tensors[n].shape), dtype=np.int8) for n in g.inputs]


def _check_bit_exact(
    g: Graph, out_dir: Path, report: dict, build_dir: Path, batch: int = 12, arena: int | None = None
) -> None:
    from qcompile.host._runtime import ModelLibrary

    lib = build_host_library(out_dir, name=report["c_name"], build_dir=build_dir)
    model = ModelLibrary(
        str(lib),
        report["c_name"],
        [g.tensors[n].size for n in g.inputs],
        [g.tensors[n].size for n in g.outputs],
        report["arena_bytes"] if arena is None else arena,
    )
    assert model.required_arena_size == report["arena_bytes"]
    inputs = _random_inputs(g, batch, seed=batch)
    outputs = model.run(inputs)
    for b in range(batch):
        ref = run_quantized(g, [x[b] for x in inputs])
        for j, name in enumerate(g.outputs):
            np.testing.assert_array_equal(outputs[j][b], ref[name].reshape(-1), err_msg=f"sample {b} output {name!r}")


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# ---- (a) strict compilation --------------------------------------------------------------


def test_zoo_compiles_strictly(tmp_path: Path) -> None:
    generate(build_zoo(), tmp_path / "out", name="zoo", target=HOST)
    compile_c(tmp_path / "out")


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc is not installed")
def test_zoo_compiles_for_cortex_m(tmp_path: Path) -> None:
    target = load_target("cortex-m7")
    generate(build_zoo(), tmp_path / "out", name="zoo", target=target, weights_section=".qc_weights")
    compile_c(tmp_path / "out", "arm-none-eabi-gcc", ("-mcpu=cortex-m7", "-mthumb"))


def test_generated_api_and_macros(tmp_path: Path) -> None:
    report = generate(build_zoo(), tmp_path, name="zoo", target=HOST)
    h = (tmp_path / "zoo.h").read_text()
    for macro in (
        "ZOO_INPUT_SIZE",
        "ZOO_OUTPUT_SIZE",
        "ZOO_ARENA_SIZE",
        "ZOO_INPUT_SCALE",
        "ZOO_INPUT_ZERO_POINT",
        "ZOO_OUTPUT_SCALE",
        "ZOO_OUTPUT_ZERO_POINT",
        "ZOO_INPUT1_SIZE",
        "ZOO_OUTPUT2_ZERO_POINT",
        "ZOO_INPUT0_SHAPE",
        "ZOO_NUM_INPUTS 2",
        "ZOO_NUM_OUTPUTS 3",
    ):
        assert f"#define {macro}" in h, macro
    assert f"#define ZOO_ARENA_SIZE {report['arena_bytes']}\n" in h
    assert "#define ZOO_INPUT0_SIZE 108\n" in h and "#define ZOO_INPUT0_SHAPE {1, 6, 6, 3}" in h
    assert (
        "int zoo_run(const int8_t *input0, const int8_t *input1, int8_t *output0, int8_t *output1, int8_t *output2);"
        in h
    )
    assert "int zoo_run_io(const int8_t *const *inputs, int8_t *const *outputs, void *arena);" in h
    assert "void zoo_quantize_input1(const float *in, int8_t *out);" in h
    assert "void zoo_dequantize_output2(const int8_t *in, float *out);" in h
    c = (tmp_path / "zoo.c").read_text()
    assert "malloc" not in c and "static const qc_conv_params zoo_l0 = {" in c
    invoke = c[c.index("static int zoo_layers") : c.index("static int zoo_exec")]
    assert "float" not in invoke and "double" not in invoke
    calls = re.findall(r"\bqc_\w+_s8\(", invoke)
    assert len(calls) > 8 and invoke.count("!= QC_OK") == len(calls)  # every kernel call is checked
    small = generate(build_small(), tmp_path / "small", name="small", target=HOST)
    hs = (tmp_path / "small" / "small.h").read_text()
    assert "int small_run(const int8_t *input, int8_t *output);" in hs
    assert "int small_run_arena(const int8_t *input, int8_t *output, void *arena);" in hs
    assert small["arena_bytes"] == 0 and "static uint8_t small_arena[1]" in (tmp_path / "small" / "small.c").read_text()


def test_report(tmp_path: Path) -> None:
    report = generate(build_zoo(), tmp_path, name="zoo", target=HOST)
    on_disk = json.loads((tmp_path / "report.json").read_text())
    assert on_disk == report
    assert report["arena_bytes"] >= report["lower_bound_bytes"] > 0
    conv = report["layers"][0]
    assert conv["op"] == "conv2d" and conv["macs"] == 6 * 6 * 4 * 3 * 3 * 3 and conv["scratch_bytes"] > 0
    assert conv["output"] == [1, 6, 6, 4] and conv["output_zero_point"] == 3 and conv["output_scale"] == 0.08
    macs = {layer["op"]: layer["macs"] for layer in report["layers"]}
    assert macs["fully_connected"] == 160 * 10 and macs["depthwise_conv2d"] == 3 * 3 * 8 * 9 and macs["lut"] == 0
    assert report["inputs"][0] == {
        "dtype": "int8",
        "layout": "NHWC",
        "name": "x",
        "scale": 0.04,
        "shape": [1, 6, 6, 3],
        "zero_point": -5,
    }
    assert [o["name"] for o in report["outputs"]] == ["sm", "c1", "cp"]
    weights = (4 * 27 + 72 + 8 + 1600) + 4 * (4 + 8 + 10) * 3 + 256 + 4 * 2
    assert report["weight_bytes"] == weights


def test_runtime_copy_is_minimal(tmp_path: Path) -> None:
    report = generate(build_small(), tmp_path, name="small", target=HOST)
    assert sorted(p.name for p in (tmp_path / "runtime").iterdir()) == ["qc_fixedpoint.h", "qc_kernels.h", "qc_lut.c"]
    assert "runtime/qc_lut.c" in report["files"]
    compile_c(tmp_path)


def test_weights_section(tmp_path: Path) -> None:
    generate(build_small(), tmp_path / "a", name="small", target=HOST, weights_section=".rodata.qc")
    assert 'section(".rodata.qc")' in (tmp_path / "a" / "small_weights.c").read_text()
    compile_c(tmp_path / "a")
    generate(build_small(), tmp_path / "b", name="small", target=HOST)
    assert "section(" not in (tmp_path / "b" / "small_weights.c").read_text()
    with pytest.raises(QCompileError, match="weights-section"):
        generate(build_small(), tmp_path / "c", name="small", target=HOST, weights_section='x") int y; ("')
    assert not (tmp_path / "c").exists()


# ---- (b) determinism -------------------------------------------------------------------------


def test_deterministic(tmp_path: Path) -> None:
    generate(build_zoo(), tmp_path / "one", name="zoo", target=HOST)
    generate(build_zoo(), tmp_path / "two", name="zoo", target=HOST)
    one, two = _tree(tmp_path / "one"), _tree(tmp_path / "two")
    assert one.keys() == two.keys()
    for key in one:
        assert one[key] == two[key], key
    # and a different graph really does give different files (the comparison can fail)
    generate(build_zoo(seed=1), tmp_path / "three", name="zoo", target=HOST)
    assert _tree(tmp_path / "three")["zoo_weights.c"] != one["zoo_weights.c"]


# ---- (c) hostile names ------------------------------------------------------------------------

_HOSTILE = {
    "x": 'in"put */ /* \\',
    "x2": "in put",  # sanitises like the next one
    "c1": "in\nput",
    "conv": "int",
    "conv_w": "for",
    "conv_b": "3d",
    "dw": "*/",
    "dw_w": "ünïcödé ✓",
    "dw_b": "ünïcödé ✗",
    "k": " ",
    "sm": "x" * 300,
    "fc_w": "x" * 300 + "y",
    "cp": "??/",
}


def test_hostile_names_compile_and_run(tmp_path: Path) -> None:
    g = build_zoo(names=lambda s: _HOSTILE.get(s, s), model_name="evil")
    name = '0 "evil" */ model\n#include <stdio.h>'
    report = generate(g, tmp_path / "out", name=name, target=HOST)
    cname = report["c_name"]
    assert cname == model_identifier(name) and cname.isidentifier() and not cname[0].isdigit()
    assert (tmp_path / "out" / f"{cname}.h").is_file()
    for path in (tmp_path / "out").glob("*.[ch]"):
        text = path.read_text(encoding="ascii")  # non-ASCII never reaches C
        assert "\n#include <stdio.h>" not in text  # the newline stayed escaped inside a comment
    compile_c(tmp_path / "out")
    _check_bit_exact(g, tmp_path / "out", report, tmp_path / "build", batch=3)


@pytest.mark.parametrize(
    "name, expected",
    [
        ("kws", "kws"),
        ("3x", "m_3x"),
        ("int", "m_int"),
        ("qc_conv", "m_qc_conv"),
        ("", "model"),
        ("a-b.c", "a_b_c"),
        ("__x", "x"),
    ],
)
def test_model_identifier(name: str, expected: str) -> None:
    assert model_identifier(name) == expected


def test_comment_text_is_inert() -> None:
    for text in ["*/", "/*", "*/*/", "a*//*b", "x\ny\r", "end\\", "ünï", "\x00"]:
        out = comment_text(text)
        assert "*/" not in out and "/*" not in out and "\n" not in out and "\r" not in out
        assert out.isascii() and out.isprintable()
    assert sanitize("a  b--c") == "a_b_c"


# ---- (d) bit exactness ------------------------------------------------------------------------


def test_zoo_bit_exact(tmp_path: Path) -> None:
    g = build_zoo(seed=3)
    report = generate(g, tmp_path / "out", name="zoo", target=HOST)
    _check_bit_exact(g, tmp_path / "out", report, tmp_path / "build", batch=16)


def test_zoo_bit_exact_static_arena(tmp_path: Path) -> None:
    g = build_zoo(seed=4)
    report = generate(g, tmp_path / "out", name="zoo", target=HOST)
    _check_bit_exact(g, tmp_path / "out", report, tmp_path / "build", batch=4, arena=0)


def _alias_graph() -> Graph:
    """Outputs that alias an input (reshape), each other (reshape and duplicate) and an input itself."""
    from codegen_graphs import _act

    g = Graph("alias")
    _act(g, "x", (2, 4), 0.1, 0)
    _act(g, "xr", (8,), 0.1, 0)
    _act(g, "a", (2, 4), 0.1, 0)
    _act(g, "ar", (4, 2), 0.1, 0)
    _act(g, "b", (2, 4), 0.1, 0)
    table = np.roll(np.arange(-128, 128), 5).astype(np.int8)
    g.add_node(Node("r0", "reshape", ["x"], ["xr"], {"shape": (8,)}))
    g.add_node(Node("l0", "lut", ["x"], ["a"], {"table": table}))
    g.add_node(Node("r1", "reshape", ["a"], ["ar"], {"shape": (4, 2)}))
    g.add_node(Node("l1", "lut", ["a"], ["b"], {"table": table}))
    g.inputs = ["x"]
    g.outputs = ["xr", "a", "ar", "a", "x", "b"]
    return g


def test_aliasing_outputs_bit_exact(tmp_path: Path) -> None:
    g = _alias_graph()
    report = generate(g, tmp_path / "out", name="alias", target=HOST)
    compile_c(tmp_path / "out")
    _check_bit_exact(g, tmp_path / "out", report, tmp_path / "build", batch=5)


def test_too_small_arena_is_refused(tmp_path: Path) -> None:
    from qcompile.host._runtime import ModelLibrary

    report = generate(build_zoo(), tmp_path / "out", name="zoo", target=HOST)
    lib = build_host_library(tmp_path / "out", name="zoo", build_dir=tmp_path / "build")
    with pytest.raises(ValueError, match="smaller"):
        ModelLibrary(str(lib), "zoo", [108, 8], [10, 144, 144], report["arena_bytes"] - 1)


def test_nchw_input_layout_is_documented(tmp_path: Path) -> None:
    g = build_zoo()
    g.tensors["x"].source_perm = (0, 1, 2, 3)  # the graph input kept the source model's NCHW layout
    g.tensors["c1"].source_perm = (0, 2, 3, 1)
    report = generate(g, tmp_path, name="zoo", target=HOST)
    assert report["inputs"][0]["layout"] == "NCHW" and report["outputs"][1]["layout"] == "NHWC"
    assert report["outputs"][0]["layout"] == "2-D"
    h = (tmp_path / "zoo.h").read_text()
    assert 'input 0: "x" shape [1, 6, 6, 3] NCHW int8' in h and 'output 1: "c1" shape [1, 6, 6, 4] NHWC' in h


def test_kernel_error_is_reported(tmp_path: Path) -> None:
    from qcompile.host._runtime import ModelLibrary

    g = build_zoo()
    bad = g.copy()
    bad.nodes[1].attrs["act_min"], bad.nodes[1].attrs["act_max"] = 50, -50
    with pytest.raises(QCompileError, match="node 'dw'.*act_min 50 > act_max -50"):  # the schema refuses it
        generate(bad, tmp_path / "refused", name="bad", target=HOST)
    report = generate(
        g, tmp_path / "out", name="bad", target=HOST, scratch={"conv": 4096, "dw": 4096, "avgpool": 4096, "fc": 4096}
    )
    # so the runtime's own check is reached by editing the generated struct: depthwise rejects it
    source = tmp_path / "out" / "bad.c"
    text = source.read_text()
    start = text.index("bad_l1 = {")
    body = text[start : text.index("};", start)]
    body2 = re.sub(r"\.act_max = -?\d+", ".act_max = -50", re.sub(r"\.act_min = -?\d+", ".act_min = 50", body))
    source.write_text(text.replace(body, body2))
    lib = build_host_library(tmp_path / "out", name="bad", build_dir=tmp_path / "build")
    model = ModelLibrary(str(lib), "bad", [108, 8], [10, 144, 144], report["arena_bytes"])
    with pytest.raises(RuntimeError, match="layer 1"):
        model.run(_random_inputs(g, 2, 0))


def test_float_helpers_match_quant_params(tmp_path: Path) -> None:
    g = build_zoo()
    report = generate(g, tmp_path / "out", name="zoo", target=HOST)
    lib = ctypes.CDLL(str(build_host_library(tmp_path / "out", name=report["c_name"], build_dir=tmp_path / "b")))
    q_in, q_out = g.tensors["x"].quant, g.tensors["c1"].quant
    rng = np.random.default_rng(0)
    real = np.concatenate([rng.normal(0, 4, 100), (np.arange(8) - 4 + 0.5) * 0.04, [1e9, -1e9]])[:108]
    real = np.resize(real, 108).astype(np.float32)
    got = np.zeros(108, dtype=np.int8)
    lib.zoo_quantize_input(real.ctypes.data_as(ctypes.c_void_p), got.ctypes.data_as(ctypes.c_void_p))
    np.testing.assert_array_equal(got, q_in.quantize(real))
    q = rng.integers(-128, 128, 144, dtype=np.int8)
    deq = np.zeros(144, dtype=np.float32)
    lib.zoo_dequantize_output1(q.ctypes.data_as(ctypes.c_void_p), deq.ctypes.data_as(ctypes.c_void_p))
    np.testing.assert_array_equal(deq, q_out.dequantize(q).astype(np.float32))


# ---- failures leave nothing behind ------------------------------------------------------------


def test_unsupported_op_writes_nothing(tmp_path: Path) -> None:
    g = build_small()
    g.nodes[0].op = "frobnicate"
    with pytest.raises(UnsupportedModelError, match="frobnicate"):
        generate(g, tmp_path / "out", name="small", target=HOST)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "fresh").mkdir()
    with pytest.raises(UnsupportedModelError):
        generate(g, tmp_path / "fresh", name="small", target=HOST)
    assert list((tmp_path / "fresh").iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh"]


# ---- (e) CMake add_subdirectory --------------------------------------------------------------


@pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake is not installed")
def test_cmake_add_subdirectory(tmp_path: Path) -> None:
    g = build_zoo(seed=5)
    generate(g, tmp_path / "zoo", name="zoo", target=HOST)
    (tmp_path / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.13)\nproject(app C)\nadd_subdirectory(zoo)\n"
        "add_executable(app main.c)\ntarget_link_libraries(app PRIVATE zoo)\n"
    )
    (tmp_path / "main.c").write_text(
        """#include <stdio.h>
#include "zoo.h"
int main(void) {
    static int8_t in0[ZOO_INPUT0_SIZE], in1[ZOO_INPUT1_SIZE];
    static int8_t out0[ZOO_OUTPUT0_SIZE], out1[ZOO_OUTPUT1_SIZE], out2[ZOO_OUTPUT2_SIZE];
    int i, rc;
    for (i = 0; i < ZOO_INPUT0_SIZE; ++i) in0[i] = (int8_t)((i * 37) % 256 - 128);
    for (i = 0; i < ZOO_INPUT1_SIZE; ++i) in1[i] = (int8_t)((i * 91) % 256 - 128);
    rc = zoo_run(in0, in1, out0, out1, out2);
    if (rc != 0) return rc;
    for (i = 0; i < ZOO_OUTPUT0_SIZE; ++i) printf("%d ", out0[i]);
    printf("\\n");
    return 0;
}
"""
    )
    build = tmp_path / "build"
    for cmd in (["cmake", "-S", str(tmp_path), "-B", str(build)], ["cmake", "--build", str(build)]):
        proc = subprocess.run(cmd, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    run = subprocess.run([str(build / "app")], capture_output=True, text=True, check=True)
    got = np.array([int(v) for v in run.stdout.split()], dtype=np.int8)
    in0 = ((np.arange(108) * 37) % 256 - 128).astype(np.int8).reshape(1, 6, 6, 3)
    in1 = ((np.arange(8) * 91) % 256 - 128).astype(np.int8).reshape(1, 1, 1, 8)
    np.testing.assert_array_equal(got, run_quantized(g, [in0, in1])["sm"].reshape(-1))

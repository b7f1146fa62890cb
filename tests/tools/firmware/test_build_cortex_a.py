"""Cortex-A deployment: the generated CMake project with the shipped aarch64-linux-gnu
toolchain file, and the Make fragment, each build a Linux application that runs under
qemu-aarch64 and prints the reference's output."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from qcompile.codegen import generate
from qcompile.ir import Graph
from qcompile.reference.executor import run_quantized_samples
from qcompile.resources import cmake_dir
from qcompile.targets import load_target

pytestmark = pytest.mark.skipif(
    shutil.which("aarch64-linux-gnu-gcc") is None or shutil.which("qemu-aarch64") is None,
    reason="aarch64-linux-gnu-gcc / qemu-aarch64 not installed (scripts/setup.sh installs them)",
)

MAIN_C = """#include <stdio.h>
#include "kws.h"
static int8_t in[KWS_INPUT_SIZE], out[KWS_OUTPUT_SIZE];
int main(void) {
    int i;
    if (kws_run(in, out) != 0) return 1;
    for (i = 0; i < KWS_OUTPUT_SIZE; ++i) printf("%d ", out[i]);
    return 0;
}
"""


def _expected(graph: Graph) -> list[int]:
    shape = graph.tensors[graph.inputs[0]].shape[1:]
    return [int(v) for v in run_quantized_samples(graph, [np.zeros((1, *shape), dtype=np.int8)])[0][0]]


def _run(exe: Path) -> list[int]:
    proc = subprocess.run(["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu", str(exe)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return [int(v) for v in proc.stdout.split()]


def test_cmake_aarch64_application(kws_qgraph: Graph, tmp_path: Path) -> None:
    generate(kws_qgraph, tmp_path / "kws", name="kws", target=load_target("cortex-a76"))
    app = tmp_path / "app"
    app.mkdir()
    (app / "main.c").write_text(MAIN_C)
    (app / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.13)\nproject(app C)\n"
        f"add_subdirectory({tmp_path / 'kws'} kws)\n"
        "add_executable(app main.c)\ntarget_link_libraries(app PRIVATE kws)\n"
    )
    flags = "-march=armv8.2-a+dotprod -mcpu=cortex-a76 -O2"
    toolchain = cmake_dir() / "aarch64-linux-gnu.cmake"
    configure = subprocess.run(
        ["cmake", "-S", app, "-B", tmp_path / "b", f"-DCMAKE_TOOLCHAIN_FILE={toolchain}", f"-DQC_CPU_FLAGS={flags}"],
        capture_output=True,
        text=True,
    )
    assert configure.returncode == 0, configure.stdout + configure.stderr
    assert "aarch64-linux-gnu-gcc" in (tmp_path / "b" / "CMakeCache.txt").read_text()
    build = subprocess.run(["cmake", "--build", tmp_path / "b"], capture_output=True, text=True)
    assert build.returncode == 0, build.stdout + build.stderr
    assert _run(tmp_path / "b" / "app") == _expected(kws_qgraph)


def test_make_fragment_aarch64_application(kws_qgraph: Graph, tmp_path: Path) -> None:
    generate(kws_qgraph, tmp_path / "kws", name="kws", target=load_target("cortex-a53"))
    (tmp_path / "main.c").write_text(MAIN_C)
    (tmp_path / "Makefile").write_text(
        "include kws/kws.mk\n"
        "CC := aarch64-linux-gnu-gcc\n"
        "app: main.c $(KWS_SRCS)\n"
        "\t$(CC) $(KWS_TARGET_CFLAGS) $(KWS_CFLAGS) -Wall -Wextra -Werror $^ -o $@\n"
    )
    proc = subprocess.run(["make", "-C", tmp_path, "-s"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _run(tmp_path / "app") == _expected(kws_qgraph)

"""Firmware build integration: the generated CMake project with the shipped arm-none-eabi
toolchain file, the Make fragment, and a configurable arena alignment."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from qcompile.codegen import generate
from qcompile.errors import QCompileError
from qcompile.ir import Graph
from qcompile.resources import cmake_dir
from qcompile.targets import load_target

M4_FLAGS = "-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16"


def test_cmake_toolchain_file_builds_the_library(kws_qgraph: Graph, tmp_path: Path) -> None:
    generate(kws_qgraph, tmp_path / "kws", name="kws", target=load_target("cortex-m4"))
    firmware = tmp_path / "firmware"
    firmware.mkdir()
    (firmware / "main.c").write_text(
        '#include "kws.h"\nstatic int8_t in[KWS_INPUT_SIZE], out[KWS_OUTPUT_SIZE];\n'
        "int main(void) { return kws_run(in, out); }\n"
    )
    (firmware / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.13)\nproject(fw C)\n"
        f"add_subdirectory({tmp_path / 'kws'} kws)\n"
        "add_library(fw STATIC main.c)\ntarget_link_libraries(fw PRIVATE kws)\n"
    )
    toolchain = cmake_dir() / "arm-none-eabi.cmake"
    configure = subprocess.run(
        [
            "cmake",
            "-S",
            firmware,
            "-B",
            tmp_path / "b",
            f"-DCMAKE_TOOLCHAIN_FILE={toolchain}",
            f"-DQC_CPU_FLAGS={M4_FLAGS}",
        ],
        capture_output=True,
        text=True,
    )
    assert configure.returncode == 0, configure.stdout + configure.stderr
    assert "arm-none-eabi-gcc" in (tmp_path / "b" / "CMakeCache.txt").read_text()
    build = subprocess.run(["cmake", "--build", tmp_path / "b"], capture_output=True, text=True)
    assert build.returncode == 0, build.stdout + build.stderr
    archive = next((tmp_path / "b").rglob("libkws.a"))
    header = subprocess.run(["arm-none-eabi-readelf", "-h", archive], capture_output=True, text=True).stdout
    assert "ARM" in header
    missing = subprocess.run(
        ["cmake", "-S", firmware, "-B", tmp_path / "b2", f"-DCMAKE_TOOLCHAIN_FILE={toolchain}"],
        capture_output=True,
        text=True,
    )
    assert missing.returncode != 0 and "QC_CPU_FLAGS" in missing.stderr


def test_make_fragment(kws_qgraph: Graph, tmp_path: Path) -> None:
    report = generate(kws_qgraph, tmp_path / "kws", name="kws", target=load_target("cortex-m4"))
    assert "kws.mk" in report["files"]
    (tmp_path / "Makefile").write_text(
        "include kws/kws.mk\n"
        "OBJS := $(patsubst %.c,%.o,$(KWS_SRCS))\n"
        "all: libmodel.a\n"
        "%.o: %.c\n\tarm-none-eabi-gcc $(KWS_TARGET_CFLAGS) $(KWS_CFLAGS) -Wall -Wextra -Werror -c $< -o $@\n"
        "libmodel.a: $(OBJS)\n\tarm-none-eabi-ar rcs $@ $^\n"
    )
    if shutil.which("make") is None:
        pytest.fail("make is not installed (Debian: build-essential)")
    proc = subprocess.run(["make", "-C", tmp_path, "-s"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    members = subprocess.run(["arm-none-eabi-ar", "t", tmp_path / "libmodel.a"], capture_output=True, text=True).stdout
    c_files = {p.stem for p in (tmp_path / "kws").rglob("*.c")}
    assert {Path(m).stem for m in members.split()} == c_files


def test_arena_alignment(kws_qgraph: Graph, tmp_path: Path) -> None:
    report = generate(kws_qgraph, tmp_path / "a", name="kws", target=load_target("cortex-m4"), arena_alignment=256)
    assert report["arena_alignment"] == 256 and report["alignment"] == 16
    text = (tmp_path / "a" / "kws.c").read_text()
    assert "aligned(256)" in text
    assert "#define KWS_ARENA_ALIGNMENT 256" in (tmp_path / "a" / "kws.h").read_text()
    offsets = [int(m) for m in re.findall(r"arena \+ (\d+)", text)]
    assert offsets and all(o % 256 == 0 for o in offsets)
    default = generate(kws_qgraph, tmp_path / "d", name="kws", target=load_target("cortex-m7"))
    assert default["arena_alignment"] == 32
    for bad in (3, 2, 0):
        with pytest.raises(QCompileError, match="arena-alignment"):
            generate(
                kws_qgraph, tmp_path / f"bad{bad}", name="kws", target=load_target("cortex-m4"), arena_alignment=bad
            )

"""Firmware build integration: the generated CMake project with the shipped arm-none-eabi
toolchain file, the Make fragment, and a configurable arena alignment."""

from __future__ import annotations

import json
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


def _configure(tmp_path: Path, model: Path, label: str, *args: str, pre: str = "") -> tuple[dict[str, list[str]], str]:
    """Configure a firmware project around ``model``; the -O flags of each source's compile
    command (in order: gcc obeys the last) and CMake's output."""
    firmware = tmp_path / f"fw-{label}"
    firmware.mkdir()
    (firmware / "main.c").write_text("int main(void) { return 0; }\n")
    (firmware / "CMakeLists.txt").write_text(
        f"cmake_minimum_required(VERSION 3.13)\nproject(fw C)\n{pre}add_subdirectory({model} model)\n"
        "add_library(fw STATIC main.c)\ntarget_link_libraries(fw PRIVATE kws)\n"
    )
    build = tmp_path / f"b-{label}"
    proc = subprocess.run(
        ["cmake", "-S", firmware, "-B", build, "-DCMAKE_EXPORT_COMPILE_COMMANDS=ON", *args],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    commands = json.loads((build / "compile_commands.json").read_text())
    flags = {Path(c["file"]).name: c["command"].split() for c in commands}
    return flags, proc.stdout + proc.stderr


def _opt_levels(flags: dict[str, list[str]]) -> dict[str, list[str]]:
    return {name: [f for f in words if f.startswith("-O")] for name, words in flags.items()}


@pytest.mark.parametrize(
    ("label", "args", "pre", "model_opt", "main_opt"),
    [
        # no build type: the model still builds at the target's -O2 (it built at -O0 before)
        ("none", [], "", "-O2", None),
        # the target's choice wins over the build type's, for the model's sources only
        ("release", ["-DCMAKE_BUILD_TYPE=Release"], "", "-O2", "-O3"),
        ("debug", ["-DCMAKE_BUILD_TYPE=Debug"], "", "-O2", None),
        # the project overrides it: a cache entry, a variable set before add_subdirectory, or empty
        ("cache", ["-DCMAKE_BUILD_TYPE=Release", "-DKWS_OPT_FLAGS=-Os"], "", "-Os", "-O3"),
        ("variable", [], "set(KWS_OPT_FLAGS -O1)\n", "-O1", None),
        ("empty", ["-DCMAKE_BUILD_TYPE=MinSizeRel", "-DKWS_OPT_FLAGS="], "", "-Os", "-Os"),
    ],
)
def test_cmake_model_optimisation(
    kws_qgraph: Graph,
    tmp_path: Path,
    label: str,
    args: list[str],
    pre: str,
    model_opt: str,
    main_opt: str | None,
) -> None:
    m7 = load_target("cortex-m7")
    generate(kws_qgraph, tmp_path / "kws", name="kws", target=m7)
    toolchain = f"-DCMAKE_TOOLCHAIN_FILE={cmake_dir() / 'arm-none-eabi.cmake'}"
    cpu = f"-DQC_CPU_FLAGS={' '.join(m7.cpu_flags)}"
    flags, output = _configure(tmp_path, tmp_path / "kws", label, toolchain, cpu, *args, pre=pre)
    assert "Warning" not in output, output
    levels = _opt_levels(flags)
    model_files = {p.name for p in (tmp_path / "kws").rglob("*.c")}
    assert model_files <= set(levels)
    for name in model_files:
        assert levels[name][-1:] == [model_opt], (name, flags[name])
        # the CPU flags come from the toolchain file alone, once
        assert flags[name].count("-mcpu=cortex-m7") == 1 and flags[name].count("-mthumb") == 1
        assert {"-ffunction-sections", "-fdata-sections"} <= set(flags[name])
    assert levels["main.c"][-1:] == ([main_opt] if main_opt else [])


def test_cmake_cpu_flags_reach_a_project_without_its_own(kws_qgraph: Graph, tmp_path: Path) -> None:
    generate(kws_qgraph, tmp_path / "kws", name="kws", target=load_target("cortex-m7"))
    # a cross toolchain file that names no core, as many board packages ship
    bare = tmp_path / "bare.cmake"
    bare.write_text(
        "set(CMAKE_SYSTEM_NAME Generic)\nset(CMAKE_SYSTEM_PROCESSOR arm)\nset(CMAKE_C_COMPILER arm-none-eabi-gcc)\n"
        "set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)\n"
    )
    flags, _ = _configure(tmp_path, tmp_path / "kws", "bare", f"-DCMAKE_TOOLCHAIN_FILE={bare}")
    m7 = load_target("cortex-m7").cpu_flags
    for name in ("main.c", "kws.c", "kws_kernels.c"):
        assert " ".join(m7) in " ".join(flags[name]), flags[name]
    # a project built for another core keeps its flags and is told the model is not for it
    flags, output = _configure(
        tmp_path, tmp_path / "kws", "m4", f"-DCMAKE_TOOLCHAIN_FILE={bare}", "-DCMAKE_C_FLAGS=-mcpu=cortex-m4 -mthumb"
    )
    assert "-mcpu=cortex-m7" not in flags["kws.c"] and "-mcpu=cortex-m7" not in flags["main.c"]
    assert "CMake Warning" in output and "generated for -mcpu=cortex-m7" in output
    # a host build of a Cortex-M model (DSP intrinsics emulated) gets no Arm flags
    flags, output = _configure(tmp_path, tmp_path / "kws", "host")
    assert not any(f.startswith("-m") for f in flags["kws.c"]) and "Warning" not in output
    assert _opt_levels(flags)["kws.c"] == ["-O2"]


def test_make_fragment_optimisation(kws_qgraph: Graph, tmp_path: Path) -> None:
    generate(kws_qgraph, tmp_path / "kws", name="kws", target=load_target("cortex-m7"))
    (tmp_path / "Makefile").write_text(
        "include kws/kws.mk\nall: $(KWS_SRCS:.c=.o)\n%.o: %.c\n\tcc $(CFLAGS) $(KWS_CFLAGS) -c $< -o $@\n"
    )

    def model_commands(*args: str) -> list[list[str]]:
        proc = subprocess.run(["make", "-n", "-C", tmp_path, *args], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return [line.split() for line in proc.stdout.splitlines() if line.startswith("cc ")]

    for args, expected in (([], "-O2"), (["CFLAGS=-O0 -g"], "-O2"), (["KWS_OPT_FLAGS=-Os"], "-Os")):
        commands = model_commands(*args)
        assert len(commands) == len(list((tmp_path / "kws").rglob("*.c")))
        for words in commands:
            assert [w for w in words if w.startswith("-O")][-1] == expected, words
    assert all("-O" not in " ".join(w) for w in model_commands("KWS_OPT_FLAGS=", "CFLAGS="))
    fragment = (tmp_path / "kws" / "kws.mk").read_text()
    assert "KWS_TARGET_CFLAGS := -mcpu=cortex-m7 -mthumb -mfloat-abi=hard -mfpu=fpv5-d16\n" in fragment


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

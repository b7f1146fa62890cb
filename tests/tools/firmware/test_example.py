"""examples/firmware: the bare-metal firmware a user copies builds both ways (CMake through
add_subdirectory and the shipped toolchain file, Make through the model's fragment), runs
the digits model under QEMU's mps2-an500 and prints exactly the reference's output; the
README's snippets are the example's text, so they link as written."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import EXAMPLE_DIR, REPO

from qcompile.compiler import CompileOptions, compile_model
from qcompile.outdir import ModelFolder
from qcompile.reference.executor import run_quantized
from qcompile.resources import cmake_dir
from qcompile.targets import load_target
from qcompile.tools.firmware import require_tool

FIRMWARE = REPO / "examples" / "firmware"
TARGET = load_target("cortex-m7")


@pytest.fixture(scope="module")
def digits_m7(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fw_example") / "digits-m7"
    options = CompileOptions(calib=EXAMPLE_DIR / "calib.npz", target="cortex-m7", progress=False)
    compile_model(EXAMPLE_DIR / "digits_cnn.onnx", out, options)
    return out


def _builtin_input() -> np.ndarray:
    """The int8 input array written in the example's main.c."""
    found = re.search(r"static const int8_t digit\[[A-Z_]+\] = \{([^}]*)\};", (FIRMWARE / "main.c").read_text())
    assert found, "main.c has no `digit` array"
    return np.array([int(v) for v in found.group(1).replace(",", " ").split()], dtype=np.int8)


def _build_cmake(model: Path, build: Path) -> Path:
    toolchain = cmake_dir() / "arm-none-eabi.cmake"
    for command in (
        [
            "cmake",
            "-S",
            FIRMWARE,
            "-B",
            build,
            f"-DCMAKE_TOOLCHAIN_FILE={toolchain}",
            f"-DQC_CPU_FLAGS={' '.join(TARGET.cpu_flags)}",
            f"-DMODEL_DIR={model}",
        ],
        ["cmake", "--build", build, "-j2"],
    ):
        proc = subprocess.run(command, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return build / "firmware.elf"


def _build_make(model: Path, build: Path) -> Path:
    proc = subprocess.run(
        [require_tool("make"), "-C", FIRMWARE, "-j2", f"MODEL_DIR={model}", f"BUILD={build}"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return build / "firmware.elf"


@pytest.mark.parametrize("build_system", ["cmake", "make"])
def test_firmware_example_runs_the_model(build_system: str, digits_m7: Path, tmp_path: Path) -> None:
    build = _build_cmake if build_system == "cmake" else _build_make
    before = sorted(FIRMWARE.rglob("*"))
    elf = build(digits_m7, tmp_path / "build")
    assert sorted(FIRMWARE.rglob("*")) == before, "the build wrote next to the example's sources"
    assert TARGET.qemu is not None
    proc = subprocess.run(
        [require_tool("qemu-system-arm"), "-M", TARGET.qemu.machine, "-nographic", "-monitor", "none"]
        + ["-serial", "null", "-semihosting-config", "enable=on,target=native", "-kernel", elf],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    graph = ModelFolder.open(digits_m7).graph
    x = _builtin_input().reshape(graph.tensors[graph.inputs[0]].shape)
    expected = np.asarray(run_quantized(graph, [x])[graph.outputs[0]]).reshape(-1)
    # QEMU writes the semihosting console to stderr
    printed = dict(line.split(":", 1) for line in proc.stderr.splitlines() if ":" in line)
    assert [int(v) for v in printed["output"].split()] == expected.tolist(), proc.stderr
    assert int(printed["class"]) == int(np.argmax(expected)) == 3


def _readme_blocks(language: str) -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("## Firmware integration (Cortex-M)", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.S)


@pytest.mark.parametrize(("language", "example"), [("cmake", "CMakeLists.txt"), ("make", "Makefile")])
def test_readme_snippets_are_the_example(language: str, example: str) -> None:
    blocks = _readme_blocks(language)
    assert blocks, f"README's firmware section has no {language} snippet"
    source = (FIRMWARE / example).read_text()
    for block in blocks:
        assert block in source, f"README {language} snippet is not in examples/firmware/{example}:\n{block}"

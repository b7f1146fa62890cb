"""Build a C test driver against runtime sources and compare what it prints with the reference.

Shared by the kernel tests that run C directly (under sanitizers, or with call patterns the
Cython binding cannot reach such as strided or in-place buffers): each driver prints one
line of integers per case, in the order of ``expected``.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from qcompile.ir import Graph

REPO = Path(__file__).resolve().parent.parent


SANITIZER_FLAGS = ("-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer", "-g", "-O1")


def sanitizing_gcc(tmp_path: Path) -> tuple[str, list[str]]:
    """(gcc, flags) for an ASan + UBSan build; skips the test when gcc or its sanitizer
    runtime is missing."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc not found")
    probe = tmp_path / "probe.c"
    probe.write_text("int main(void) { return 0; }\n")
    flags = list(SANITIZER_FLAGS)
    if subprocess.run([gcc, *flags, str(probe), "-o", str(tmp_path / "probe")], capture_output=True).returncode:
        pytest.skip("gcc lacks the address/undefined sanitizer runtime")
    return gcc, flags


def run_c_driver(
    tmp_path: Path,
    gcc: str,
    flags: Sequence[str],
    driver_source: str,
    sources: Sequence[Path],
    expected: Sequence[np.ndarray],
) -> None:
    """Compile ``driver_source`` with ``sources``, run it, and check each printed line
    equals the matching ``expected`` array element for element."""
    driver = tmp_path / "driver.c"
    driver.write_text(driver_source)
    exe = tmp_path / "driver"
    build = subprocess.run(
        [
            gcc,
            "-std=c99",
            *flags,
            f"-I{REPO / 'runtime_c' / 'include'}",
            str(driver),
            *map(str, sources),
            "-o",
            str(exe),
        ],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.strip().splitlines()
    assert len(lines) == len(expected)
    for line, want in zip(lines, expected, strict=True):
        np.testing.assert_array_equal(np.array(line.split(), dtype=np.int64), want.reshape(-1).astype(np.int64))


# ---- guarded kernel driver: every runtime kernel, every array at the end of its allocation


class Out:
    """An int8 output block of ``size`` bytes (or, with ``alias``, the bytes of an earlier
    block: an in-place call)."""

    def __init__(self, size: int, alias: int | None = None) -> None:
        self.size = size
        self.alias = alias


class Out16(Out):
    """An int16 output block of ``size`` elements (the 16x8 kernels)."""


NULL = None  # a NULL pointer block (an absent bias)


def flat_struct(fields: dict) -> np.ndarray:
    """A parameter struct's field dict (``qcompile.ops.structs``) as the int32 block the driver
    copies into the C struct (array fields flattened in place)."""
    values: list[int] = []
    for v in fields.values():
        values += list(v) if isinstance(v, list | tuple) else [v]
    return np.array(values, np.int32)


_KINDS = {np.dtype(np.int8): "b", np.dtype(np.int32): "w", np.dtype(np.int16): "h", np.dtype(np.int64): "q"}


def _block(value: object) -> str:
    if value is None:
        return "n"
    if isinstance(value, Out16):
        return f"O {value.size}"
    if isinstance(value, Out):
        return f"o {value.size}" if value.alias is None else f"a {value.alias}"
    arr = np.asarray(value)
    kind = _KINDS.get(arr.dtype)
    if kind is None:
        raise TypeError(f"driver blocks are int8, int16, int32 or int64, got {arr.dtype}")
    flat = arr.reshape(-1)
    return f"{kind} {flat.size} " + " ".join(map(str, flat.tolist()))


class KernelDriver:
    """tests/c/qc_kernel_driver.c built once with every runtime source under ASan + UBSan:
    ``run`` calls one kernel per case with guarded arrays and returns its outputs."""

    def __init__(self, exe: Path) -> None:
        self.exe = exe

    def run_many(self, cases: Sequence[tuple[str, Sequence[object]]]) -> list[tuple[int, list[np.ndarray]]]:
        """(status, outputs) of each ``(kernel, blocks)`` case, all in one process."""
        text = "\n".join(f"{kernel}\n" + "\n".join(_block(b) for b in blocks) + "\nend" for kernel, blocks in cases)
        run = subprocess.run([str(self.exe)], input=text, capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, f"kernel driver failed (exit {run.returncode}):\n{run.stderr[-6000:]}"
        results: list[tuple[int, list[np.ndarray]]] = []
        outs: list[np.ndarray] = []
        for line in run.stdout.splitlines():
            if line.startswith("ok "):
                results.append((int(line.split()[1]), outs))
                outs = []
            elif line.startswith("h:"):
                outs.append(np.array(line[2:].split(), dtype=np.int64).astype(np.int16))
            else:
                outs.append(np.array(line.split(), dtype=np.int64).astype(np.int8))
        assert len(results) == len(cases), run.stdout[-2000:]
        return results

    def run(self, kernel: str, blocks: Sequence[object]) -> list[np.ndarray]:
        """Outputs of one call that must succeed (status QC_OK)."""
        ((status, outs),) = self.run_many([(kernel, blocks)])
        assert status == 0, f"{kernel} returned status {status}"
        return outs


def build_kernel_driver(tmp_path: Path) -> KernelDriver:
    """Compile the guarded driver with all of ``runtime_c/src`` under the sanitizers (skips
    like :func:`sanitizing_gcc` when they are unavailable)."""
    gcc, flags = sanitizing_gcc(tmp_path)
    exe = tmp_path / "qc_kernel_driver"
    sources = sorted((REPO / "runtime_c" / "src").glob("*.c"))
    build = subprocess.run(
        [gcc, "-std=c99", "-Wall", "-Wextra", "-Werror", *flags, f"-I{REPO / 'runtime_c' / 'include'}"]
        + [str(REPO / "tests" / "c" / "qc_kernel_driver.c"), *map(str, sources), "-o", str(exe)],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr
    return KernelDriver(exe)


# ---- whole generated models under the sanitizers ----------------------------------------


def check_model_sanitized(
    folder: Path, tmp_path: Path, *, graph: Graph | None = None, samples: int = 3, seed: int = 0
) -> None:
    """Build a generated output folder with ASan + UBSan into tests/c/qc_model_driver.c
    (inputs, outputs and the arena each at the end of a guarded mapping; weights are
    globals with ASan redzones), run it on random int8 samples and compare every output
    with the numpy reference run of ``graph`` (default: the folder's ``model.qir``)."""
    import json

    from qcompile.ir_io import load_graph
    from qcompile.reference.executor import initial_state, next_state, run_quantized

    gcc, flags = sanitizing_gcc(tmp_path)
    c_name = json.loads((folder / "report.json").read_text())["c_name"]
    if graph is None:
        graph, _ = load_graph(folder / "model.qir")
    exe = tmp_path / f"{c_name}_sanitized"
    sources = sorted(folder.glob("*.c")) + sorted((folder / "runtime").glob("*.c"))
    build = subprocess.run(
        [gcc, "-std=c99", "-Wall", "-Wextra", "-Werror", *flags, f"-DQC_MODEL={c_name}", f"-I{folder}"]
        + [f"-I{folder / 'runtime'}", str(REPO / "tests" / "c" / "qc_model_driver.c"), *map(str, sources)]
        + ["-o", str(exe)],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr
    rng = np.random.default_rng(seed)
    inputs, outputs = graph.user_inputs, graph.user_outputs  # a streaming model keeps its state inside
    ins = [[rng.integers(-128, 128, graph.tensors[n].shape).astype(np.int8) for n in inputs] for _ in range(samples)]
    head = [len(inputs), *(graph.tensors[n].size for n in inputs)]
    head += [len(outputs), *(graph.tensors[n].size for n in outputs)]
    body = [" ".join(map(str, x.reshape(-1).tolist())) for sample in ins for x in sample]
    run = subprocess.run(
        [str(exe)], input=" ".join(map(str, head)) + "\n" + "\n".join(body) + "\n", capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, f"{c_name} under the sanitizers (exit {run.returncode}):\n{run.stderr[-6000:]}"
    lines = run.stdout.splitlines()
    assert len(lines) == samples * len(outputs)
    # the samples are one sequence of calls (the state, if any, carries over), as the driver runs them
    state = initial_state(graph)
    for s, sample in enumerate(ins):
        want = run_quantized(graph, sample + state)
        state = next_state(graph, state, want)
        for o, name in enumerate(outputs):
            got = np.array(lines[s * len(outputs) + o].split(), dtype=np.int64)
            expected = want[name].reshape(-1).view(np.int8).astype(np.int64)
            np.testing.assert_array_equal(got, expected, err_msg=f"sample {s} {name}")

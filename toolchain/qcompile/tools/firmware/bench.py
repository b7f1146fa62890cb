"""Executed-instruction counts per layer under QEMU, kernel families side by side.

For each kernel family the quantized graph saved in a model folder (``model.qir``) is
generated again with that family, built with per-layer timing hooks and run in the
target's QEMU machine under ``-icount shift=0``. Counts are deterministic (the same
binary on the same inputs executes the same instructions), so two runs print the same
table; their resolution is one SysTick tick (see :mod:`qcompile.tools.firmware.qemu`). Every
family's outputs are also checked against the numpy reference: a fast wrong kernel is
reported, not ranked.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qcompile.codegen.families import family_names
from qcompile.errors import QCompileError
from qcompile.targets import Target
from qcompile.tools.firmware.build import read_report
from qcompile.tools.firmware.qemu import QemuResult, run_on_qemu


@dataclass
class FamilyBench:
    """One kernel family: per-layer and total instructions (median over the samples)."""

    family: str
    layer_instructions: list[int]
    total_instructions: int
    bit_exact: int
    samples: int
    raw: QemuResult = field(repr=False)


@dataclass
class BenchResult:
    target: str
    layers: list[dict[str, Any]]
    families: list[FamilyBench]


def default_families(target: Target) -> list[str]:
    """``portable`` first (the baseline), then the target's own family if different."""
    return list(dict.fromkeys(["portable", target.kernel_family]))


def random_inputs(graph: Any, samples: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [
        rng.integers(-128, 128, size=(samples, *graph.tensors[name].shape[1:]), dtype=np.int8) for name in graph.inputs
    ]


def bench(
    out_dir: Path,
    target: Target,
    *,
    families: Sequence[str] | None = None,
    samples: int = 1,
    inputs: list[np.ndarray] | None = None,
    build_dir: Path | None = None,
) -> BenchResult:
    """Per-layer instruction counts of ``out_dir``'s model on ``target`` for each kernel family."""
    from qcompile.codegen import generate
    from qcompile.tools.verify import bit_exact_result, load_compiled, reference_outputs

    out_dir = Path(out_dir)
    graph, meta = load_compiled(out_dir)
    families = list(families) if families else default_families(target)
    unknown = [f for f in families if f not in family_names()]
    if unknown:
        raise QCompileError(f"unknown kernel families {unknown}; known: {', '.join(family_names())}")
    if inputs is None:
        inputs = random_inputs(graph, samples)
    n = len(inputs[0])
    expected = reference_outputs(graph, inputs)

    base = Path(build_dir) if build_dir is not None else out_dir / "build" / f"bench-{target.name}"
    results: list[FamilyBench] = []
    layers: list[dict[str, Any]] = []
    for family in families:
        variant = dataclasses.replace(target, kernel_family=family)
        src = base / family / "src"
        generate(graph, src, name=str(meta.get("name", meta["c_name"])), target=variant)
        layers = read_report(src)["layers"]
        run = run_on_qemu(src, variant, inputs, layer_counts=True, build_dir=base / family / "build")
        assert run.layer_instructions is not None
        exact = bit_exact_result(expected, run.outputs).bit_exact
        results.append(
            FamilyBench(
                family=family,
                layer_instructions=[int(v) for v in np.median(run.layer_instructions, axis=0)],
                total_instructions=int(np.median(run.total_instructions)),
                bit_exact=int(exact),
                samples=n,
                raw=run,
            )
        )
    return BenchResult(target=target.name, layers=layers, families=results)

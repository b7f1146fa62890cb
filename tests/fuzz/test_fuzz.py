"""Seeded fuzz run of the compile command on mutated ONNX, TFLite and calibration files.

A bounded run (``QC_FUZZ_CASES``, default 2000 cases in two worker processes
(``QC_FUZZ_JOBS``), about two minutes on two idle cores) is part of the normal suite; set
``QC_FUZZ_CASES=20000`` (and ``QC_FUZZ_SEED``) for a larger run, and
``QC_FUZZ_REPORT=file.json`` to keep the outcome counts. Every case must
end with exit code 0, 1 or 2, no traceback, and nothing left behind on failure.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable
from pathlib import Path

import onnx
import pytest
from fuzz import fuzz_cases as fc
from fuzz.fuzz_harness import Case, compile_argv, run_batch, summarize

REPO = Path(__file__).resolve().parents[2]
DIGITS = REPO / "examples" / "digits"
CASES = int(os.environ.get("QC_FUZZ_CASES", "2000"))
JOBS = int(os.environ.get("QC_FUZZ_JOBS", "2"))
SEED = int(os.environ.get("QC_FUZZ_SEED", "2026"))


def _tflite_seed() -> bytes | None:
    try:
        return fc.small_tflite()
    except ImportError:
        return None


KINDS = ["onnx_bytes", "onnx_struct", "onnx_struct", "calib", "inspect", "tflite_bytes", "tflite_struct"]


def generate_cases(root: Path, n: int, seed: int) -> list[Case]:
    """The hostile calibration files, then ``n`` cases in fixed proportions (``KINDS``): ONNX
    bytes, ONNX structure (twice), calibration bytes, ``qcompile inspect`` of a mutated ONNX
    model, TFLite bytes, TFLite structure (the last two only with tflite_micro installed)."""
    r = random.Random(seed)
    small = fc.small_cnn()
    small_calib = fc.write(root / "seeds" / "small.npz", fc.calib_npz((3, 8, 8)))
    onnx_seeds = [(small, small_calib), (onnx.load(DIGITS / "digits_cnn.onnx"), DIGITS / "calib.npz")]
    tflite = _tflite_seed()
    kinds = [k for k in KINDS if tflite or not k.startswith("tflite")]
    cases = []
    for name, data in fc.hostile_calibrations((3, 8, 8)).items():
        calib = fc.write(root / "calib" / f"{name}.npz", data)
        model = fc.write(root / "m" / f"calib-{name}.onnx", small.SerializeToString())
        cases.append(_case(root, f"calib-{name}", compile_argv, model, calib))
    for i in range(max(0, n - len(cases))):
        kind = kinds[i % len(kinds)]
        cid = f"{kind}-{i}"
        model, calib = onnx_seeds[r.randrange(len(onnx_seeds))]
        raw = model.SerializeToString()
        if kind.startswith("tflite"):
            data = fc.mutate_bytes(tflite, r) if kind == "tflite_bytes" else fc.mutate_tflite(tflite, r)
            cases.append(_case(root, cid, compile_argv, fc.write(root / "m" / f"{cid}.tflite", data), None))
            continue
        if kind == "calib":
            calib = fc.write(root / "calib" / f"{cid}.npz", fc.mutate_bytes(calib.read_bytes(), r))
            data = raw
        elif kind == "onnx_bytes" or (kind == "inspect" and r.random() < 0.5):
            data = fc.mutate_bytes(raw, r)
        else:
            data = fc.mutate_onnx(model, r)
        argv = _inspect_argv if kind == "inspect" else compile_argv
        cases.append(_case(root, cid, argv, fc.write(root / "m" / f"{cid}.onnx", data), calib))
    return cases


def _inspect_argv(model: Path, case_dir: Path, calib: Path | None) -> list[str]:
    return ["inspect", str(model)]


def _case(root: Path, cid: str, argv: Callable[[Path, Path, Path | None], list[str]], model: Path, calib) -> Case:
    case_dir = root / "runs" / cid
    case_dir.mkdir(parents=True)
    return Case(cid, argv(model, case_dir, calib), str(case_dir))


def test_fuzz_compile(tmp_path: Path) -> None:
    if CASES <= 0:
        pytest.skip("QC_FUZZ_CASES=0")
    cases = generate_cases(tmp_path, CASES, SEED)
    outcomes = run_batch(cases, jobs=JOBS)
    counts = summarize(outcomes)
    print(f"fuzz: {len(outcomes)} cases (seed {SEED}): {counts}")
    if os.environ.get("QC_FUZZ_REPORT"):
        Path(os.environ["QC_FUZZ_REPORT"]).write_text(
            json.dumps({"seed": SEED, "cases": len(outcomes), "outcomes": counts}, indent=1)
        )
    assert len(outcomes) == len(cases)
    bad = [o for o in outcomes if not o.ok]
    report = "\n".join(f"{o.id}: {o.code} {o.leftover} {o.stderr[-1500:]}" for o in bad[:8])
    assert not bad, f"{len(bad)} of {len(outcomes)} cases crashed, hung or left files:\n{report}"
    assert counts.get("0", 0) > 0 and counts.get("1", 0) > 0  # the run exercised both ends

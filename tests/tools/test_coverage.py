"""docs/COVERAGE.md is generated from the importers' supported-op lists and must be current."""

from __future__ import annotations

from pathlib import Path

from qcompile.frontends import onnx_import, tflite_import
from qcompile.tools import coverage

DOC = Path(__file__).resolve().parents[2] / "docs" / "COVERAGE.md"  # the checkout's, also when qcompile is installed


def test_coverage_doc_is_up_to_date() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert text == coverage.coverage_markdown(), (
        "docs/COVERAGE.md is out of date: run `python3 -m qcompile.tools.coverage --write` and commit it"
    )


def test_every_accepted_op_is_in_the_table() -> None:
    text = coverage.coverage_markdown()
    for op in onnx_import.supported_ops():
        assert f"| {op} | yes |" in text, op
    for op in tflite_import.supported_ops():
        assert f"| {op} | yes |" in text, op
    assert "| ReduceMin | **no** |" in text  # a gap is named


def test_tflm_builtins_are_distinct() -> None:
    assert len(set(coverage.TFLM_BUILTINS)) == len(coverage.TFLM_BUILTINS) == 101

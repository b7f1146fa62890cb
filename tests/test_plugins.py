"""The op plug-in registries: a module in a plug-in package is found, two handlers for one
op are refused, and each stage's dispatch consults its registry."""

from __future__ import annotations

import pytest

from qcompile.codegen import lowering
from qcompile.codegen.lowerings import LOWERINGS
from qcompile.errors import QCompileError
from qcompile.frontends import onnx_import, tflite_import
from qcompile.frontends.onnx_ops import ONNX_OPS
from qcompile.plugins import Registry


def test_registry_refuses_two_handlers_for_one_op() -> None:
    reg: Registry = Registry("qcompile.frontends.onnx_ops", "test")
    reg.register("X")(lambda: None)
    with pytest.raises(QCompileError, match="two test handlers for 'X'"):
        reg.register("X")(lambda: None)


def test_registry_loads_every_module_of_its_package(tmp_path, monkeypatch) -> None:
    pkg = tmp_path / "qc_fake_plugins"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from qcompile.plugins import Registry\nREG = Registry(__name__, 'fake')\n")
    (pkg / "max_min.py").write_text(
        "from qc_fake_plugins import REG\n@REG.register('Max', 'Min', problem='p')\ndef convert():\n    return 1\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import qc_fake_plugins

    assert list(qc_fake_plugins.REG) == ["Max", "Min"]
    assert qc_fake_plugins.REG.get("Max")() == 1 and qc_fake_plugins.REG.extra("Min") == {"problem": "p"}
    assert "Abs" not in qc_fake_plugins.REG


def test_supported_op_lists_include_plugins(monkeypatch) -> None:
    monkeypatch.setitem(ONNX_OPS._handlers, "QcTestOp", lambda *a: None)
    assert "QcTestOp" in onnx_import.supported_ops() and "Conv" in onnx_import.supported_ops()
    assert "CONV_2D" in tflite_import.supported_ops()
    monkeypatch.setitem(LOWERINGS._handlers, "qc_test_op", lambda *a: 0)
    assert {"qc_test_op", "conv2d"} <= lowering.supported_ops()

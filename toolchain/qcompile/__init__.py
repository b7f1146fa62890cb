"""qcompile: compile trained models into int8 C for microcontrollers, bit-exact with a numpy reference.

The public API (``docs/API.md``): :func:`compile`, :func:`load`, :class:`CompiledModel`,
:class:`TensorInfo`, and :func:`qcompile.testing.assert_bit_exact`.
"""

__version__ = "0.1.0"

from qcompile.api import CompiledModel, TensorInfo, compile, load  # noqa: E402

__all__ = ["CompiledModel", "TensorInfo", "__version__", "compile", "load"]

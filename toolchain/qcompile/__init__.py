"""qcompile: compile trained models into int8 C for microcontrollers, bit-exact with a numpy reference.

The public API (``docs/API.md``): :func:`compile`, :func:`load`, :class:`CompiledModel`,
:class:`TensorInfo`, and :func:`qcompile.testing.assert_bit_exact`.
"""

from qcompile.api import CompiledModel, TensorInfo, compile, load
from qcompile.version import __version__

__all__ = ["CompiledModel", "TensorInfo", "__version__", "compile", "load"]

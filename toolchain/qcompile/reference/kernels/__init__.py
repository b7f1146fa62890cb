"""Quantized reference kernels as plug-ins: a module here defines functions named after
the quantized ops they compute (``def maximum(a, b, *, ...)``), with exactly the keyword
arguments of the op's schema entry in :mod:`qcompile.ops`. The executor finds them after
the built-in modules (``reference/conv.py``, ``ops.py``, ``fused.py``, ``reduce.py``)."""

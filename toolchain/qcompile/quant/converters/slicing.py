"""``strided_slice`` needs no integer parameters: it moves bytes, and its output shares the
input's scale and zero point (``quantize.SHARES_INPUT_PARAMS``)."""

from __future__ import annotations

from qcompile.quant.converters import QUANT_CONVERTERS


@QUANT_CONVERTERS.register("strided_slice")
def keep_slice(graph, node) -> None:
    return None

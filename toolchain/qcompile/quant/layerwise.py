"""Calibration samples as IR inputs, and the float IR run on them, for the PTQ steps that
compare float and int8 layer by layer (bias correction, AdaRound).

Those steps hold every activation of the samples they use, so they take a bounded
number of samples (``max_samples``) rather than the whole calibration set: a per-channel
mean or a rounding choice is well estimated from a few dozen samples.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from qcompile.ir import Graph, Node


def ir_sample_inputs(graph: Graph, data: Mapping[str, np.ndarray], max_samples: int) -> list[dict[str, np.ndarray]]:
    """The first ``max_samples`` calibration samples (source layout, as
    :func:`~qcompile.quant.calibration.load_calibration_data` returns them) as
    ``{IR input name: array}`` in the IR's physical layout, one dict per sample."""
    n = min(max_samples, len(next(iter(data.values()))))
    samples = []
    for i in range(n):
        inputs = {}
        for ir_name in graph.inputs:
            t = graph.tensors[ir_name]
            x = np.asarray(data[t.source_name or ir_name][i : i + 1], dtype=np.float32)
            x = x.reshape(t.source_shape) if t.source_shape else x
            inputs[ir_name] = x.transpose(t.source_perm) if t.source_perm is not None else x
        samples.append(inputs)
    return samples


def float_activations(graph: Graph, samples: list[dict[str, np.ndarray]]) -> list[dict[str, np.ndarray]]:
    """Every tensor's float value on each sample (the float IR executor, keep_all)."""
    from qcompile.reference.executor import run_float

    return [run_float(graph, s, keep_all=True) for s in samples]


def linear_attrs(node: Node) -> dict:
    """A conv/depthwise/FC node's float attributes without its fused activation: the
    layer's pre-activation output is what its weights and bias determine."""
    return {k: v for k, v in node.attrs.items() if k != "act_range"}

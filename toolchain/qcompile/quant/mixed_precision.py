"""Mixed precision search: the fewest tensors in int16 (TFLite 16x8) that meet an accuracy target.

``--accuracy-target`` (docs/QUANTIZATION.md, "Mixed precision search") is an output SQNR
in dB against the float model (``30`` or ``sqnr=30``) or, with labelled calibration data,
a maximum top-1 drop in points (``top1-drop=0.5``), measured on the first
:data:`SEARCH_SAMPLES` calibration samples with the numpy reference (the spec the C
matches bit for bit).

The decision is per activation tensor: a tensor kept in int16 is written by a 16x8 layer
and read by 16x8 layers (its producer and its readers compute in int16; a reader's own
output is then int16 too, and converted back to int8 for int8 readers). A tensor alone in
int16 with int8 readers would only be requantized to int8 again, so this is the smallest
promotion that removes a tensor's int8 rounding. The search:

1. int8 meets the target: nothing is promoted.
2. every candidate in int16 does not: the compile fails, naming both figures.
3. sensitivity: each candidate promoted alone, its gain over int8;
4. candidates are added in order of gain until the target is met;
5. then each promoted candidate whose removal still meets the target is dropped (fewest).

Graph inputs and outputs are candidates too (the C API then takes or gives ``int16_t``
for them, as ``--act-bits 16`` does; the header's ``_TYPE`` macros say which); tensors
next to an op without a 16x8 kernel are not.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial

import numpy as np

from qcompile.errors import QCompileError
from qcompile.ir import Graph
from qcompile.progress import progress_bar
from qcompile.quant.quantize import _S16_OPS, QuantConfig, quantize
from qcompile.reference.node_cache import NodeCache

#: calibration samples the search evaluates each candidate on
SEARCH_SAMPLES = 200
#: samples run one at a time to check that a batched run gives their results
_CHECKED = 4
_METRICS = ("sqnr", "top1-drop")


@dataclass(frozen=True)
class AccuracyTarget:
    """``sqnr``: output SQNR against float at least ``value`` dB; ``top1-drop``: top-1
    (labelled calibration data) at most ``value`` points below the float model's."""

    metric: str
    value: float

    def met(self, score: float) -> bool:
        return score >= (self.value if self.metric == "sqnr" else -self.value)

    def describe(self, score: float) -> str:
        if self.metric == "sqnr":
            return f"{score:.1f} dB"
        return f"top-1 drop {-score:.2f} points"

    def __str__(self) -> str:
        return f"SQNR >= {self.value:g} dB" if self.metric == "sqnr" else f"top-1 drop <= {self.value:g} points"


def parse_accuracy_target(spec: str | float | AccuracyTarget) -> AccuracyTarget:
    """``30`` / ``sqnr=30`` (dB) or ``top1-drop=0.5`` (points)."""
    if isinstance(spec, AccuracyTarget):
        return spec
    text = str(spec).strip()
    metric, _, value = text.rpartition("=")
    metric = metric.strip().lower() or "sqnr"
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if metric not in _METRICS or not np.isfinite(number) or (metric == "top1-drop" and number < 0):
        raise QCompileError(
            f"--accuracy-target {text!r}: give an output SQNR in dB (e.g. 30 or sqnr=30) or, with labelled "
            "calibration data, a maximum top-1 drop in points (top1-drop=0.5)"
        )
    return AccuracyTarget(metric, number)


@dataclass
class SearchResult:
    """What the search chose and measured (``report.json`` ``mixed_precision``)."""

    target: AccuracyTarget
    int8_score: float
    int16_score: float
    score: float
    promoted_tensors: list[str] = field(default_factory=list)
    act_bits_for: dict[str, int] = field(default_factory=dict)
    sensitivity: dict[str, float] = field(default_factory=dict)
    evaluations: int = 0
    samples: int = 0

    def as_report(self) -> dict:
        unit = "dB" if self.target.metric == "sqnr" else "top-1 points (negative drop)"
        return {
            "target": {"metric": self.target.metric, "value": self.target.value},
            "unit": unit,
            "int8": _finite(self.int8_score),
            "all_int16": _finite(self.int16_score),
            "achieved": _finite(self.score),
            "promoted_tensors": list(self.promoted_tensors),
            "sensitivity": {k: _finite(v) for k, v in self.sensitivity.items()},
            "evaluations": self.evaluations,
            "samples": self.samples,
        }


def _finite(x: float) -> float | None:
    return round(float(x), 3) if np.isfinite(x) else None


def candidates(graph: Graph) -> list[str]:
    """Activation tensors the search may keep in int16, in graph order: graph inputs and
    outputs of ops with a 16x8 kernel, read only by such ops (a graph input or output
    kept in int16 makes that C API buffer ``int16_t``)."""
    result = [n for n in graph.inputs if graph.consumers(n) and _all_s16(graph.consumers(n))]
    for node in graph.nodes:
        if node.op in _S16_OPS:
            result += [n for n in node.outputs if _all_s16(graph.consumers(n))]
    return result


def _all_s16(readers) -> bool:
    return all(r.op in _S16_OPS for r in readers)


def promotion(graph: Graph, tensors: Sequence[str]) -> dict[str, int]:
    """``act_bits_for`` keeping ``tensors`` in int16: each tensor and its readers' outputs."""
    bits = {}
    for name in tensors:
        bits[name] = 16
        for reader in graph.consumers(name):
            bits.update(dict.fromkeys(reader.outputs, 16))
    return bits


def batched(graph: Graph, n: int) -> Graph | None:
    """A copy of ``graph`` that runs ``n`` samples at once (batch axis 0 of every activation
    and of every reshape target), or None when the graph has no batch axis 1 to widen or
    carries state from call to call."""
    if graph.state or any(graph.tensors[i].shape[:1] != (1,) for i in graph.inputs):
        return None
    wide = graph.copy()
    for t in wide.activations():
        if t.shape[:1] == (1,):
            t.shape = (n, *t.shape[1:])
    for node in wide.nodes:
        if node.op == "reshape" and tuple(node.attrs["shape"])[:1] == (1,):
            node.attrs = {**node.attrs, "shape": (n, *tuple(node.attrs["shape"])[1:])}
    return wide


class _Scorer:
    """The target's metric of a set of int16 tensors, on the first calibration samples.

    The samples run as one batch through a widened copy of each graph (numpy is an order of
    magnitude faster on a batch); the first graph is also run one sample at a time, and a
    model whose batched outputs differ from that (a batch-sensitive op) is run per sample.
    Candidate graphs differ only downstream of the tensors whose precision changed: every
    quantized run goes through one :class:`~qcompile.reference.node_cache.NodeCache`, so
    each evaluation computes only the nodes no earlier evaluation computed the same way."""

    def __init__(self, graph, ranges, config, data, target: AccuracyTarget, labels, reuse: bool = True) -> None:
        from qcompile.quant.layerwise import ir_sample_inputs

        self.graph, self.ranges, self.config, self.target = graph, ranges, config, target
        self.samples = ir_sample_inputs(graph, data, SEARCH_SAMPLES)
        self.batch = {n: np.concatenate([s[n] for s in self.samples]) for n in graph.inputs}
        self.use_batch = True
        self.cache = NodeCache() if reuse else None
        self.checked: dict[bool, bool] = {}
        self.floats = self._run(graph, self.batch, quantized=False)
        self.labels = None if labels is None else np.asarray(labels).reshape(-1)[: len(self.samples)]
        if target.metric == "top1-drop":
            if self.labels is None or len(self.labels) < len(self.samples):
                raise QCompileError(
                    f"--accuracy-target {target.metric}={target.value:g} needs labels for the calibration samples: "
                    "an integer array in the calibration file (--labels KEY; default y, labels or label)"
                )
            self.float_top1 = self._top1(self.floats[graph.outputs[0]])
        self.evaluations = 0

    def _run(self, graph: Graph, inputs: Mapping[str, np.ndarray], *, quantized: bool) -> dict[str, np.ndarray]:
        """Outputs ``[n, ...]`` by name: batched, unless the first run shows that the batch
        changes the first samples' results (exact for the integer graph, within float
        rounding for the float one), then one sample at a time."""
        from qcompile.reference.executor import run_float, run_quantized

        run = partial(run_quantized, cache=self.cache) if quantized else run_float

        def one_by_one(count: int) -> dict[str, np.ndarray]:
            rows = [run(graph, {k: v[i : i + 1] for k, v in inputs.items()}) for i in range(count)]
            return {o: np.concatenate([r[o] for r in rows]) for o in graph.outputs}

        if not self.use_batch:
            return one_by_one(len(self.samples))
        wide = batched(graph, len(self.samples))
        try:
            result = None if wide is None else run(wide, inputs)
        except QCompileError:
            result = None
        if result is not None and self.checked.get(quantized):
            return result
        probe = one_by_one(min(_CHECKED, len(self.samples)))
        same = np.array_equal if quantized else (lambda a, b: np.allclose(a, b, rtol=1e-4, atol=1e-5))
        if result is None or any(not same(result[o][: len(probe[o])], probe[o]) for o in graph.outputs):
            self.use_batch = False
            return one_by_one(len(self.samples))
        self.checked[quantized] = True
        return result

    def _top1(self, outputs: np.ndarray) -> float:
        predicted = outputs.reshape(len(outputs), -1).argmax(axis=1)
        return 100.0 * float(np.mean(predicted == self.labels))

    def quantized(self, tensors: Sequence[str]) -> Graph:
        bits_for = {**self.config.act_bits_for, **promotion(self.graph, tensors)}
        return quantize(self.graph, self.ranges, replace(self.config, act_bits_for=bits_for))

    def __call__(self, tensors: Sequence[str]) -> float:
        from qcompile.metrics import sqnr_from_power

        qgraph = self.quantized(tensors)
        q_in = {n: qgraph.tensors[n].quant.quantize(self.batch[n]) for n in qgraph.inputs}
        out = self._run(qgraph, q_in, quantized=True)
        self.evaluations += 1
        signal = noise = 0.0
        for name in qgraph.outputs:
            got = qgraph.tensors[name].quant.dequantize(out[name]).astype(np.float64)
            want = self.floats[name].astype(np.float64)
            signal += float(np.sum(want * want))
            noise += float(np.sum((want - got) ** 2))
        if self.target.metric == "sqnr":
            return sqnr_from_power(signal, noise)
        first = qgraph.outputs[0]
        return self._top1(qgraph.tensors[first].quant.dequantize(out[first])) - self.float_top1


def search(
    graph: Graph,
    ranges: Mapping[str, tuple[float, float]],
    data: Mapping[str, np.ndarray],
    config: QuantConfig,
    target: AccuracyTarget,
    *,
    labels: np.ndarray | None = None,
    progress: bool = False,
    reuse: bool = True,
) -> SearchResult:
    """The fewest int16 tensors meeting ``target`` on the calibration data (module docstring).
    ``reuse=False`` runs every candidate graph in full (no :class:`NodeCache`): the same
    results, slower; the tests and ``bench/bench_mixed_precision.py`` compare the two."""
    score = _Scorer(graph, ranges, config, data, target, labels, reuse)
    pool = candidates(graph)
    int8 = score([])
    result = SearchResult(target, int8, float("nan"), int8, samples=len(score.samples))
    if target.met(int8):
        result.evaluations = score.evaluations
        return result
    result.int16_score = score(pool)
    if not pool or not target.met(result.int16_score):
        raise QCompileError(
            f"--accuracy-target: {target} is out of reach on the calibration data: int8 gives "
            f"{target.describe(int8)} and every layer that has a 16x8 kernel in int16 "
            f"({len(pool)} tensors) {target.describe(result.int16_score)}; lower the target, or improve "
            "int8 first (--bias-correction, --observer, more representative calibration data)"
        )
    with progress_bar(progress, len(pool), "precision search: sensitivity") as advance:
        for name in pool:
            result.sensitivity[name] = score([name]) - int8
            advance()
    ranked = sorted(pool, key=lambda n: -result.sensitivity[n])
    chosen, best = _grow(ranked, score, target, progress)
    chosen, best = _shrink(chosen, best, score, target, result.sensitivity, progress)
    result.promoted_tensors = [n for n in pool if n in chosen]
    result.act_bits_for = promotion(graph, result.promoted_tensors)
    result.score, result.evaluations = best, score.evaluations
    return result


def _grow(ranked: list[str], score: Callable, target: AccuracyTarget, progress: bool) -> tuple[list[str], float]:
    """Add candidates in order of gain until the target is met (the last one, all, meets it)."""
    chosen: list[str] = []
    best = float("nan")
    with progress_bar(progress, len(ranked), "precision search: promoting") as advance:
        for name in ranked:
            chosen.append(name)
            best = score(chosen)
            advance()
            if target.met(best):
                break
    return chosen, best


def _shrink(
    chosen: list[str], best: float, score: Callable, target: AccuracyTarget, gain: Mapping[str, float], progress: bool
) -> tuple[list[str], float]:
    """Drop each promoted tensor (least gain first) whose removal still meets the target."""
    kept = list(chosen)
    if len(kept) < 2:
        return kept, best
    with progress_bar(progress, len(chosen), "precision search: pruning") as advance:
        for name in sorted(chosen, key=lambda n: gain[n]):
            trial = [n for n in kept if n != name]
            if trial:
                value = score(trial)
                if target.met(value):
                    kept, best = trial, value
            advance()
    return kept, best


def precision_costs(result: SearchResult, mixed: Graph, report: Mapping, int8_report: Mapping) -> dict:
    """``report.json`` ``mixed_precision``: the search figures, the layers that compute in
    16x8 with what each costs (its int16 outputs' extra bytes in the plan, its int64 bias's
    extra flash), the requantize conversions, and the whole model's RAM and flash against
    the all-int8 build (same target and options)."""
    from qcompile.quant.quantize import WEIGHT_AXIS

    layers, conversions = [], []
    for node in mixed.nodes:
        outs = [mixed.tensors[o] for o in node.outputs]
        if node.op == "requantize":
            conversions.append({"name": node.name, "bytes": sum(t.nbytes for t in outs)})
        elif any(t.dtype == "int16" for t in outs):
            bias = mixed.tensors[node.inputs[2]] if node.op in WEIGHT_AXIS and len(node.inputs) > 2 else None
            layers.append(
                {
                    "name": node.name,
                    "op": node.op,
                    "source_nodes": list(node.source_nodes),
                    "ram_bytes": sum(t.size for t in outs if t.dtype == "int16"),
                    "flash_bytes": (bias.size * 4) if bias is not None and bias.dtype == "int64" else 0,
                }
            )
    ram, ram8 = report.get("ram", {}), int8_report.get("ram", {})
    flash, flash8 = report.get("flash", {}), int8_report.get("flash", {})
    totals = {
        "arena_bytes": [int8_report.get("arena_bytes"), report.get("arena_bytes")],
        "ram_total_bytes": [ram8.get("total_bytes"), ram.get("total_bytes")],
        "flash_total_bytes": [flash8.get("total_bytes"), flash.get("total_bytes")],
        "weights_and_bias_bytes": [
            flash8.get("weights_bytes", 0) + flash8.get("bias_and_multipliers_bytes", 0),
            flash.get("weights_bytes", 0) + flash.get("bias_and_multipliers_bytes", 0),
        ],
        "code_source": flash.get("code_source"),
    }
    return {
        **result.as_report(),
        "layers": layers,
        "requantize": conversions,
        "int8_vs_mixed": totals,
        "instructions": "not measured (qcompile bench DIR counts them per layer under QEMU)",
    }


def measure_instructions(int8_dir, mixed_dir, target, report: Mapping, int8_report: Mapping) -> dict | str:
    """Executed instructions per inference of the all-int8 and the mixed build under the
    target's QEMU machine (one zero input, per-layer hooks), or why they were not measured."""
    import shutil
    import tempfile
    from pathlib import Path

    if target.qemu is None or target.qemu.user or not target.cpu:
        return f"not measured (target {target.name} is not a Cortex-M with a QEMU machine)"
    if shutil.which(target.cc) is None or shutil.which("qemu-system-arm") is None:
        return f"not measured ({target.cc} or qemu-system-arm is not installed)"
    from qcompile.tools.firmware.qemu import run_on_qemu

    counts = {}
    try:
        with tempfile.TemporaryDirectory(prefix="qc-precision-") as tmp:
            for key, folder, rep in (("int8", int8_dir, int8_report), ("mixed", mixed_dir, report)):
                inputs = [np.zeros(_bytes(e), np.int8) for e in rep["inputs"]]
                result = run_on_qemu(Path(folder), target, inputs, layer_counts=True, build_dir=Path(tmp) / key)
                names = [layer["name"] for layer in rep["layers"]]
                per_layer = result.layer_instructions[0] if result.layer_instructions is not None else []
                counts[key] = (int(result.total_instructions[0]), dict(zip(names, map(int, per_layer), strict=False)))
    except QCompileError as exc:
        return f"not measured ({str(exc).splitlines()[0]})"
    return {
        "total": [counts["int8"][0], counts["mixed"][0]],
        "per_layer": {n: [counts["int8"][1].get(n), v] for n, v in counts["mixed"][1].items()},
        "method": f"QEMU {target.qemu.machine}, one inference, per-layer hooks",
    }


def _bytes(entry: Mapping) -> int:
    return int(np.prod(entry["shape"], dtype=np.int64)) * (2 if entry.get("dtype") == "int16" else 1)

"""Calibration: the real-valued range of every activation tensor, from onnxruntime runs.

Why onnxruntime and not the float IR executor: the source model is the ground truth of
what the user trained, and onnxruntime is fast. Every IR activation records the ONNX
tensor holding its values (``Tensor.source_name``, up to layout, which does not change a
range), so one run of a copy of the model with those tensors exposed as outputs gives
every range. IR-only tensors without a source (e.g. the padded input of a
``count_include_pad`` average pool) are observed by running the float IR on the same
samples.

Observers are streamed: a batch updates them and is dropped, so calibrating on thousands
of samples never holds all activations in memory.
"""

from __future__ import annotations

import contextlib
import math
import os
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from qcompile.errors import QCompileError
from qcompile.ir import Graph
from qcompile.limits import MAX_CALIBRATION_BYTES
from qcompile.progress import progress_bar
from qcompile.quant.observers import (  # noqa: F401  (re-exported: the observers' historical home)
    MinMaxObserver,
    Observer,
    PercentileObserver,
    make_observer,
)
from qcompile.sample_axis import as_samples, checked_samples, fmt_samples, leading_batch, sample_shape

BATCH = 32
BATCH_BYTES = 256 << 20  # activations of one onnxruntime run
_FALLBACK_KEYS = ("x", "input", "inputs", "data")


# ----------------------------------------------------------------------------------------
# data
# ----------------------------------------------------------------------------------------
def load_calibration_data(
    source: str | os.PathLike[str] | Mapping[str, np.ndarray], graph: Graph
) -> dict[str, np.ndarray]:
    """Read calibration samples: ``{source input name: float32 [N, *sample]}`` (NCHW).

    ``source`` is an ``.npz`` file or (from the Python API) arrays already in memory; both
    are checked by the same rules. The file holds one array per model input, keyed by the
    input's source name; a single-input model may use any single array (or one named
    x/input/inputs/data). The first axis counts samples; each sample is the model input
    without its leading batch dim of 1, or with it (then squeezed); an input whose first dim
    is not 1 (a ``[layers, batch, hidden]`` state) is whole in every sample
    (:mod:`qcompile.sample_axis`).
    """
    if isinstance(source, Mapping):
        path, store = Path("calibration arrays"), contextlib.nullcontext(source)
    else:
        path = Path(source)
        store = open_npz(path)
    result: dict[str, np.ndarray] = {}
    with store as npz:
        keys = list(npz.keys())
        for ir_name in graph.inputs:
            t = graph.tensors[ir_name]
            name = t.source_name or ir_name
            key = _pick_key(path, keys, name, t.source_shape, single_input=len(graph.inputs) == 1)
            try:
                arr = np.asarray(npz[key])
            except Exception as exc:  # CRC, zlib or truncation errors surface only when the member is read
                raise QCompileError(f"{path.name}: array {key!r} cannot be read ({exc}); the file is corrupt") from exc
            result[name] = _checked_samples(path, key, arr, name, t.source_shape)
    counts = {len(v) for v in result.values()}
    if len(counts) > 1:
        raise QCompileError(f"{path.name}: inputs have different sample counts {sorted(counts)}")
    return result


def open_npz(path: Path) -> np.lib.npyio.NpzFile:
    """``np.load`` of an .npz file whose every member was checked first: a .npy array of plain
    (non-object) values whose header's shape accounts for exactly the member's bytes, within
    :data:`~qcompile.limits.MAX_CALIBRATION_BYTES`. numpy allocates what a header
    declares, so a corrupt or hostile header (2^40 samples) is refused before it is read."""
    if not path.is_file():
        raise QCompileError(f"{path}: no such calibration file")
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                _check_npz_member(path, zf, info)
        return np.load(path, allow_pickle=False)
    except QCompileError:
        raise
    except Exception as exc:  # zipfile, zlib and numpy header parsers raise many types on a corrupt file
        raise QCompileError(
            f"{path}: cannot read calibration data ({type(exc).__name__}: {exc}); expected an .npz file "
            "written by numpy.savez"
        ) from exc


def _check_npz_member(path: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    if not info.filename.endswith(".npy"):
        raise QCompileError(
            f"{path.name}: member {info.filename!r} is not a .npy array; save the data with numpy.savez"
        )
    with zf.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version not in readers:
            raise QCompileError(
                f"{path.name}: array {info.filename!r} uses .npy format {version}, which is not supported"
            )
        shape, _, dtype = readers[version](f)
        header = f.tell()
    if dtype.hasobject:
        raise QCompileError(f"{path.name}: array {info.filename!r} holds Python objects; save plain float arrays")
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes + header != info.file_size:
        raise QCompileError(
            f"{path.name}: array {info.filename!r} declares shape {shape} ({nbytes:,} bytes) but holds "
            f"{info.file_size - header:,} bytes; the file is corrupt"
        )
    if nbytes > MAX_CALIBRATION_BYTES:
        raise QCompileError(
            f"{path.name}: array {info.filename!r} has {nbytes:,} bytes, above the limit of "
            f"{MAX_CALIBRATION_BYTES:,}; calibrate on fewer samples"
        )


def _pick_key(path: Path, keys: list[str], name: str, shape: tuple[int, ...], *, single_input: bool) -> str:
    """The array for input ``name``: by name, else (single-input model) the only array or a usual name."""
    if name in keys:
        return name
    if single_input and len(keys) == 1:
        return keys[0]
    if single_input and any(k in keys for k in _FALLBACK_KEYS):
        return next(k for k in _FALLBACK_KEYS if k in keys)
    raise QCompileError(
        f"{path.name}: no array for input {name!r} (arrays: {keys}); save one array named {name!r} shaped {fmt_samples(sample_shape(shape))}"
    )


def _checked_samples(path: Path, key: str, arr: np.ndarray, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """``arr`` as float32 samples of input ``name``, or an error saying what the input expects."""
    if arr.dtype.kind != "f":
        raise QCompileError(
            f"{path.name}: array {key!r} has dtype {arr.dtype}; expected float values for input {name!r} "
            f"shaped {fmt_samples(sample_shape(shape))} (dequantize integer data first)"
        )
    arr = checked_samples(arr, shape, f"{path.name}: array {key!r}", name)
    if not np.all(np.isfinite(arr)):
        raise QCompileError(f"{path.name}: array {key!r} contains NaN or Inf values")
    with np.errstate(over="ignore"):  # float64 data beyond float32: refused just below
        values = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.all(np.isfinite(values)):
        raise QCompileError(f"{path.name}: array {key!r} has values beyond the float32 range")
    return values


# ----------------------------------------------------------------------------------------
# onnxruntime runs
# ----------------------------------------------------------------------------------------
def _session(model_path: str | os.PathLike[str], extra_outputs: list[str], *, optimize: bool = True):
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    try:
        model = onnx.load(os.fspath(model_path))
    except Exception as exc:
        raise QCompileError(f"{model_path}: cannot read the ONNX model ({exc})") from exc
    present = {o.name for o in model.graph.output}
    for name in extra_outputs:
        if name not in present:
            model.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
            present.add(name)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    if not optimize:  # a QDQ model's exact semantics: no fusing of Q/DQ pairs into integer kernels
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    try:
        sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
        raise QCompileError(f"{model_path}: onnxruntime cannot load the model: {_first_line(exc)}") from exc
    inits = {i.name for i in model.graph.initializer}
    dims0 = [vi.type.tensor_type.shape.dim[:1] for vi in model.graph.input if vi.name not in inits]
    outs0 = [vi.type.tensor_type.shape.dim[:1] for vi in model.graph.output]
    batched = all(not (d and d[0].HasField("dim_value")) for d in dims0) and not any(
        d and d[0].HasField("dim_value") and d[0].dim_value != 1 for d in outs0
    )  # an output [layers, batch, hidden] would interleave the samples of a batched run
    return sess, batched


def _as_dict(data: Mapping[str, np.ndarray] | np.ndarray, sess) -> dict[str, np.ndarray]:
    names = [i.name for i in sess.get_inputs()]
    if isinstance(data, np.ndarray):
        if len(names) != 1:
            raise QCompileError(f"the model has {len(names)} inputs; pass a dict of arrays")
        return {names[0]: data}
    missing = [n for n in names if n not in data]
    if missing:
        raise QCompileError(f"no data for model input(s) {missing}")
    return {n: np.asarray(data[n], dtype=np.float32) for n in names}


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return " ".join(lines[:2])[:400] if lines else type(exc).__name__


def _batches(
    sess, batched: bool, data: dict[str, np.ndarray], outputs: list[str], batch: int = BATCH
) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    """Yield ``(number of samples, {output name: [count, *sample]})`` per onnxruntime run.

    One sample at a time unless ``batched``: each sample is fed in the model's shape (an input
    whose first dim is not a batch of 1 gets its sample whole) and each output read back by
    the same rule (:mod:`qcompile.sample_axis`)."""
    n = len(next(iter(data.values())))
    step = batch if batched else 1
    shapes = {i.name: i.shape for i in sess.get_inputs()}
    for start in range(0, n, step):
        count = min(step, n - start)
        feeds = {
            k: v[start : start + step] if batched else _one_sample(v[start], shapes.get(k)) for k, v in data.items()
        }
        try:
            values = sess.run(outputs, feeds)
        except Exception as exc:  # onnxruntime's own error types; the model was checked before
            raise QCompileError(
                f"onnxruntime failed on samples {start}-{start + count - 1}: {_first_line(exc)}"
            ) from exc
        shaped = [v if batched else as_samples(v, np.shape(v)) for v in values]
        yield count, dict(zip(outputs, shaped, strict=True))


def _one_sample(sample: np.ndarray, shape: Sequence[object] | None) -> np.ndarray:
    """One sample ``[*sample]`` in the model input's shape (symbolic dims are the batch of 1)."""
    dims = [d if isinstance(d, int) else 1 for d in (shape or [])]
    return sample[None] if leading_batch(dims) else sample


def _batch_size(graph: Graph) -> int:
    """Samples per onnxruntime run: up to BATCH while all exposed activations fit BATCH_BYTES."""
    per_sample = 4 * sum(t.size for t in graph.activations())
    return int(min(BATCH, max(1, BATCH_BYTES // max(per_sample, 1))))


def _observe(observer: Observer, name: str, value: np.ndarray) -> None:
    """Update ``observer``; Inf or NaN means float32 overflowed, which no int8 range can hold."""
    value = np.asarray(value)
    if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
        raise QCompileError(
            f"tensor {name!r} takes Inf or NaN values on the calibration data: the model overflows float32 "
            "there (weights or inputs too large); fix the model's weights or the data"
        )
    observer.update(value)


def calibrate(
    model_path: str | os.PathLike[str],
    graph: Graph,
    data: Mapping[str, np.ndarray] | np.ndarray,
    *,
    observer: str = "minmax",
    percentile: float = 99.99,
    observer_for: Mapping[str, str] | None = None,
    progress: bool = True,
) -> dict[str, tuple[float, float]]:
    """Range ``(lo, hi)`` of every IR activation tensor (inputs and outputs included).

    ``data`` is what :func:`load_calibration_data` returns (source layout, first axis =
    samples). Runs onnxruntime (one thread) in batches of 32 when the model's batch dim is
    symbolic, one sample at a time otherwise. ``observer_for`` maps ONNX tensor or node
    names to the method observing them (a node stands for its outputs) instead of
    ``observer``.
    """
    make_observer(observer, percentile)  # validate the name early
    acts = list(graph.activations())
    sourced = sorted({t.source_name for t in acts if t.source_name})
    methods = resolve_observer_overrides(model_path, observer_for or {}, sourced)
    sess, batched = _session(model_path, [])
    feeds = _as_dict(data, sess)
    input_names = set(feeds)
    wanted = [s for s in sourced if s not in input_names]
    sess, batched = _session(model_path, wanted)
    observers = {s: make_observer(methods.get(s, observer), percentile) for s in sourced}
    orphans = [t for t in acts if not t.source_name]
    orphan_obs = {t.name: make_observer(observer, percentile) for t in orphans}
    n = len(next(iter(feeds.values())))
    with progress_bar(progress, n, "calibrating") as advance:
        for count, outs in _batches(sess, batched, feeds, wanted, _batch_size(graph)):
            for name, value in outs.items():
                _observe(observers[name], name, value)
            advance(count)
        for name in sourced:
            if name in input_names:
                _observe(observers[name], name, feeds[name])
        if orphans:
            _observe_orphans(graph, feeds, orphan_obs)
    ranges: dict[str, tuple[float, float]] = {}
    for t in acts:
        obs = observers[t.source_name] if t.source_name else orphan_obs[t.name]
        try:
            ranges[t.name] = obs.range()
        except QCompileError as exc:
            raise QCompileError(f"calibration saw no values for tensor {t.name!r}") from exc
    return ranges


def resolve_observer_overrides(
    model_path: str | os.PathLike[str], overrides: Mapping[str, str], sourced: list[str]
) -> dict[str, str]:
    """``{observed ONNX tensor: method}`` from ``{ONNX tensor or node name: method}``.

    A name must be a tensor qcompile observes (it survives import: a BatchNorm folded into
    its conv has no tensor of its own) or a node with such an output; anything else is
    an error listing the names that can be given."""
    if not overrides:
        return {}
    import onnx

    for method in set(overrides.values()):
        make_observer(method)  # an unknown method fails here, before any work
    model = onnx.load(os.fspath(model_path), load_external_data=False)
    known = set(sourced)
    by_node = {n.name: [o for o in n.output if o in known] for n in model.graph.node if n.name}
    by_node = {k: v for k, v in by_node.items() if v}
    methods: dict[str, str] = {}
    for name, method in overrides.items():
        if name in known:
            methods[name] = method
        elif name in by_node:
            methods.update(dict.fromkeys(by_node[name], method))
        else:
            listed = sorted(known | set(by_node))
            raise QCompileError(
                f"--observer-for {name}={method}: the model has no observed tensor or node named {name!r}; "
                f"known names: {', '.join(listed)}"
            )
    return methods


def _observe_orphans(graph: Graph, feeds: dict[str, np.ndarray], observers: dict[str, object]) -> None:
    """Observe IR-only tensors by running the float IR sample by sample."""
    from qcompile.reference.executor import run_float

    n = len(next(iter(feeds.values())))
    for i in range(n):
        inputs = {}
        for ir_name in graph.inputs:
            t = graph.tensors[ir_name]
            x = feeds[t.source_name or ir_name][i : i + 1]
            x = x.reshape(t.source_shape)
            inputs[ir_name] = x.transpose(t.source_perm) if t.source_perm is not None else x
        values = run_float(graph, inputs, keep_all=True)
        for name, obs in observers.items():
            _observe(obs, name, values[name])  # type: ignore[arg-type]


def float_outputs(
    model_path: str | os.PathLike[str],
    data: Mapping[str, np.ndarray] | np.ndarray,
    extra: Sequence[str] = (),
    *,
    optimize: bool = True,
) -> dict[str, np.ndarray]:
    """onnxruntime outputs of the source model on ``data`` (source layout, first axis =
    samples): ``{output name: array [N, *sample]}`` (:mod:`qcompile.sample_axis`), for the float comparison;
    ``extra`` names intermediate tensors to expose as outputs too (``qcompile report``).
    ``optimize=False`` turns onnxruntime's graph optimisations off: a QDQ model then runs
    with its exact QDQ semantics (float ops between Q/DQ pairs)."""
    sess, batched = _session(model_path, list(extra), optimize=optimize)
    feeds = _as_dict(data, sess)
    names = [o.name for o in sess.get_outputs()]
    parts: dict[str, list[np.ndarray]] = {n: [] for n in names}
    for _, outs in _batches(sess, batched, feeds, names):
        for name, value in outs.items():
            parts[name].append(np.asarray(value))
    return {n: np.concatenate(v, axis=0) for n, v in parts.items()}

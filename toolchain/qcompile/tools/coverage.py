"""The operator coverage table (docs/COVERAGE.md), generated from the importers' own lists.

``onnx_import.supported_ops()`` and ``tflite_import.supported_ops()`` are what the importers
accept (built-in and plug-in converters), so the table cannot drift from the code:
``tests/tools/test_coverage.py`` fails when docs/COVERAGE.md differs from
:func:`coverage_markdown`. Regenerate with ``python3 -m qcompile.tools.coverage --write``.

TFLite Micro's builtin list is fixed here: the ``BuiltinOperator_*`` names registered by
``tensorflow/lite/micro/micro_mutable_op_resolver.h`` (tflite-micro 90b983c, 2026-08-20).
"""

from __future__ import annotations

import sys
from pathlib import Path

TFLM_COMMIT = "90b983c2b3f1480642e040bbd2ddb37b998f3424"
#: every builtin TFLite Micro's MicroMutableOpResolver can register
TFLM_BUILTINS = tuple(
    """ABS ADD ADD_N ARG_MAX ARG_MIN ASSIGN_VARIABLE AVERAGE_POOL_2D BATCH_MATMUL BATCH_TO_SPACE_ND
    BROADCAST_ARGS BROADCAST_TO CALL_ONCE CAST CEIL CONCATENATION CONV_2D COS CUMSUM CUSTOM
    DEPTHWISE_CONV_2D DEPTH_TO_SPACE DEQUANTIZE DIV DYNAMIC_UPDATE_SLICE ELU EMBEDDING_LOOKUP EQUAL
    EXP EXPAND_DIMS FILL FLOOR FLOOR_DIV FLOOR_MOD FULLY_CONNECTED GATHER GATHER_ND GREATER
    GREATER_EQUAL HARD_SWISH IF L2_NORMALIZATION L2_POOL_2D LEAKY_RELU LESS LESS_EQUAL LOG
    LOGICAL_AND LOGICAL_NOT LOGICAL_OR LOGISTIC LOG_SOFTMAX MAXIMUM MAX_POOL_2D MEAN MINIMUM
    MIRROR_PAD MUL NEG NOT_EQUAL PACK PAD PADV2 PRELU QUANTIZE READ_VARIABLE REDUCE_ALL REDUCE_MAX
    REDUCE_MIN RELU RELU6 RESHAPE RESIZE_BILINEAR RESIZE_NEAREST_NEIGHBOR REVERSE_V2 ROUND RSQRT
    SELECT_V2 SHAPE SIN SLICE SOFTMAX SPACE_TO_BATCH_ND SPACE_TO_DEPTH SPLIT SPLIT_V SQRT SQUARE
    SQUARED_DIFFERENCE SQUEEZE STRIDED_SLICE SUB SUM SVDF TANH TRANSPOSE TRANSPOSE_CONV
    UNIDIRECTIONAL_SEQUENCE_LSTM UNPACK VAR_HANDLE WHILE ZEROS_LIKE""".split()
)

#: ONNX op -> the TFLite builtin(s) that compute it (for the ONNX table's right-hand side);
#: ops with no TFLite counterpart map to "" and ops qcompile folds say so
ONNX_TO_TFLITE: dict[str, str] = {
    "Abs": "ABS", "Add": "ADD", "ArgMax": "ARG_MAX", "ArgMin": "ARG_MIN", "AveragePool": "AVERAGE_POOL_2D",
    "BatchNormalization": "(folded into the conv, or MUL + ADD)", "Cast": "CAST", "Ceil": "CEIL", "Celu": "",
    "Clip": "RELU6 / RELU_N1_TO_1 / MINIMUM + MAXIMUM", "Concat": "CONCATENATION", "Constant": "(constant)",
    "Conv": "CONV_2D / DEPTHWISE_CONV_2D", "ConvTranspose": "TRANSPOSE_CONV", "Cos": "COS", "CumSum": "CUMSUM",
    "DepthToSpace": "DEPTH_TO_SPACE", "DequantizeLinear": "DEQUANTIZE", "Div": "DIV", "Dropout": "(removed)",
    "Elu": "ELU", "Equal": "EQUAL", "Erf": "", "Exp": "EXP", "Expand": "BROADCAST_TO", "Flatten": "RESHAPE",
    "Floor": "FLOOR", "Gather": "GATHER", "GatherND": "GATHER_ND", "Gelu": "GELU", "Gemm": "FULLY_CONNECTED",
    "GlobalAveragePool": "MEAN", "GlobalMaxPool": "REDUCE_MAX", "Greater": "GREATER", "HardSigmoid": "",
    "HardSwish": "HARD_SWISH", "Identity": "(removed)", "LayerNormalization": "", "LeakyRelu": "LEAKY_RELU",
    "Less": "LESS", "Log": "LOG", "LogSoftmax": "LOG_SOFTMAX", "LSTM": "UNIDIRECTIONAL_SEQUENCE_LSTM",
    "MatMul": "FULLY_CONNECTED / BATCH_MATMUL", "Max": "MAXIMUM", "MaxPool": "MAX_POOL_2D", "Min": "MINIMUM",
    "Mish": "", "Mul": "MUL", "Neg": "NEG", "Not": "LOGICAL_NOT", "PRelu": "PRELU", "Pad": "PAD / PADV2 / MIRROR_PAD",
    "Pow": "POW", "QuantizeLinear": "QUANTIZE", "Reciprocal": "DIV", "ReduceMax": "REDUCE_MAX", "ReduceMean": "MEAN",
    "ReduceMin": "REDUCE_MIN", "ReduceProd": "REDUCE_PROD", "ReduceSum": "SUM", "Relu": "RELU",
    "Reshape": "RESHAPE", "Resize": "RESIZE_BILINEAR / RESIZE_NEAREST_NEIGHBOR", "Round": "ROUND", "Selu": "",
    "Shape": "SHAPE", "Sigmoid": "LOGISTIC", "Sin": "SIN", "Slice": "SLICE / STRIDED_SLICE", "Softmax": "SOFTMAX",
    "Softplus": "", "Softsign": "", "SpaceToDepth": "SPACE_TO_DEPTH", "Split": "SPLIT / SPLIT_V", "Sqrt": "SQRT",
    "Squeeze": "SQUEEZE / RESHAPE", "Sub": "SUB", "Tanh": "TANH", "Tile": "", "TopK": "",
    "Transpose": "TRANSPOSE", "Unsqueeze": "EXPAND_DIMS / RESHAPE", "Upsample": "RESIZE_NEAREST_NEIGHBOR",
    "Where": "SELECT_V2",
}  # fmt: skip


def _yes(flag: bool) -> str:
    return "yes" if flag else "**no**"


def _onnx_section(onnx_ops: frozenset[str], tflite_ops: set[str]) -> list[str]:
    lines = [
        "## ONNX operators",
        "",
        "Default domain, opsets 11 to 21. Any node whose inputs are all constant (Shape, Gather, Concat",
        "chains that compute shapes, weight subgraphs) is evaluated at compile time whatever its type;",
        "the table lists what qcompile converts on activations. Left: every op qcompile accepts and the",
        "common ops it does not (gaps in bold); right: the TFLite builtin that computes it, whether",
        "TFLite Micro has that builtin and whether qcompile imports it from a `.tflite`.",
        "",
        "| ONNX op | qcompile | TFLite builtin | in TFLite Micro | qcompile `.tflite` |",
        "|---|---|---|---|---|",
    ]
    for op in sorted(set(onnx_ops) | set(ONNX_TO_TFLITE)):
        tfl = ONNX_TO_TFLITE.get(op, "")
        names = [n.strip() for n in tfl.split("/") if n.strip() and not n.strip().startswith("(")]
        names = [n.split(" + ")[0] for n in names]
        in_tflm = ", ".join(n for n in names if n in TFLM_BUILTINS) or "-"
        ours = ", ".join(n for n in names if n in tflite_ops) or "-"
        lines.append(f"| {op} | {_yes(op in onnx_ops)} | {tfl or '-'} | {in_tflm} | {ours} |")
    return lines


def _tflite_section(tflite_ops: set[str]) -> list[str]:
    extra = sorted(tflite_ops - set(TFLM_BUILTINS))
    missing = [op for op in TFLM_BUILTINS if op not in tflite_ops]
    lines = [
        "",
        "## TFLite builtins (int8 `.tflite` import) against TFLite Micro",
        "",
        f"TFLite Micro registers {len(TFLM_BUILTINS)} builtins (`micro_mutable_op_resolver.h`, "
        f"tflite-micro {TFLM_COMMIT[:7]}); qcompile imports {len(tflite_ops & set(TFLM_BUILTINS))} of them"
        + (f" and {len(extra)} more ({', '.join(extra)})." if extra else "."),
        "Many of the others are float-only, control flow, variables or string/boolean ops that an int8",
        "graph does not contain; the gaps are every row marked **no**.",
        "",
        "| builtin | qcompile |",
        "|---|---|",
    ]
    lines += [f"| {op} | {_yes(op in tflite_ops)} |" for op in sorted(set(TFLM_BUILTINS) | tflite_ops)]
    lines += ["", f"Gaps ({len(missing)}): " + ", ".join(missing) + "."]
    return lines


def _s16_section() -> list[str]:
    """The 16x8 (int16 activations) operators: TFLite import and ``--act-bits 16``."""
    from qcompile.frontends import tflite_import
    from qcompile.quant import quantize

    return [
        "",
        "## 16x8 (int16 activations, int8 weights)",
        "",
        "TFLite builtins imported with int16 activations, bit-exact with TFLite Micro's int16 kernels",
        f"(`tflite_import.S16_OPS`): {', '.join(sorted(tflite_import.S16_OPS))}.",
        "",
        "IR ops that compute in int16 under `--act-bits 16` / `--act-bits-for` (`quantize._S16_OPS`):",
        f"{', '.join(sorted(quantize._S16_OPS))}; every other op runs in int8 between requantize",
        'conversions (docs/QUANTIZATION.md, "16x8").',
    ]


def coverage_markdown() -> str:
    """docs/COVERAGE.md, from the importers' supported-op lists."""
    from qcompile.frontends import onnx_import, onnx_qdq, tflite_import

    onnx_ops = onnx_import.supported_ops() | frozenset(onnx_qdq.QDQ_OPS)  # QDQ: pre-quantized models
    tflite_ops = set(tflite_import.supported_ops())
    head = [
        "# Operator coverage",
        "",
        "Generated by `python3 -m qcompile.tools.coverage --write` from `onnx_import.supported_ops()`",
        "and `tflite_import.supported_ops()`; `tests/tools/test_coverage.py` fails when this file is",
        "out of date. `qcompile inspect MODEL.onnx` says, for each node it cannot compile, why and what",
        "would make it compile. The arithmetic of every op is in docs/QUANTIZATION.md.",
        "",
    ]
    sections = _onnx_section(onnx_ops, tflite_ops) + _tflite_section(tflite_ops) + _s16_section()
    return "\n".join(head + sections) + "\n"


def doc_path() -> Path:
    return Path(__file__).resolve().parents[3] / "docs" / "COVERAGE.md"


def main(argv: list[str]) -> None:
    text = coverage_markdown()
    if "--write" in argv:
        doc_path().write_text(text, encoding="utf-8")
        print(f"wrote {doc_path()}")
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main(sys.argv[1:])

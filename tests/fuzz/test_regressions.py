"""Every crasher the fuzz runs found (issue 7 and since), as a named case through the real CLI.

Each test compiles one hostile input in-process and checks the contract: the exit code
(1 bad input, 2 unsupported model, 0 success), one message naming the tensor or node and
no traceback, and an empty case folder after a failure.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from fuzz import fuzz_cases as fc
from fuzz.fuzz_harness import compile_argv, leftovers, run_cli
from onnx import TensorProto, helper, numpy_helper


def compile_case(tmp_path: Path, model: onnx.ModelProto | bytes, calib: bytes | None, suffix: str = ".onnx"):
    data = model if isinstance(model, bytes) else model.SerializeToString()
    path = fc.write(tmp_path / f"model{suffix}", data)
    calib_path = fc.write(tmp_path / "calib.npz", calib) if calib is not None else None
    case_dir = tmp_path / "case"
    case_dir.mkdir()
    code, stderr = run_cli(compile_argv(path, case_dir, calib_path))
    assert "Traceback" not in stderr, stderr
    if code != 0:
        assert leftovers(case_dir) == [], f"a failed compile left {leftovers(case_dir)}"
    return code, " ".join(stderr.split())  # messages may be wrapped on narrow terminals


def expect(tmp_path: Path, model, calib: bytes | None, code: int, *needles: str, suffix: str = ".onnx") -> str:
    got, message = compile_case(tmp_path, model, calib, suffix)
    assert got == code, message
    for needle in needles:
        assert needle in message, message
    return message


def single(nodes, inits=(), shape=(1, 3, 8, 8), outputs=("y",), opset: int = 13) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes,
        "t",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs],
        list(inits),
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)


def conv(shape=(1, 3, 8, 8), w_shape=(4, 3, 3, 3), **attrs) -> onnx.ModelProto:
    w = numpy_helper.from_array(np.full(w_shape, 0.1, np.float32), "w")
    return single([helper.make_node("Conv", ["x", "w"], ["y"], name="conv", **attrs)], [w], shape)


CALIB = fc.calib_npz((3, 8, 8))


# --- graphs onnxruntime rejected mid-calibration with a traceback -----------------------
@pytest.mark.parametrize(
    ("model", "needle"),
    [
        (conv(group=0), "group 0"),
        (conv(group=2), "group 2"),
        (conv(w_shape=(4, 5, 3, 3)), "input channels"),
        (conv(shape=(1, 3, 2, 2)), "exceeds the padded input"),
        (conv(auto_pad="FOO"), "auto_pad 'FOO'"),
        (conv(strides=[0, 1]), "strides"),
        (conv(dilations=[0, 1]), "dilations"),
        (conv(pads=[-1, 0, 0, 0]), "pads"),
        (single([helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[20, 20], name="mp")]), "exceeds"),
        (single([helper.make_node("Softmax", ["x"], ["y"], axis=7, name="sm")]), "axis"),
        (single([helper.make_node("Concat", ["x", "x"], ["y"], axis=9, name="cat")]), "axis"),
    ],
    ids=[
        "group0",
        "group_not_dividing",
        "conv_channels",
        "kernel_larger_than_input",
        "auto_pad",
        "stride0",
        "dilation0",
        "negative_pad",
        "pool_kernel_larger",
        "softmax_axis",
        "concat_axis",
    ],
)
def test_inconsistent_node_is_bad_input(tmp_path: Path, model: onnx.ModelProto, needle: str) -> None:
    expect(tmp_path, model, CALIB, 1, needle)


def test_gemm_k_mismatch(tmp_path: Path) -> None:
    wg = numpy_helper.from_array(np.ones((5, 4), np.float32), "b")
    model = single([helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("Gemm", ["f", "b"], ["y"])], [wg])
    expect(tmp_path, model, CALIB, 1, "Gemm")


def test_reshape_to_impossible_shape(tmp_path: Path) -> None:
    shape = numpy_helper.from_array(np.array([5, 7], np.int64), "s")
    model = single([helper.make_node("Reshape", ["x", "s"], ["y"], name="rs")], [shape])
    expect(tmp_path, model, CALIB, 1, "'rs'", "cannot reshape")


def test_ir_version_99(tmp_path: Path) -> None:
    model = conv()
    model.ir_version = 99
    expect(tmp_path, model, CALIB, 1, "IR version 99")


# --- graphs that compiled although invalid ------------------------------------------------
def test_duplicate_graph_outputs(tmp_path: Path) -> None:
    model = single([helper.make_node("Relu", ["x"], ["y"])], outputs=("y", "y"))
    expect(tmp_path, model, CALIB, 1, "graph output 'y' is listed twice")


def test_weights_overflowing_float32(tmp_path: Path) -> None:
    """3e38 weights overflow to Inf in the float model: named as such, not "calibration saw no values"."""
    w = numpy_helper.from_array(np.full((4, 3, 3, 3), 3e38, np.float32), "w")
    model = single([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")], [w])
    message = expect(tmp_path, model, CALIB, 1, "'y'", "Inf or NaN")
    assert "saw no values" not in message


def test_duplicate_node_output(tmp_path: Path) -> None:
    model = single([helper.make_node("Relu", ["x"], ["y"]), helper.make_node("Relu", ["x"], ["y"])])
    expect(tmp_path, model, CALIB, 1, "'y'", "already defined")


def test_dangling_input(tmp_path: Path) -> None:
    model = single([helper.make_node("Add", ["x", "ghost"], ["y"], name="add")])
    expect(tmp_path, model, CALIB, 1, "'ghost'", "no graph input")


def test_cycle(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("Relu", ["b"], ["a"], name="r1"),
        helper.make_node("Relu", ["a"], ["b"], name="r2"),
        helper.make_node("Add", ["x", "a"], ["y"], name="add"),
    ]
    expect(tmp_path, single(nodes), CALIB, 1, "'r1'", "cycle")


@pytest.mark.parametrize("dim", [0, -3])
def test_zero_or_negative_input_dim(tmp_path: Path, dim: int) -> None:
    expect(tmp_path, conv(shape=(1, 3, dim, 8)), CALIB, 1, "input 'x'", f"dimension {dim}")


def test_absurd_input_dims(tmp_path: Path) -> None:
    expect(tmp_path, conv(shape=(1, 3, 1 << 20, 1 << 20)), CALIB, 1, "input 'x'", "limit")


def test_pads_of_2_pow_20(tmp_path: Path) -> None:
    """Used to allocate until memory ran out."""
    expect(tmp_path, conv(pads=[1 << 20] * 4), CALIB, 1, "'conv'", "elements")


def test_unknown_domain_and_opset(tmp_path: Path) -> None:
    model = conv()
    model.graph.node[0].domain = "com.example"
    expect(tmp_path, model, CALIB, 2, "custom domain 'com.example'")
    model = conv()
    model.opset_import[0].version = 99
    expect(tmp_path / "b", model, CALIB, 2, "opset 99")


def test_loop_with_constant_inputs_is_not_folded(tmp_path: Path) -> None:
    """A control-flow node with constant inputs would run (maybe forever) in the constant folder."""
    body = helper.make_graph([], "body", [], [])
    trip = numpy_helper.from_array(np.array(1 << 60, np.int64), "trip")
    model = single(
        [helper.make_node("Loop", ["trip", ""], [], body=body), helper.make_node("Relu", ["x"], ["y"])], [trip]
    )
    expect(tmp_path, model, CALIB, 2, "control flow")


# --- initializers whose bytes disagree with their declaration ------------------------------
def test_raw_data_shorter_than_dims(tmp_path: Path) -> None:
    model = conv()
    model.graph.initializer[0].raw_data = model.graph.initializer[0].raw_data[:-4]
    expect(tmp_path, model, CALIB, 1, "initializer 'w'", "holds 428 bytes")


def test_undefined_element_type(tmp_path: Path) -> None:
    model = conv()
    model.graph.initializer[0].data_type = TensorProto.UNDEFINED
    expect(tmp_path, model, CALIB, 1, "initializer 'w'", "element type UNDEFINED")


def test_initializer_dims_of_2_pow_40(tmp_path: Path) -> None:
    model = conv()
    model.graph.initializer[0].dims[0] = 1 << 40
    expect(tmp_path, model, CALIB, 1, "initializer 'w'", "limit")


def test_divide_by_constant_zero(tmp_path: Path) -> None:
    zero = numpy_helper.from_array(np.zeros(1, np.float32), "z")
    expect(tmp_path, single([helper.make_node("Div", ["x", "z"], ["y"], name="div")], [zero]), CALIB, 1, "zeros")


def test_truncated_onnx(tmp_path: Path) -> None:
    expect(tmp_path, conv().SerializeToString()[:100], CALIB, 1, "model.onnx")


# --- calibration files -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("header_2_40_samples", "declares shape (1099511627776"),
        ("header_short", "declares shape"),
        ("object_array", "Python objects"),
        ("not_a_zip", "cannot read calibration data"),
        ("text_member", "'x.txt' is not a .npy array"),
        ("nan", "NaN or Inf"),
        ("float64_overflow", "float32 range"),
        ("int_dtype", "dtype int32"),
        ("wrong_shape", "expected (N, 3, 8, 8)"),
        ("zero_samples", "has shape (0, 3, 8, 8)"),
        ("two_unnamed", "no array for input 'x'"),
    ],
)
def test_hostile_calibration_file(tmp_path: Path, name: str, needle: str) -> None:
    calib = fc.hostile_calibrations((3, 8, 8))[name]
    message = expect(tmp_path, fc.small_cnn(), calib, 1, needle)
    assert "calib.npz" in message


@pytest.mark.parametrize("name", ["subnormal", "zeros"])
def test_tiny_calibration_ranges_compile(tmp_path: Path, name: str) -> None:
    """Subnormal samples gave a scale of 0 and a ZeroDivisionError; all-zero ones must keep working."""
    expect(tmp_path, fc.small_cnn(), fc.hostile_calibrations((3, 8, 8))[name], 0)


# --- TFLite --------------------------------------------------------------------------------
def _tflite(mutate) -> bytes:
    pytest.importorskip("tflite_micro", reason="tflite_micro is not installed")
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

    model = fb.ModelT.InitFromPackedBuf(bytearray(fc.small_tflite()), 0)
    mutate(model.subgraphs[0], model)
    import flatbuffers

    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def test_tflite_operator_output_index_65535(tmp_path: Path) -> None:
    def mutate(sg, model):
        sg.operators[0].outputs = np.array([65535], np.int32)

    expect(tmp_path, _tflite(mutate), None, 1, "operator 0 (CONV_2D)", "65535", suffix=".tflite")


def test_tflite_zero_scale(tmp_path: Path) -> None:
    """A zero output scale divided by zero in quantize_multiplier."""

    def mutate(sg, model):
        sg.tensors[3].quantization.scale = np.array([0.0], np.float32)

    expect(tmp_path, _tflite(mutate), None, 1, "'c'", "scale", suffix=".tflite")


def test_tflite_buffer_index_out_of_range(tmp_path: Path) -> None:
    def mutate(sg, model):
        sg.tensors[1].buffer = 1000

    expect(tmp_path, _tflite(mutate), None, 1, "'w'", "buffer 1000", suffix=".tflite")


def test_tflite_constant_of_wrong_size(tmp_path: Path) -> None:
    def mutate(sg, model):
        sg.tensors[1].shape = np.array([4, 3, 3, 3], np.int32)

    expect(tmp_path, _tflite(mutate), None, 1, "'w'", "bytes for shape", suffix=".tflite")


def test_tflite_operator_without_inputs(tmp_path: Path) -> None:
    def mutate(sg, model):
        sg.operators[5].inputs = np.array([], np.int32)

    expect(tmp_path, _tflite(mutate), None, 2, "operator 5 (SOFTMAX)", "no input", suffix=".tflite")


def test_tflite_output_written_twice(tmp_path: Path) -> None:
    def mutate(sg, model):
        sg.operators[1].outputs = np.array([3], np.int32)

    expect(tmp_path, _tflite(mutate), None, 1, "operator 1", "another operator's output", suffix=".tflite")


def test_tflite_huge_activation_shape(tmp_path: Path) -> None:
    def mutate(sg, model):
        sg.tensors[3].shape = np.array([1, 1 << 20, 1 << 20, 4], np.int32)

    expect(tmp_path, _tflite(mutate), None, 1, "'c'", "limit", suffix=".tflite")


def test_declared_output_shape_conflicts_with_graph(tmp_path: Path) -> None:
    model = conv()
    model.graph.output[0].type.tensor_type.shape.dim.add().dim_value = 1
    model.graph.output[0].type.tensor_type.shape.dim.add().dim_value = 5
    expect(tmp_path, model, CALIB, 1, "inconsistent")


def test_tflite_scales_needing_a_left_shift_above_31(tmp_path: Path) -> None:
    """Input scale 1e30 over output scale 1e-30: the multiplier 2^200 has no int32 kernel (was UB in C)."""

    def mutate(sg, model):
        sg.tensors[0].quantization.scale = np.array([1e30], np.float32)
        sg.tensors[3].quantization.scale = np.array([1e-30], np.float32)

    expect(tmp_path, _tflite(mutate), None, 2, "operator 0 (CONV_2D)", "left shift", suffix=".tflite")


def test_tflite_truncated(tmp_path: Path) -> None:
    pytest.importorskip("tflite_micro", reason="tflite_micro is not installed")
    data = fc.small_tflite()
    expect(tmp_path, data[: len(data) // 2], None, 1, "model.tflite", "corrupt", suffix=".tflite")


def test_tflite_root_offset_outside_the_file(tmp_path: Path) -> None:
    pytest.importorskip("tflite_micro", reason="tflite_micro is not installed")
    data = bytearray(fc.small_tflite())
    data[0:4] = (len(data) + 64).to_bytes(4, "little")
    expect(tmp_path, bytes(data), None, 1, "model.tflite", "corrupt", suffix=".tflite")


def test_tflite_vector_length_outside_the_file(tmp_path: Path) -> None:
    """Every 4-aligned word that the reader follows as a vector length, set to 2^32 - 1 in turn."""
    pytest.importorskip("tflite_micro", reason="tflite_micro is not installed")
    from qcompile.errors import QCompileError
    from qcompile.frontends.tflite_reader import read_tflite

    data = fc.small_tflite()
    refused = 0
    for pos in range(8, min(len(data), 512), 4):
        mutated = bytearray(data)
        mutated[pos : pos + 4] = b"\xff\xff\xff\xff"
        try:
            read_tflite(bytes(mutated))
        except QCompileError:
            refused += 1
    assert refused > 10  # many of these words are offsets or lengths; none may raise anything else


def test_tflite_zero_size_activation(tmp_path: Path) -> None:
    def mutate(sg, model):
        sg.tensors[3].shape = np.array([1, 0, 6, 4], np.int32)

    expect(tmp_path, _tflite(mutate), None, 1, "'c'", "dimension 0", suffix=".tflite")

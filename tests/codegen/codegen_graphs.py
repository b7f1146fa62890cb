"""Hand-built quantized graphs for the code generator tests, and C build helpers.

``zoo`` uses every op of the quantized vocabulary once, with two inputs (one
broadcast), two outputs (one of them also consumed later), a constant operand, a
reshape alias and a scratch-using conv/depthwise/fc/avg-pool, with the integer
parameters derived the way the quantizer derives them (op_params, channel_multipliers).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np

from qcompile import op_params
from qcompile.ir import Graph, Node, QuantParams, Tensor
from qcompile.op_params import channel_multipliers
from qcompile.targets import Target

GCC_STRICT = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2"]
SANITIZE = ("-fsanitize=address,undefined", "-fno-sanitize-recover=all")
DSP = Target(name="dsp-host-test", kernel_family="dsp", cc="cc", cflags=("-O2",))


def _act(g: Graph, name: str, shape: tuple[int, ...], scale: float, zp: int) -> str:
    g.add_tensor(Tensor(name, shape, "int8", quant=QuantParams(scale, zp)))
    return name


def _const(g: Graph, name: str, data: np.ndarray) -> str:
    g.add_tensor(Tensor(name, tuple(data.shape), str(data.dtype), np.ascontiguousarray(data)))
    return name


def _weighted(rng: np.random.Generator, in_scale: float, out_scale: float, w_shape: tuple[int, ...], oc: int) -> dict:
    w = rng.integers(-127, 128, size=w_shape, dtype=np.int8)
    w_scale = rng.uniform(0.002, 0.02, size=oc)
    mult, shift = channel_multipliers(in_scale, w_scale, out_scale)
    return {"w": w, "bias": rng.integers(-3000, 3000, size=oc, dtype=np.int32), "multiplier": mult, "shift": shift}


def build_zoo(seed: int = 0, names: Callable[[str], str] = lambda s: s, model_name: str = "zoo") -> Graph:
    """Every op once; ``names`` maps the plain tensor/node names (to test hostile ones)."""
    rng = np.random.default_rng(seed)
    n = names
    g = Graph(model_name)
    x = _act(g, n("x"), (1, 6, 6, 3), 0.04, -5)
    x2 = _act(g, n("x2"), (1, 1, 1, 8), 0.03, 7)
    g.inputs = [x, x2]

    p = _weighted(rng, 0.04, 0.08, (4, 3, 3, 3), 4)
    c1 = _act(g, n("c1"), (1, 6, 6, 4), 0.08, 3)
    g.add_node(
        Node(
            n("conv"),
            "conv2d",
            [x, _const(g, n("conv_w"), p["w"]), _const(g, n("conv_b"), p["bias"])],
            [c1],
            {
                "strides": (1, 1),
                "dilations": (1, 1),
                "pads": (1, 1, 1, 1),
                "groups": 1,
                "input_offset": 5,
                "output_offset": 3,
                "multiplier": p["multiplier"],
                "shift": p["shift"],
                "act_min": -128,
                "act_max": 127,
            },
        )
    )
    p = _weighted(rng, 0.08, 0.06, (3, 3, 8), 8)
    d1 = _act(g, n("d1"), (1, 3, 3, 8), 0.06, -10)
    g.add_node(
        Node(
            n("dw"),
            "depthwise_conv2d",
            [c1, _const(g, n("dw_w"), p["w"]), _const(g, n("dw_b"), p["bias"])],
            [d1],
            {
                "strides": (2, 2),
                "dilations": (1, 1),
                "pads": (1, 1, 0, 0),
                "depth_multiplier": 2,
                "input_offset": -3,
                "output_offset": -10,
                "multiplier": p["multiplier"],
                "shift": p["shift"],
                "act_min": -10,
                "act_max": 127,
            },
        )
    )
    pool_attrs = {"strides": (1, 1), "act_min": -128, "act_max": 127}
    p1 = _act(g, n("p1"), (1, 2, 2, 8), 0.06, -10)
    g.add_node(Node(n("maxpool"), "max_pool2d", [d1], [p1], {"kernel": (2, 2), "pads": (0, 0, 0, 0), **pool_attrs}))
    p2 = _act(g, n("p2"), (1, 3, 3, 8), 0.06, -10)
    g.add_node(Node(n("avgpool"), "avg_pool2d", [d1], [p2], {"kernel": (3, 3), "pads": (1, 1, 1, 1), **pool_attrs}))

    k = _const(g, n("k"), rng.integers(-128, 128, size=(8,), dtype=np.int8))
    a1 = _act(g, n("a1"), (1, 3, 3, 8), 0.1, 2)
    add = op_params.add_params(
        QuantParams(0.06, -10), QuantParams(0.02, 1), QuantParams(0.1, 2), act_min=-128, act_max=127
    )
    g.add_node(Node(n("add"), "add", [p2, k], [a1], add))
    m1 = _act(g, n("m1"), (1, 3, 3, 8), 0.05, 0)
    mul = op_params.mul_params(
        QuantParams(0.1, 2), QuantParams(0.03, 7), QuantParams(0.05, 0), act_min=-128, act_max=127
    )
    g.add_node(Node(n("mul"), "mul", [a1, x2], [m1], mul))
    pd = _act(g, n("pd"), (1, 4, 4, 8), 0.05, 0)
    g.add_node(Node(n("pad"), "pad", [m1], [pd], {"pads": ((0, 0), (1, 0), (0, 1), (0, 0)), "pad_value": 0}))
    tr = _act(g, n("tr"), (1, 8, 4, 4), 0.05, 0)
    g.add_node(Node(n("transpose"), "transpose", [pd], [tr], {"perm": (0, 3, 1, 2)}))
    rs = _act(g, n("rs"), (1, 128), 0.05, 0)
    g.add_node(Node(n("reshape"), "reshape", [tr], [rs], {"shape": (1, 128)}))
    p1r = _act(g, n("p1r"), (1, 32), 0.06, -10)
    g.add_node(Node(n("reshape2"), "reshape", [p1], [p1r], {"shape": (1, 32)}))
    cat = _act(g, n("cat"), (1, 160), 0.05, 0)
    g.add_node(Node(n("concat"), "concat", [rs, p1r], [cat], {"axis": 1}))
    p = _weighted(rng, 0.05, 0.2, (10, 160), 10)
    fc = _act(g, n("fc"), (1, 10), 0.2, -4)
    g.add_node(
        Node(
            n("fc"),
            "fully_connected",
            [cat, _const(g, n("fc_w"), p["w"]), _const(g, n("fc_b"), p["bias"])],
            [fc],
            {
                "input_offset": 0,
                "output_offset": -4,
                "multiplier": p["multiplier"],
                "shift": p["shift"],
                "act_min": -128,
                "act_max": 127,
            },
        )
    )
    lt = _act(g, n("lt"), (1, 10), 0.1, 0)
    table = rng.integers(-128, 128, size=256, dtype=np.int8)
    g.add_node(Node(n("lut"), "lut", [fc], [lt], {"table": table}))
    sm = _act(g, n("sm"), (1, 10), 1.0 / 256.0, -128)
    g.add_node(Node(n("softmax"), "softmax", [lt], [sm], op_params.softmax_params(0.1)))
    cp = _act(g, n("cp"), (1, 6, 6, 4), 0.08, 3)
    g.add_node(Node(n("copy"), "copy", [c1], [cp], {}))
    g.outputs = [sm, c1, cp]
    g.validate()
    return g


def build_small(name: str = "small") -> Graph:
    """x -> lut -> y: one runtime file, no arena-heavy kernels."""
    g = Graph(name)
    _act(g, "x", (1, 16), 0.1, 0)
    _act(g, "y", (1, 16), 0.1, 0)
    g.inputs, g.outputs = ["x"], ["y"]
    g.add_node(Node("neg", "lut", ["x"], ["y"], {"table": np.arange(127, -129, -1).astype(np.int8)}))
    return g


def compile_c(out_dir: Path, cc: str = "gcc", extra: tuple[str, ...] = ()) -> None:
    """Compile every generated C file on its own with the strict flags (raises with output)."""
    files = sorted(out_dir.glob("*.c")) + sorted((out_dir / "runtime").glob("*.c"))
    assert files
    for f in files:
        cmd = [cc, *GCC_STRICT, *extra, f"-I{out_dir}", f"-I{out_dir / 'runtime'}", "-c", str(f), "-o", "/dev/null"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stdout}{proc.stderr}"


def run_under_asan(script: str) -> None:
    """Run ``script`` in a child Python with the ASan runtime preloaded (it must come first in
    the process to load an instrumented library); it must print SANITIZED-OK. Skips without ASan."""
    import os
    import sys

    import pytest

    libasan = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True, text=True).stdout.strip()
    if not Path(libasan).is_file():
        pytest.skip("gcc lacks the address sanitizer runtime")
    env = {**os.environ, "LD_PRELOAD": libasan, "ASAN_OPTIONS": "detect_leaks=0"}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0 and "SANITIZED-OK" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-3000:]


def host_bit_exact(g: Graph, tmp: Path, xs: list[np.ndarray], *, target: Target, sanitize: bool = False) -> str:
    """Generate ``g`` for ``target``'s family, build it for the host (the emulated intrinsics,
    optionally under ASan/UBSan), run the batch ``xs`` (one array per input, samples first) and
    compare every output of every sample with the reference; returns the kernels source. The
    DSP, DSP 16x8 and MVE kernel tests share it; each picks its own inputs."""
    from qcompile.codegen import generate
    from qcompile.host._runtime import ModelLibrary
    from qcompile.host.build import build_host_library
    from qcompile.reference.executor import run_quantized

    out = tmp / "out"
    shutil.rmtree(out, ignore_errors=True)
    report = generate(g, out, name=g.name, target=target)
    path = out / f"{g.name}_kernels.c"
    kernels = path.read_text() if path.exists() else ""  # none when every layer runs portable C
    lib = build_host_library(out, name=report["c_name"], build_dir=tmp / "b", extra_flags=SANITIZE if sanitize else ())
    sizes = ([g.tensors[n].size for n in g.inputs], [g.tensors[n].size for n in g.outputs])
    dtypes = ([g.tensors[n].dtype for n in g.inputs], [g.tensors[n].dtype for n in g.outputs])
    model = ModelLibrary(str(lib), report["c_name"], *sizes, 0, input_dtypes=dtypes[0], output_dtypes=dtypes[1])
    outs = model.run(xs)
    for b in range(len(xs[0])):
        ref = run_quantized(g, [x[b] for x in xs])
        for j, name in enumerate(g.outputs):
            got = np.asarray(outs[j][b]).reshape(-1)
            np.testing.assert_array_equal(got, ref[name].reshape(-1), err_msg=f"sample {b} output {name}")
    return kernels

"""ONNX DepthToSpace (DCR and CRD) and SpaceToDepth as reshape + transpose + reshape in
NHWC (TFLite DEPTH_TO_SPACE / SPACE_TO_DEPTH move the same bytes): the reshapes are free
aliases, the one physical transpose is rank 4 (DCR) or 5 (CRD, SpaceToDepth)."""

from __future__ import annotations

from qcompile.frontends.onnx_ops import ONNX_OPS

NHWC = (0, 2, 3, 1)


def _problem(node, ins, a, const) -> str | None:
    if int(a.get("blocksize", 0)) < 1:
        return f"{node.op_type} needs a positive blocksize"
    if node.op_type == "DepthToSpace" and a.get("mode", "DCR") not in ("DCR", "CRD"):
        return f"DepthToSpace mode {a.get('mode')!r} is not supported (DCR or CRD)"
    return None


def emit_block_move(conv, xin: str, y_ir: str, mid: tuple[int, ...], perm: tuple[int, ...], src: str, dst: str) -> None:
    """x -> reshape ``mid`` -> transpose ``perm`` -> reshape to the output's NHWC shape."""
    a = conv.tmp_act(f"{xin}__blocks", mid, source=src)
    conv.emit("reshape", [xin], [a], shape=mid)
    moved = tuple(mid[p] for p in perm)
    b = conv.tmp_act(f"{y_ir}__blocks", moved, source=dst)
    conv.emit("transpose", [a], [b], perm=perm)
    conv.emit("reshape", [b], [y_ir], shape=tuple(conv.g.tensors[y_ir].shape))


@ONNX_OPS.register("DepthToSpace", "SpaceToDepth", problem=_problem)
def _depth_space(conv, node, ins, a) -> None:
    x, y = ins[0], node.output[0]
    shape = conv.shape(x)
    if len(shape) != 4:
        raise conv.fail(f"{node.op_type} needs a 4-D input")
    n, c, h, w = shape
    bs = int(a["blocksize"])
    xin = conv.get(x, NHWC)
    if node.op_type == "DepthToSpace":
        if c % (bs * bs):
            raise conv.fail(f"channels {c} are not a multiple of blocksize^2 = {bs * bs}")
        oc = c // (bs * bs)
        y_ir = conv.new_act(y, NHWC, (n, oc, h * bs, w * bs))
        if a.get("mode", "DCR") == "DCR":
            emit_block_move(conv, xin, y_ir, (n * h, w, bs, bs * oc), (0, 2, 1, 3), x, y)
        else:
            emit_block_move(conv, xin, y_ir, (n * h, w, oc, bs, bs), (0, 3, 1, 4, 2), x, y)
        return
    if h % bs or w % bs:
        raise conv.fail(f"H and W ({h}, {w}) are not multiples of blocksize {bs}")
    y_ir = conv.new_act(y, NHWC, (n, c * bs * bs, h // bs, w // bs))
    emit_block_move(conv, xin, y_ir, (n * (h // bs), bs, w // bs, bs, c), (0, 2, 1, 3, 4), x, y)

"""Row-band geometry: which output and input rows a scratch placement leaves to the fast kernel."""

from __future__ import annotations

from qcompile.memory.lifetimes import Buffer
from qcompile.memory.row_bands import ALL_DIRECT, Split, _place_split, band_at


def _split(out: Buffer | None, inp: Buffer | None) -> Split:
    # 8 output rows of 10 bytes; input rows of 20 bytes, stride 2, one padding row on top
    return Split(out_h=8, out_row=10, in_row=20, stride_h=2, pad_top=1, output=out, input=inp)


def test_scratch_over_the_output_tail_ends_the_fast_band() -> None:
    out = Buffer("y", 80, 3, 5, ["y"], offset=100)
    assert band_at(_split(out, None), 0, 50) == (0, 8)  # no overlap: all fast
    assert band_at(_split(out, None), 130, 50) == (0, 3)  # rows 3.. are overwritten by the scratch
    assert band_at(_split(out, None), 90, 50) == (0, 0)  # overlaps row 0: nothing fast


def test_scratch_over_the_input_head_starts_the_fast_band_late() -> None:
    inp = Buffer("x", 200, 0, 3, ["x"], offset=0)
    # fast output row r reads input rows from r * stride - pad_top on, so with input rows
    # 0..last covered the band starts at ceil((last + 1 + pad_top) / stride)
    assert band_at(_split(None, inp), 0, 60) == (2, 8)  # rows 0..2
    assert band_at(_split(None, inp), 0, 40) == (2, 8)  # rows 0..1
    assert band_at(_split(None, inp), 0, 20) == (1, 8)  # row 0
    assert band_at(_split(None, inp), 0, 100) == (3, 8)  # rows 0..4


def test_place_split_picks_the_most_fast_rows_below_the_limit() -> None:
    out = Buffer("y", 80, 3, 5, ["y"], offset=0)
    other = Buffer("z", 40, 0, 3, ["z"], offset=80)
    split = _split(out, None)
    # below 120 bytes the only room for 30 bytes overlaps the output: rows 5.. direct
    assert _place_split(split, 30, [out, other], 120, 1) == (50, (0, 5))
    # with room above `other` the scratch goes there at full speed
    assert _place_split(split, 30, [out, other], 150, 1) == (120, (0, 8))
    # a live buffer that is no partner blocks every position: no band at all
    assert _place_split(_split(None, None), 30, [out, other], 120, 1) == (None, ALL_DIRECT)

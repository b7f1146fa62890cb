"""The samples-axis rule (qcompile.sample_axis): a leading dim of 1 is the batch the samples
replace; any other first dim (a [layers, batch, hidden] state) stays in every sample."""

from __future__ import annotations

import numpy as np
import pytest

from qcompile.errors import QCompileError
from qcompile.sample_axis import accepted_shapes, as_samples, checked_samples, sample_shape, samples_perm


def test_sample_shape_keeps_a_layers_first_state_whole() -> None:
    assert sample_shape((1, 49, 10)) == (49, 10)
    assert sample_shape((1, 1, 32)) == (1, 32)  # a one-layer state: the leading 1 is the batch
    assert sample_shape((2, 1, 16)) == (2, 1, 16)  # two layers (or directions): not a batch
    assert sample_shape(()) == ()
    assert accepted_shapes((1, 3, 6, 6)) == [(3, 6, 6), (1, 3, 6, 6)]
    assert accepted_shapes((2, 1, 128)) == [(2, 1, 128)]


def test_as_samples_reads_one_sample_or_many() -> None:
    one = np.arange(32.0).reshape(2, 1, 16)
    assert as_samples(one, one.shape).shape == (1, 2, 1, 16)
    many = np.stack([one, one + 1, one + 2])
    got = as_samples(many, (2, 1, 16))
    assert got.shape == (3, 2, 1, 16)
    np.testing.assert_array_equal(got[1], one + 1)  # sample 1 is whole: both layers
    assert as_samples(np.zeros((5, 1, 12)), (1, 12)).shape == (5, 12)


def test_samples_perm_shifts_past_the_new_samples_axis() -> None:
    assert samples_perm((0, 2, 3, 1), (1, 3, 4, 5)) == (0, 2, 3, 1)
    assert samples_perm((1, 0, 2), (2, 1, 16)) == (0, 2, 1, 3)


def test_checked_samples_names_the_input_and_the_fix() -> None:
    states = np.zeros((7, 2, 1, 16), np.float32)
    assert checked_samples(states, (2, 1, 16), "calib.npz: array 'h0'", "h0").shape == (7, 2, 1, 16)
    assert checked_samples(np.zeros((7, 1, 3, 6, 6)), (1, 3, 6, 6), "a", "x").shape == (7, 3, 6, 6)
    with pytest.raises(QCompileError) as err:
        checked_samples(np.zeros((7, 1, 16), np.float32), (2, 1, 16), "calib.npz: array 'h0'", "h0")
    message = str(err.value)
    assert "calib.npz: array 'h0' has shape (7, 1, 16); expected (N, 2, 1, 16) for input 'h0'" in message
    assert "np.stack" in message and "[layers, batch, hidden]" in message
    with pytest.raises(QCompileError, match=r"expected \(N, 2, 1, 16\)"):
        checked_samples(np.zeros((0, 2, 1, 16)), (2, 1, 16), "a", "h0")  # no samples

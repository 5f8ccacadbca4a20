"""Varint and delta-coded index round trips and malformed input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.varint import (
    VarintError,
    decode_indices,
    decode_varints,
    encode_indices,
    encode_varints,
)


@given(st.lists(st.integers(0, 2**63 - 1), max_size=200))
def test_varints_round_trip(values):
    v = np.array(values, dtype=np.uint64)
    assert decode_varints(encode_varints(v)).tolist() == values


def test_small_values_take_one_byte_and_boundaries_grow():
    assert len(encode_varints(np.array([0, 1, 127]))) == 3
    assert len(encode_varints(np.array([128]))) == 2
    assert len(encode_varints(np.array([2**14 - 1, 2**14]))) == 2 + 3


@settings(max_examples=50)
@given(st.sets(st.integers(0, 10**6), max_size=300))
def test_indices_round_trip(values):
    idx = np.array(sorted(values), dtype=np.int64)
    buf = encode_indices(idx)
    assert np.array_equal(decode_indices(buf, idx.size, 10**6 + 1), idx)


def test_dense_run_costs_one_byte_per_index():
    assert len(encode_indices(np.arange(1000) + 5000)) == 2 + 999


def test_encode_rejects_unsorted_and_negative():
    with pytest.raises(ValueError, match="strictly increasing"):
        encode_indices(np.array([3, 3]))
    with pytest.raises(ValueError, match=r"\[0, 2\*\*63\)"):
        encode_varints(np.array([-1]))


@pytest.mark.parametrize(
    "buf, count, size",
    [
        (b"\x80", 1, 10),  # ends inside a value
        (b"\xff" * 10 + b"\x01", 1, 10),  # longer than 9 bytes
        (bytes([5]), 1, 5),  # index 5 out of range for size 5
        (bytes([1, 2]), 1, 10),  # count mismatch
        (bytes([0x7F] * 3), 3, 200),  # sum of gaps beyond size
    ],
)
def test_decode_rejects_malformed(buf, count, size):
    with pytest.raises(VarintError):
        decode_indices(buf, count, size)


@given(st.binary(max_size=64), st.integers(0, 40), st.integers(1, 10**9))
def test_random_bytes_only_raise_varint_error(buf, count, size):
    try:
        idx = decode_indices(buf, count, size)
    except VarintError:
        return
    assert idx.size == count and (idx.size == 0 or (idx[-1] < size and np.all(np.diff(idx) > 0)))

"""Vectorised LEB128 varints and delta-coded sorted indices.

A varint stores an unsigned integer 7 bits per byte, least significant group first; the high
bit of a byte is 1 when more bytes follow. Sorted unique indices are delta-coded first: the
first index is written as is and every later one as ``gap - 1`` (gaps of unique sorted indices
are >= 1), so dense runs cost one byte per index. Encoding and decoding are whole-array numpy
operations (a loop over at most 9 byte positions, never over the values).

    >>> buf = encode_indices(np.array([3, 4, 9, 300]))
    >>> decode_indices(buf, count=4, size=1000).tolist()
    [3, 4, 9, 300]
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "MAX_VARINT_BYTES",
    "VarintError",
    "decode_indices",
    "decode_varints",
    "encode_indices",
    "encode_varints",
    "varint_bytes",
]

# 9 bytes carry 63 bits: every index that fits an int64 fits, and no sum can overflow uint64.
MAX_VARINT_BYTES = 9


class VarintError(ValueError):
    """Malformed varint bytes (the wire decoder turns this into a ProtocolError)."""


def encode_varints(values: np.ndarray) -> bytes:
    """Encode non-negative integers (n,) as concatenated LEB128 varints."""
    return varint_bytes(values)[0].tobytes()


def varint_bytes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 buffer of the concatenated varints, bytes taken by each value (n,) int64).

    The lengths let a caller split one buffer of many tensors' indices without re-encoding."""
    v = np.asarray(values)
    if v.ndim != 1:
        raise ValueError(f"varints encode a 1-D array, got shape {v.shape}")
    if v.size and (v.min() < 0 or int(v.max()) >= 2**63):
        raise ValueError("varints encode integers in [0, 2**63); delta-code or offset first")
    v = v.astype(np.uint64)
    nbytes = np.ones(v.shape, dtype=np.int64)  # bytes per value: 1 + 7-bit groups past the first
    for j in range(1, MAX_VARINT_BYTES):
        longer = v >= np.uint64(1 << (7 * j))
        if not longer.any():  # indices gaps are small: usually stops after one or two passes
            break
        nbytes += longer
    ends = np.cumsum(nbytes)
    starts = ends - nbytes
    out = np.zeros(int(ends[-1]) if v.size else 0, dtype=np.uint8)
    for j in range(int(nbytes.max()) if v.size else 0):
        has = nbytes > j
        group = (v[has] >> np.uint64(7 * j)) & np.uint64(0x7F)
        more = (nbytes[has] > j + 1).astype(np.uint64) << np.uint64(7)
        out[starts[has] + j] = (group | more).astype(np.uint8)
    return out, nbytes


def decode_varints(buf: bytes | memoryview | np.ndarray) -> np.ndarray:
    """Decode concatenated LEB128 varints into uint64 (n,); raises VarintError if malformed."""
    b = np.frombuffer(buf, dtype=np.uint8) if not isinstance(buf, np.ndarray) else buf
    if b.size == 0:
        return np.zeros(0, dtype=np.uint64)
    ends = np.flatnonzero(b < 0x80)  # a byte without the continuation bit ends a value
    if ends.size == 0 or ends[-1] != b.size - 1:
        raise VarintError("varint bytes end inside a value")
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    lengths = ends - starts + 1
    if lengths.max() > MAX_VARINT_BYTES:
        raise VarintError(f"varint longer than {MAX_VARINT_BYTES} bytes")
    pos = np.arange(b.size) - np.repeat(starts, lengths)  # byte position inside its value
    parts = (b & 0x7F).astype(np.uint64) << (np.uint64(7) * pos.astype(np.uint64))
    return np.add.reduceat(parts, starts)


def encode_indices(indices: np.ndarray) -> bytes:
    """Delta-code strictly increasing non-negative indices (n,) as varints."""
    idx = np.asarray(indices, dtype=np.int64)
    if idx.size and (idx[0] < 0 or np.any(np.diff(idx) <= 0)):
        raise ValueError("indices must be non-negative and strictly increasing (sort, dedupe)")
    gaps = np.diff(idx, prepend=np.int64(-1)) - 1
    return encode_varints(gaps)


def decode_indices(buf: bytes | memoryview, count: int, size: int) -> np.ndarray:
    """Inverse of `encode_indices`: int64 (count,), all in [0, size); VarintError otherwise."""
    gaps = decode_varints(buf)
    if gaps.size != count:
        raise VarintError(f"expected {count} indices, found {gaps.size}")
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    # Each gap < 2**63 and count*size is bounded by the caller, but a hostile sum can still wrap:
    # reject before cumsum when any single gap already exceeds the space.
    if int(gaps.max()) >= size:
        raise VarintError("index gap beyond the tensor size")
    idx = np.cumsum(gaps.astype(np.int64) + 1) - 1
    if int(idx[-1]) >= size:
        raise VarintError(f"index {int(idx[-1])} out of range for size {size}")
    return idx

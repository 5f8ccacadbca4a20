"""Batched delta compression: the deltas of K streams as the rows of one (K, P) matrix.

A host that speaks for K brains compresses all their deltas in one vectorised pass instead of
K calls of `Codec.encode` (~ms each): one per-row top-k (a value `partition` along rows), one
per-row int8 scale, one varint pass over every row's delta-coded indices. Each row comes out
as exactly the `EncodedTensor` that `get_codec(name, fraction=f).encode({names[i]: row_i})`
would give (same codec, meta and bytes; tests check it), so receivers need nothing new.

    rc = RowCodec("topk_int8", fraction=0.1)          # error feedback per row, like Codec
    tensors = rc.encode_rows(deltas, ["3", "4", ...])  # deltas (K, P) -> K EncodedTensors
    tensors = sparse_tensors(names, shape, rows, cols, values)   # exact sparse rows (beliefs)

Codecs: ``none``, ``fp16``, ``int8``, ``topk``, ``topk_int8`` (``group`` needs per-tensor
axes: use `Codec`). The residual of error feedback is one (K, P) array.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np

from protocols.compression import EncodedTensor, _raw
from protocols.varint import varint_bytes

__all__ = ["ROW_CODECS", "RowCodec", "sparse_tensors"]

ROW_CODECS = ("none", "fp16", "int8", "topk", "topk_int8")


def _int8_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 per row (as `compression._int8` per tensor): q (K, n), scale (K,) f64."""
    peak = np.abs(x).max(axis=1).astype(np.float64) if x.shape[1] else np.zeros(x.shape[0])
    scale = peak / 127.0
    safe = np.where(scale > 0, scale, 1.0)
    q = np.clip(np.rint(x.astype(np.float64) / safe[:, None]), -127, 127).astype(np.int8)
    q[scale == 0] = 0
    return q, scale


@functools.lru_cache(maxsize=16)
def _zero_row_picks(n: int, c: int) -> np.ndarray:
    """(c,) the columns argpartition picks, ascending, as the c largest of n equal magnitudes
    (an all-zero row). Its picks depend on (n, c) alone, so they are found once per size
    and shared (read-only) by every all-zero row of every round."""
    picks = np.sort(np.argpartition(np.zeros(n, np.float32), n - c)[n - c :])
    picks.flags.writeable = False
    return picks


def _top_columns(x: np.ndarray, c: int, mag: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(K, c) int64 columns of each row's c largest |x|, ascending within the row.

    The same picks as `np.argpartition(|x|, n - c, axis=1)[:, n - c:]` sorted. Where a row's
    c-th largest magnitude is unique the set is {|x| >= threshold}: a value-only in-place
    partition (no index shuffling, ~3x faster) finds the threshold and `np.flatnonzero`
    lists the columns already sorted. Rows with ties at the threshold (or NaN) take
    argpartition's picks: an all-zero row (a brain whose weights did not move: most rows
    early in a mission) those it makes for any all-zero row of length n, found once
    (`_zero_row_picks`; no partition at all when every row is zero); any other tied row its
    own. `mag` (K, n) float32 and `mask` (K, n) bool are scratch buffers kept between
    rounds: fresh ones of this size would cost a page fault per 4 KiB.
    """
    k, n = x.shape
    np.abs(x, out=mag)
    zero = mag.max(axis=1) == 0  # (K,) all-zero rows (a NaN row is not one)
    if zero.all():
        return np.broadcast_to(_zero_row_picks(n, c), (k, c)).copy()
    mag.partition(n - c, axis=1)
    thresh = mag[:, n - c].copy()  # (K,) c-th largest per row
    np.abs(x, out=mag)
    np.greater_equal(mag, thresh[:, None], out=mask)
    tied = np.flatnonzero(np.count_nonzero(mask, axis=1) != c)
    if tied.size:  # argpartition's tie-break decides, as in the per-stream codec
        mask[tied] = False
        # an all-zero row is tied (threshold 0, so all n entries pass; c < n here)
        mask[np.flatnonzero(zero)[:, None], _zero_row_picks(n, c)] = True
        own = tied[~zero[tied]]
        picks = np.argpartition(mag[own], n - c, axis=1)[:, n - c :]
        mask[own[:, None], picks] = True
    flat = np.flatnonzero(mask).reshape(k, c)  # row-major: ascending within each row
    return flat - (np.arange(k, dtype=np.int64) * n)[:, None]


def _csr_tensors(
    codec: str,
    names: Sequence[str],
    shape: tuple[int, ...],
    counts: np.ndarray,
    idx: np.ndarray,
    wire: np.ndarray,
    scales: np.ndarray | None,
) -> list[EncodedTensor]:
    """One topk/topk_int8 tensor per row from CSR-ordered picks.

    counts (K,) picks per row (> 0), idx (sum counts,) ascending within each row, wire
    (sum counts,) values as sent (float32 or int8), scales (K,) for int8. The varints of all
    rows are written in one pass; each row's first index is written as itself."""
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    gaps = np.diff(idx, prepend=np.int64(-1)) - 1
    gaps[starts] = idx[starts]
    varints, lengths = varint_bytes(gaps)
    byte_end = np.cumsum(lengths)[np.cumsum(counts) - 1] if idx.size else np.zeros(0, np.int64)
    byte_start = np.concatenate([[0], byte_end[:-1]])
    dtype = "int8" if codec == "topk_int8" else "float32"
    out = []
    for r, name in enumerate(names):
        c, s = int(counts[r]), int(starts[r])
        meta: dict[str, float | int] = {"count": c}
        if scales is not None:
            meta["scale"] = float(scales[r])
        parts = (
            ("index", "varint", _raw(varints[byte_start[r] : byte_end[r]])),
            ("values", dtype, _raw(wire[s : s + c])),
        )
        out.append(EncodedTensor(name, codec, shape, meta, parts))
    return out


def sparse_tensors(
    names: Sequence[str],
    shape: tuple[int, ...],
    rows: np.ndarray,
    cols: np.ndarray,
    values: np.ndarray,
) -> list[EncodedTensor]:
    """Exact sparse updates as `topk` tensors (fp32 values), one per row that has entries.

    rows, cols (M,) sorted by (row, col) as `np.nonzero` gives them; values (M,) float32;
    names[r] names row r. Rows without entries get no tensor (nothing to send)."""
    rows = np.asarray(rows, np.int64)
    if rows.size == 0:
        return []
    present, counts = np.unique(rows, return_counts=True)
    return _csr_tensors(
        "topk",
        [names[r] for r in present.tolist()],
        tuple(int(s) for s in shape),
        counts,
        np.asarray(cols, np.int64),
        np.ascontiguousarray(values, np.float32),
        None,
    )


class RowCodec:
    """A batched per-stream compressor for K streams (rows); see the module docstring."""

    def __init__(
        self, name: str, fraction: float = 0.1, error_feedback: bool | None = None
    ) -> None:
        if name not in ROW_CODECS:
            raise ValueError(
                f"RowCodec handles {ROW_CODECS}, got {name!r}; use protocols.get_codec per "
                "tensor for 'group'"
            )
        if not 0.0 < fraction <= 1.0:
            raise ValueError(f"fraction must be in (0, 1], got {fraction}")
        self.name, self.fraction = name, fraction
        self.error_feedback = (
            name in ("topk", "topk_int8") if error_feedback is None else (error_feedback)
        )
        self.residual: np.ndarray | None = None  # (K, P): what was not sent yet
        self._scratch: tuple[np.ndarray, np.ndarray] | None = None  # top-k |x|, mask (K, P)

    def __getstate__(self) -> dict:
        """Pickled (a host's restart snapshot) without the scratch buffers: they hold nothing
        between rounds, and at K = 512 brains they are ~5 bytes per weight, ~48 MB."""
        return {**vars(self), "_scratch": None}

    def reset(self) -> None:
        """Forget the error-feedback residuals."""
        self.residual = None

    def encode_rows(self, rows: np.ndarray, names: Sequence[str]) -> list[EncodedTensor]:
        """rows (K, P) float -> K EncodedTensors of shape (P,), named names[i]."""
        # A private copy only where x is changed (error feedback) or sent as is (`none`):
        # otherwise the codec only reads the caller's rows.
        private = self.error_feedback or self.name == "none"
        x = np.array(rows, dtype=np.float32, copy=True if private else None, order="C")
        if x.ndim != 2 or x.shape[0] != len(names):
            raise ValueError(f"rows must be (K, P) with K = len(names), got {x.shape}")
        if self.error_feedback and self.residual is not None:
            if self.residual.shape != x.shape:
                raise ValueError(
                    f"rows {x.shape} differ from the residual's {self.residual.shape}; one "
                    "RowCodec serves a fixed set of streams (reset() to start over)"
                )
            x += self.residual
        n = x.shape[1]
        shape = (n,)
        if self.name in ("topk", "topk_int8") and n:
            return self._topk(x, names)
        if self.name == "fp16" and n:
            q = x.astype(np.float16)
            sent = q.astype(np.float32)
            tensors = [
                EncodedTensor(nm, "fp16", shape, {}, (("values", "float16", _raw(q[i])),))
                for i, nm in enumerate(names)
            ]
        elif self.name == "int8" and n:
            q, scale = _int8_rows(x)
            sent = q.astype(np.float32) * scale.astype(np.float32)[:, None]
            tensors = [
                EncodedTensor(
                    nm, "int8", shape, {"scale": float(scale[i])}, (("values", "int8", _raw(q[i])),)
                )
                for i, nm in enumerate(names)
            ]
        else:  # none, or empty rows
            sent = x
            tensors = [
                EncodedTensor(nm, "none", shape, {}, (("values", "float32", _raw(x[i])),))
                for i, nm in enumerate(names)
            ]
        if self.error_feedback:
            self.residual = x - sent
        return tensors

    def _topk(self, x: np.ndarray, names: Sequence[str]) -> list[EncodedTensor]:
        k, n = x.shape
        c = min(n, max(1, math.ceil(self.fraction * n)))
        if c == n:
            local = np.broadcast_to(np.arange(n), (k, n)).copy()
        else:
            if self._scratch is None or self._scratch[0].shape != x.shape:
                self._scratch = (np.empty(x.shape, np.float32), np.empty(x.shape, bool))
            local = _top_columns(x, c, *self._scratch)
        values = np.take_along_axis(x, local, axis=1)  # (K, c)
        if self.name == "topk_int8":
            q, scale = _int8_rows(values)
            sent, wire = q.astype(np.float32) * scale.astype(np.float32)[:, None], q
        else:
            scale, sent, wire = None, values, values
        if self.error_feedback:  # what was not sent stays for the next delta
            np.put_along_axis(x, local, values - sent, axis=1)
            self.residual = x
        counts = np.full(k, c, dtype=np.int64)
        return _csr_tensors(
            self.name, names, (n,), counts, local.reshape(-1), wire.reshape(-1), scale
        )

"""Delta compression: named float arrays in, an `EncodedDelta` of raw byte parts out.

A codec object is *per stream* (one sender → its peers): lossy codecs with error feedback keep
the part of each tensor they did not send (the residual) and add it to the next delta, so
nothing is lost for good, only delayed.

    codec = get_codec("topk_int8", fraction=0.01)     # one per brain / per stream
    enc = codec.encode({"w1": delta_w1, "b1": delta_b1})   # EncodedDelta
    enc.wire_ratio                                     # dense fp32 bytes / bytes on the wire
    named = decode_delta(enc)                          # dict[str, np.ndarray float32]

Codecs (per tensor of n entries): ``none`` fp32 (4n bytes), ``fp16`` (2n), ``int8`` with one
per-tensor scale max|x|/127 (n), ``topk`` the k = ceil(fraction*n) largest magnitudes as fp32
values + varint delta-coded indices, ``topk_int8`` the same with int8 values, ``group`` only
the groups (slices along ``group_axes[name]``, e.g. the FFN neuron groups) that changed, or the
top fraction of groups by norm. Decoding is dispatched on each tensor's own codec name, so a
receiver needs no codec state. Malformed parts raise `CodecError` (a ValueError).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import get_args

import msgpack
import numpy as np

from protocols.config import CodecKind
from protocols.varint import (
    VarintError,
    decode_indices,
    decode_varints,
    encode_indices,
    varint_bytes,
)

__all__ = [
    "CODECS",
    "Codec",
    "CodecError",
    "Decoded",
    "EncodedDelta",
    "EncodedTensor",
    "decode_delta",
    "decode_tensor",
    "get_codec",
]

Buffer = bytes | memoryview
# dtype of each part on the wire; "varint" parts are bytes (uint8) holding LEB128 indices.
PART_DTYPES = {"float32": 4, "float16": 2, "int8": 1, "varint": 1}


class CodecError(ValueError):
    """Encoded parts that do not match their codec (wrong sizes, indices out of range...)."""


@dataclass(frozen=True)
class EncodedTensor:
    """One compressed tensor: `parts` are (part name, wire dtype, raw bytes) in wire order."""

    name: str
    codec: str
    shape: tuple[int, ...]
    meta: dict[str, float | int] = field(default_factory=dict)
    parts: tuple[tuple[str, str, Buffer], ...] = ()

    @property
    def size(self) -> int:
        """Number of dense entries."""
        return math.prod(self.shape)

    def manifest_entry(self) -> dict:
        """The manifest record of this tensor (docs/protocol.md §Manifest)."""
        return {
            "name": self.name,
            "codec": self.codec,
            "shape": list(self.shape),
            "meta": dict(self.meta),
            "parts": [[p, dt, memoryview(b).nbytes] for p, dt, b in self.parts],
        }


@dataclass(frozen=True)
class EncodedDelta:
    """A compressed set of named tensors with its cost on the wire."""

    tensors: tuple[EncodedTensor, ...]

    @property
    def buffer_bytes(self) -> int:
        return sum(memoryview(b).nbytes for t in self.tensors for _, _, b in t.parts)

    @property
    def wire_bytes(self) -> int:
        """Buffers plus their msgpack manifest: what this delta adds to a message."""
        manifest = msgpack.packb([t.manifest_entry() for t in self.tensors], use_bin_type=True)
        return self.buffer_bytes + len(manifest)

    @property
    def dense_bytes(self) -> int:
        """The same tensors as dense fp32."""
        return 4 * sum(t.size for t in self.tensors)

    @property
    def wire_ratio(self) -> float:
        """How many times smaller than dense fp32 (higher is better)."""
        return self.dense_bytes / max(self.wire_bytes, 1)


def _part(t: EncodedTensor, i: int, name: str, dtype: str, count: int) -> np.ndarray:
    """Part i of t as a read-only array of `count` entries, checked against its codec."""
    if len(t.parts) <= i:
        raise CodecError(f"{t.name}: codec {t.codec} expects part {name!r}")
    pname, pdtype, buf = t.parts[i]
    if pname != name or pdtype != dtype:
        raise CodecError(f"{t.name}: part {i} is {pname}/{pdtype}, expected {name}/{dtype}")
    np_dtype = np.uint8 if dtype == "varint" else np.dtype(dtype)
    nbytes = memoryview(buf).nbytes
    if dtype != "varint" and nbytes != count * PART_DTYPES[dtype]:
        raise CodecError(f"{t.name}: part {name} has {nbytes} bytes, expected {count} {dtype}")
    return np.frombuffer(buf, dtype=np_dtype)


def _meta_int(t: EncodedTensor, key: str, lo: int, hi: int) -> int:
    v = t.meta.get(key)
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise CodecError(f"{t.name}: meta {key}={v!r} not an int in [{lo}, {hi}]")
    return v


def _meta_scale(t: EncodedTensor) -> float:
    v = t.meta.get("scale")
    if not isinstance(v, float | int) or isinstance(v, bool) or not (0 <= v < math.inf):
        raise CodecError(f"{t.name}: meta scale={v!r} must be a finite float >= 0")
    return float(v)


def _sparse(
    t: EncodedTensor, values_dtype: str, idx: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(indices (k,), values (k,)) of a topk/topk_int8 tensor; idx: already decoded."""
    k = _meta_int(t, "count", 0, t.size)
    if idx is None:
        try:
            idx = decode_indices(_part(t, 0, "index", "varint", k), k, t.size)
        except VarintError as e:
            raise CodecError(f"{t.name}: {e}") from None
    return idx, _part(t, 1, "values", values_dtype, k)


def _sparse_indices(tensors: list[EncodedTensor]) -> list[np.ndarray]:
    """Indices of many topk* tensors with one varint pass (each as `decode_indices` would).

    Each index part must end on a varint's last byte, so concatenating them cannot merge two
    tensors' varints, and the values found per part are counted against each `count`."""
    counts = [_meta_int(t, "count", 0, t.size) for t in tensors]
    if not any(counts):
        return [np.zeros(0, dtype=np.int64) for _ in tensors]
    bufs = [_part(t, 0, "index", "varint", k) for t, k in zip(tensors, counts, strict=True)]
    for t, b, k in zip(tensors, bufs, counts, strict=True):
        if (b.size and b[-1] >= 0x80) or (b.size == 0) != (k == 0):
            raise CodecError(f"{t.name}: index part must hold exactly {k} whole varints")
    joined = np.concatenate(bufs)
    try:
        gaps = decode_varints(joined)
    except VarintError as e:
        raise CodecError(f"index parts: {e}") from None
    ends = np.flatnonzero(joined < 0x80)  # last byte of every varint
    found = np.diff(np.searchsorted(ends, np.cumsum([0, *[b.size for b in bufs]])))
    sizes = np.array([t.size for t in tensors], dtype=np.int64)
    counts_a = np.array(counts, dtype=np.int64)
    bad = np.flatnonzero(found != counts_a)
    if bad.size:
        t = tensors[bad[0]]
        raise CodecError(f"{t.name}: expected {counts[bad[0]]} indices, found {found[bad[0]]}")
    limit = np.repeat(sizes, counts_a)
    if gaps.size and np.any(gaps >= limit.astype(np.uint64)):
        raise CodecError("an index gap reaches beyond its tensor's size")
    # gaps < size each and sum(count * size) <= 2**52 for any message a Receiver admits, but
    # decode_delta is public: refuse sums that could wrap int64 rather than trust the caller.
    if float(np.sum(gaps, dtype=np.float64)) + gaps.size >= 2.0**62:
        raise CodecError("index gaps sum beyond 2**62")
    run = np.cumsum(gaps.astype(np.int64) + 1) - 1  # running over all tensors
    starts = np.concatenate([[0], np.cumsum(counts_a)[:-1]])
    base = np.zeros(len(tensors), dtype=np.int64)
    later = starts > 0
    base[later] = run[starts[later] - 1] + 1  # where the previous tensor's run ended
    local = run - np.repeat(base, counts_a)
    last = starts + counts_a - 1
    over = np.flatnonzero((counts_a > 0) & (local[np.maximum(last, 0)] >= sizes))
    if over.size:
        raise CodecError(f"{tensors[over[0]].name}: index out of range")
    return np.split(local, starts[1:])


def _scatter(shape: tuple[int, ...], idx: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = np.zeros(math.prod(shape), dtype=np.float32)
    out[idx] = values
    return out.reshape(shape)


def _decode_group(t: EncodedTensor) -> np.ndarray:
    axis = _meta_int(t, "axis", 0, max(len(t.shape) - 1, 0))
    if not t.shape:
        raise CodecError(f"{t.name}: group codec needs at least one axis")
    moved = (t.shape[axis], *t.shape[:axis], *t.shape[axis + 1 :])
    width = math.prod(moved[1:])
    k = _meta_int(t, "count", 0, moved[0])
    try:
        groups = decode_indices(_part(t, 0, "index", "varint", k), k, moved[0])
    except VarintError as e:
        raise CodecError(f"{t.name}: {e}") from None
    rows = _part(t, 1, "values", "float32", k * width).reshape(k, width)
    out = np.zeros((moved[0], width), dtype=np.float32)
    out[groups] = rows
    return np.moveaxis(out.reshape(moved), 0, axis)


def decode_tensor(t: EncodedTensor, idx: np.ndarray | None = None) -> np.ndarray:
    """Dense float32 array of shape t.shape; CodecError when the parts do not fit.

    idx: the topk* indices when already decoded (`decode_delta` decodes them in one pass)."""
    n = t.size
    if t.codec == "none":
        return _part(t, 0, "values", "float32", n).reshape(t.shape)
    if t.codec == "fp16":
        return _part(t, 0, "values", "float16", n).astype(np.float32).reshape(t.shape)
    if t.codec == "int8":
        q = _part(t, 0, "values", "int8", n)
        return (q.astype(np.float32) * np.float32(_meta_scale(t))).reshape(t.shape)
    if t.codec in ("topk", "topk_int8"):
        if idx is None:
            idx, _ = _sparse(t, "float32" if t.codec == "topk" else "int8")
        return _scatter(t.shape, *_sparse_values(t, idx))
    if t.codec == "group":
        return _decode_group(t)
    raise CodecError(f"{t.name}: unknown codec {t.codec!r}; known: {sorted(CODECS)}")


class Decoded(Mapping[str, np.ndarray]):
    """Decoded tensors by name (float32, read-only): `topk*` tensors stay sparse until a
    caller asks for them dense (`d[name]`, made once and kept), others are decoded at once.

    A receiver that only adds or lists the sent entries reads `sparse(name)` instead and
    never builds the (mostly zero) dense array: at N = 1,024 brains a round's DELTA rows
    dense are ~0.1 GB of zeros per host. `select` renames a subset without decoding it."""

    def __init__(
        self,
        dense: dict[str, np.ndarray],
        sparse: dict[str, tuple[tuple[int, ...], np.ndarray, np.ndarray]],
        order: list[str],
    ) -> None:
        self._dense, self._sparse, self._order = dense, sparse, order

    @classmethod
    def of(cls, tensors: Iterable[EncodedTensor]) -> Decoded:
        """Decode `tensors` (CodecError if their parts do not fit); the topk* indices of all
        tensors in one varint pass."""
        tensors = list(tensors)
        sparse = [t for t in tensors if t.codec in ("topk", "topk_int8")]
        found = dict(zip(map(id, sparse), _sparse_indices(sparse), strict=True)) if sparse else {}
        dense, kept = {}, {}
        for t in tensors:
            if id(t) in found:
                kept[t.name] = (t.shape, *_sparse_values(t, found[id(t)]))
                dense.pop(t.name, None)  # a later tensor of the same name wins, as in a dict
            else:
                dense[t.name] = decode_tensor(t)
                kept.pop(t.name, None)
        return cls(dense, kept, list(dict.fromkeys(t.name for t in tensors)))

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._dense:
            shape, idx, values = self._sparse[name]  # KeyError for an unknown name
            self._dense[name] = _scatter(shape, idx, values)
        return self._dense[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._order)

    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, name: object) -> bool:
        return name in self._dense or name in self._sparse

    def shape(self, name: str) -> tuple[int, ...]:
        """The dense shape of tensor `name`, without decoding it."""
        return self._sparse[name][0] if name in self._sparse else self._dense[name].shape

    def sparse(self, name: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(flat indices (k,) int64 ascending, values (k,) float32) of a topk* tensor: the
        dense array is zero elsewhere; None for a tensor sent dense."""
        got = self._sparse.get(name)
        return None if got is None else got[1:]

    def non_finite(self) -> str | None:
        """The name of the first tensor holding NaN or ±inf (sparse: its sent values, the
        only entries that are not zero), None when every value is finite."""
        for name in self._order:
            got = self._sparse.get(name)
            values = got[2] if got is not None else self._dense[name]
            if not np.isfinite(values).all():
                return name
        return None

    def select(self, names: Mapping[str, str]) -> Decoded:
        """The tensors `names` values, renamed to its keys (new name -> name here)."""
        dense = {new: self._dense[old] for new, old in names.items() if old in self._dense}
        kept = {new: self._sparse[old] for new, old in names.items() if old in self._sparse}
        return Decoded(dense, kept, list(names))


def _sparse_values(t: EncodedTensor, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(indices, float32 values) of a topk* tensor whose indices are decoded, exactly the
    entries `decode_tensor` scatters."""
    if t.codec == "topk":
        return _sparse(t, "float32", idx)
    idx, q = _sparse(t, "int8", idx)
    return idx, q.astype(np.float32) * np.float32(_meta_scale(t))


def decode_delta(delta: EncodedDelta | Iterable[EncodedTensor]) -> Decoded:
    """All tensors of a delta, float32, by name: dense on access (`Decoded`)."""
    return Decoded.of(delta.tensors if isinstance(delta, EncodedDelta) else delta)


def _int8(x: np.ndarray) -> tuple[np.ndarray, float]:
    """Symmetric per-tensor int8: q = rint(x/scale), scale = max|x|/127; error <= scale/2."""
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    scale = peak / 127.0
    if scale == 0.0:
        return np.zeros(x.shape, dtype=np.int8), 0.0
    q = np.clip(np.rint(x.astype(np.float64) / scale), -127, 127).astype(np.int8)
    return q, scale


def _raw(a: np.ndarray) -> memoryview:
    """Zero-copy byte view of a C-contiguous array (the wire carries plain bytes)."""
    return memoryview(np.ascontiguousarray(a).reshape(-1)).cast("B")


class Codec:
    """A per-stream compressor; see the module docstring for the codecs and their parameters."""

    def __init__(
        self,
        name: str,
        fraction: float = 0.1,
        error_feedback: bool | None = None,
        group_axes: Mapping[str, int] | None = None,
        tol: float = 0.0,
    ) -> None:
        if name not in CODECS:
            raise ValueError(f"unknown codec {name!r}; choose one of {sorted(CODECS)}")
        if not 0.0 < fraction <= 1.0:
            raise ValueError(f"fraction must be in (0, 1], got {fraction}")
        if name == "group" and group_axes is None:
            raise ValueError(
                "codec 'group' needs group_axes={tensor name: axis} (bank.group_axes())"
            )
        self.name = name
        self.fraction = fraction
        # Error feedback is on by default where the codec drops whole entries.
        self.error_feedback = (
            name in ("topk", "topk_int8", "group") if error_feedback is None else error_feedback
        )
        self.group_axes = dict(group_axes or {})
        self.group_fraction = fraction if name == "group" and fraction < 1.0 else None
        self.tol = tol
        self.residual: dict[str, np.ndarray] = {}

    def reset(self) -> None:
        """Forget the error-feedback residuals (e.g. after a full weight sync)."""
        self.residual.clear()

    def encode(self, named: Mapping[str, np.ndarray]) -> EncodedDelta:
        """Compress named arrays (any float dtype, any shape) into an EncodedDelta."""
        if self.name in ("topk", "topk_int8"):
            return self._encode_topk(named)
        tensors = []
        for name, arr in named.items():
            x = np.ascontiguousarray(arr, dtype=np.float32)
            if self.error_feedback and name in self.residual:
                x = x + self.residual[name]
            t = self._encode_one(name, x)
            if self.error_feedback:
                self.residual[name] = x - decode_tensor(t)
            tensors.append(t)
        return EncodedDelta(tuple(tensors))

    def _encode_one(self, name: str, x: np.ndarray) -> EncodedTensor:
        shape = tuple(int(s) for s in x.shape)
        flat = x.reshape(-1)
        if self.name == "fp16":
            return EncodedTensor(
                name, "fp16", shape, {}, (("values", "float16", _raw(flat.astype(np.float16))),)
            )
        if self.name == "int8":
            q, scale = _int8(flat)
            return EncodedTensor(
                name, "int8", shape, {"scale": scale}, (("values", "int8", _raw(q)),)
            )
        if self.name == "group" and name in self.group_axes and x.ndim:
            return self._encode_group(name, x)
        return EncodedTensor(name, "none", shape, {}, (("values", "float32", _raw(flat)),))

    def _encode_topk(self, named: Mapping[str, np.ndarray]) -> EncodedDelta:
        """Top-k of every tensor, then one varint pass over all tensors' indices (the costly
        part for small tensors). Each tensor's residual is stored as soon as it is known, so
        its previous one is freed and reused right away (no fresh pages for a big delta).
        Same tensors on the wire as encoding one by one."""
        names, shapes, picks, wire_values, scales = list(named), [], [], [], []
        for k in names:
            shape = tuple(int(s) for s in np.shape(named[k]))
            x = np.asarray(named[k], dtype=np.float32).reshape(-1)
            fed = self.error_feedback and k in self.residual
            if fed:
                x = x + self.residual[k].reshape(-1)  # a new array: ours to reuse below
            n = x.size
            c = min(n, max(1, math.ceil(self.fraction * n))) if n else 0
            local = np.arange(n) if c == n else np.argpartition(np.abs(x), n - c)[n - c :]
            local.sort()
            values = x[local]
            if self.name == "topk_int8":
                q, scale = _int8(values)
                sent, wire = q.astype(np.float32) * np.float32(scale), q
            else:
                scale, sent, wire = 0.0, values, values
            if self.error_feedback:  # what was not sent stays for the next delta
                rest = x if fed else x.copy()
                rest[local] -= sent
                self.residual[k] = rest.reshape(shape)
            shapes.append(shape)
            picks.append(local)
            wire_values.append(wire)
            scales.append(scale)
        counts = np.array([p.size for p in picks], dtype=np.int64)
        idx = np.concatenate(picks) if picks else np.zeros(0, np.int64)  # (K,) local indices
        first = np.concatenate([[0], np.cumsum(counts)[:-1]])[counts > 0]
        gaps = np.diff(idx, prepend=np.int64(-1)) - 1
        gaps[first] = idx[first]  # a tensor's first index is written as itself
        varints, lengths = varint_bytes(gaps)
        byte_end = np.concatenate([[0], np.cumsum(lengths)])[np.cumsum(counts)].tolist()
        dtype = "int8" if self.name == "topk_int8" else "float32"
        tensors, b0 = [], 0
        for t, k in enumerate(names):
            if not counts[t]:  # an empty tensor
                empty = (("values", "float32", b""),)
                tensors.append(EncodedTensor(k, "none", shapes[t], {}, empty))
                continue
            meta: dict[str, float | int] = {"count": int(counts[t])}
            if dtype == "int8":
                meta["scale"] = scales[t]
            parts = (
                ("index", "varint", _raw(varints[b0 : byte_end[t]])),
                ("values", dtype, _raw(wire_values[t])),
            )
            tensors.append(EncodedTensor(k, self.name, shapes[t], meta, parts))
            b0 = byte_end[t]
        return EncodedDelta(tuple(tensors))

    def _encode_group(self, name: str, x: np.ndarray) -> EncodedTensor:
        axis = self.group_axes[name] % x.ndim
        rows = np.moveaxis(x, axis, 0).reshape(x.shape[axis], -1)  # (G, entries per group)
        norms = np.sqrt(np.einsum("gi,gi->g", rows, rows, dtype=np.float64))
        keep = np.flatnonzero(norms > self.tol)
        if self.group_fraction is not None and keep.size:
            k = max(1, math.ceil(self.group_fraction * rows.shape[0]))
            keep = np.sort(keep[np.argsort(-norms[keep], kind="stable")[:k]])
        values = np.ascontiguousarray(rows[keep])
        meta = {"axis": axis, "count": int(keep.size)}
        parts = (("index", "varint", encode_indices(keep)), ("values", "float32", _raw(values)))
        return EncodedTensor(name, "group", tuple(int(s) for s in x.shape), meta, parts)


CODECS: tuple[CodecKind, ...] = get_args(CodecKind)  # the config's list is the one list


def get_codec(name: str, **params) -> Codec:
    """A fresh per-stream codec: `get_codec("topk", fraction=0.1)`; params as in `Codec`."""
    return Codec(name, **params)

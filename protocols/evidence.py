"""Evidence increments on the wire: what a drone learned about the map, fused exactly once.

A BELIEF payload is a list of `Increment`s, each stamped with the drone that observed it
(`origin`) and the round it was first shared in (`stamp`); (origin, stamp) names it across
the whole team. Per increment, sparse over the map's H*W cells:

- `cells` (M,) int64 ascending, `values` (M,) float32: what the increment adds there (the
  policy gives the meaning: log-odds evidence when searching, last-seen ticks when patrolling);
- `pinned` (Q,) int64 ascending, `truth` (Q,) bool: cells whose truth an inspection settled
  (definitive: a receiver pins them and nothing later unpins them).

Tensors of one payload (docs/protocol.md §3), each a `topk` fp32 tensor of shape (H*W,):
`"ev.<origin>.<stamp>"` (the values) and `"pin.<origin>.<stamp>"` (+1 target, −1 empty);
in a batched message prefixed `"<brain>/"` like any per-brain tensor. A zero value carries no
information in either tensor, so the dense decode loses nothing.

`Ledger` remembers, per receiving brain, which (origin, stamp) it has fused, so a relayed
increment that arrives again by another path is dropped (gossip floods each increment
once over the graph; a hub relays every upload once).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from protocols.compression import Decoded, EncodedTensor
from protocols.messages import ProtocolError
from protocols.rowcodec import sparse_tensors

__all__ = [
    "Increment",
    "Ledger",
    "grouped_tensors",
    "increment_bytes",
    "increment_tensors",
    "read_increments",
]

_NAME = re.compile(r"^(ev|pin)\.(\d+)\.(\d+)$")


@dataclass(frozen=True)
class Increment:
    """One drone's evidence since it last shared; see the module docstring for the fields."""

    origin: int
    stamp: int
    cells: np.ndarray
    values: np.ndarray
    pinned: np.ndarray
    truth: np.ndarray

    @property
    def key(self) -> tuple[int, int]:
        """(origin, stamp): the increment's name across the team."""
        return (self.origin, self.stamp)

    def __bool__(self) -> bool:
        return bool(self.cells.size or self.pinned.size)


def increment_bytes(n_cells: int, n_items: int) -> int:
    """Worst-case bytes of `n_items` increments over a map of `n_cells` cells: every cell in
    both tensors (a varint index of at most 5 bytes + fp32 value) plus manifest slack."""
    return n_items * (2 * 9 * n_cells + 256)


def increment_tensors(items: Sequence[Increment], n_cells: int, prefix: str = "") -> list:
    """The tensors of `items` (one `ev` and one `pin` tensor each, when not empty), names
    prefixed by `prefix` (e.g. "3/" in a batch). Returns list[EncodedTensor]."""
    return grouped_tensors([(prefix, items)], n_cells)[0]


def grouped_tensors(
    groups: Sequence[tuple[str, Sequence[Increment]]], n_cells: int
) -> list[list[EncodedTensor]]:
    """`increment_tensors` of many (prefix, items) groups at once (a host's brains: one
    group each, prefix "<brain>/"), in one encoding pass: the same tensors, byte for byte,
    as one call per group, at the cost of one."""
    names: list[str] = []
    owner: list[int] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    for g, (prefix, items) in enumerate(groups):
        for item in items:
            for kind, idx, v in (
                ("ev", item.cells, item.values),
                ("pin", item.pinned, np.where(item.truth, 1.0, -1.0)),
            ):
                if idx.size:
                    cols.append(np.asarray(idx, np.int64))
                    vals.append(np.asarray(v, np.float32))
                    names.append(f"{prefix}{kind}.{item.origin}.{item.stamp}")
                    owner.append(g)
    out: list[list[EncodedTensor]] = [[] for _ in groups]
    if not names:
        return out
    sizes = np.fromiter((c.size for c in cols), np.int64, len(cols))
    rows = np.repeat(np.arange(len(names), dtype=np.int64), sizes)
    tensors = sparse_tensors(names, (n_cells,), rows, np.concatenate(cols), np.concatenate(vals))
    for g, t in zip(owner, tensors, strict=True):  # every name has entries: one tensor each
        out[g].append(t)
    return out


def read_increments(
    arrays: Mapping[str, np.ndarray], n_brains: int, n_cells: int, round_idx: int
) -> list[Increment]:
    """The increments of one payload's decoded arrays, sorted by (origin, stamp).

    ProtocolError("manifest") for a tensor name that is not `ev.<origin>.<stamp>` or
    `pin.<origin>.<stamp>`, an origin outside [0, n_brains), a stamp after `round_idx`, an
    array not of n_cells values, or a pin value other than ±1."""
    found: dict[tuple[int, int], dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    for name in arrays:
        m = _NAME.match(name)
        if m is None:
            raise ProtocolError("manifest", f"a belief payload names {name!r}")
        origin, stamp = int(m[2]), int(m[3])
        if origin >= n_brains or stamp > round_idx:
            raise ProtocolError(
                "manifest", f"{name!r}: origin outside the team of {n_brains} or stamp after"
                f" round {round_idx}"
            )  # fmt: skip
        shape = arrays.shape(name) if isinstance(arrays, Decoded) else np.shape(arrays[name])
        size = math.prod(shape)
        if size != n_cells:
            raise ProtocolError("manifest", f"{name!r} has {size} cells, not {n_cells}")
        found.setdefault((origin, stamp), {})[m[1]] = _nonzero(arrays, name)
    out = []
    none = (np.zeros(0, np.int64), np.zeros(0, np.float32))
    for (origin, stamp), parts in sorted(found.items()):
        cells, ev = parts.get("ev", none)
        pinned, pin = parts.get("pin", none)
        if np.any(np.abs(pin) != 1.0):
            raise ProtocolError("manifest", f"pin.{origin}.{stamp} holds values other than ±1")
        out.append(Increment(origin, stamp, cells, ev, pinned, pin > 0))
    return out


def _nonzero(arrays: Mapping[str, np.ndarray], name: str) -> tuple[np.ndarray, np.ndarray]:
    """(flat cells (M,) int64 ascending, float32 values (M,)) where tensor `name` is not zero:
    from its sent entries when it came sparse (`Decoded.sparse`), never densified."""
    got = arrays.sparse(name) if isinstance(arrays, Decoded) else None
    if got is None:
        flat = np.asarray(arrays[name], np.float32).reshape(-1)
        cells = np.flatnonzero(flat)
        return cells, flat[cells]
    idx, values = got
    keep = values != 0
    return idx[keep], values[keep]


class Ledger:
    """Which (origin, stamp) increments each of a host's brains has fused: exactly once."""

    def __init__(self) -> None:
        self._seen: dict[int, set[tuple[int, int]]] = {}

    def has(self, brain: int, key: tuple[int, int]) -> bool:
        """Whether `brain` has fused the increment named key = (origin, stamp)."""
        return key in self._seen.get(brain, ())

    def first(self, brain: int, item: Increment) -> bool:
        """True (and noted) the first time `brain` meets `item`; its own are never new."""
        if item.origin == brain:
            return False
        seen = self._seen.setdefault(brain, set())
        if item.key in seen:
            return False
        seen.add(item.key)
        return True

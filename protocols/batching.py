"""Batched messages (docs/protocol.md §3): many brains' payloads in one signed message.

A host speaks for K brains. Per (destination host, round, kind) it sends one message whose
body `brains` lists them (ascending) and whose tensors are named `"<brain>"` (one flat row of
the brain's P weights) or `"<brain>/<tensor>"` (one per weight tensor, for the `group` codec,
which needs each tensor's group axis). The header's sender is the batch's first brain.

    layout = RowLayout(bank.flat_layout())            # names, shapes, offsets of a (P,) row
    enc = RowEncoder("topk_int8", 0.1, None, layout, None, k)
    q = enc.encode(rows, brains)                      # (K, P) -> brain -> tensors, each once
    out = batch_messages(Kind.DELTA, dest, brains, q, round_idx, per_brain_bytes, max_bytes)
    ...
    for brain, arrays in per_brain(delivery, n_brains):   # checked: BatchError if malformed
        row = layout.unpack(arrays)                       # (P,) float32

`batches` depends only on the brain list and sizes, so a receiver knows which messages (kind,
first brain) to expect without being told. A BELIEF payload is a list of evidence
increments (`protocols.evidence`).
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from protocols.codec import Delivery, Limits
from protocols.compression import Decoded, EncodedTensor, get_codec
from protocols.evidence import read_increments
from protocols.messages import Kind, Message, ProtocolError
from protocols.rowcodec import RowCodec

__all__ = [
    "BATCH_BRAINS",
    "MANIFEST_SLACK",
    "Outgoing",
    "RowEncoder",
    "RowLayout",
    "SparseRow",
    "batch_brains",
    "batch_heads",
    "batch_messages",
    "batches",
    "follows",
    "message",
    "per_brain",
    "read_batch",
    "row_index",
    "sized_batches",
    "split_batch",
]

#: Body lists of a batched message whose i-th entry belongs to `brains[i]` (protocol.md §3).
PER_BRAIN_BODY = ("competence", "position", "goals")

BATCH_BRAINS = 1024  # brains per batched message at most (2 buffers each: under 4096 frames)


def row_index(ids: np.ndarray) -> slice | np.ndarray:
    """Index of rows `ids` (ascending ints) of a team array: a slice where they are one run.

    A host's brains are usually consecutive ids; slicing then gives a view instead of a
    (K, ...) gathered copy, with the same values."""
    ids = np.asarray(ids, np.int64)
    if ids.size and int(ids[-1]) - int(ids[0]) == ids.size - 1 and np.all(np.diff(ids) == 1):
        return slice(int(ids[0]), int(ids[-1]) + 1)
    return ids


@dataclass
class Outgoing:
    """One message to send: `dests` are host indices (each gets one copy)."""

    dests: tuple[int, ...]
    msg: Message


def message(kind: Kind, sender: int, round_idx: int, **kw: Any) -> Message:
    """A Message with the round set; seq and signature are added by the sending host."""
    return Message(kind=kind, sender=int(sender), round=round_idx, **kw)


class RowLayout:
    """One brain's weights as a (P,) float32 row: named tensors in `layout` order, and back.

    `layout`: (name, per-brain shape) of each tensor, as `BrainBank.flat_layout()` gives it
    (the column order of `read_flat` / `add_flat`)."""

    def __init__(self, layout: Sequence[tuple[str, tuple[int, ...]]]) -> None:
        self.names = [n for n, _ in layout]
        self.shapes = dict(layout)
        sizes = [int(np.prod(shape)) for _, shape in layout]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)

    @property
    def size(self) -> int:
        """P, the entries of one row."""
        return int(self.offsets[-1])

    def flat(self, named: dict[str, np.ndarray]) -> np.ndarray:
        """One brain's named arrays -> (P,) float32."""
        return np.concatenate([np.asarray(named[n], np.float32).reshape(-1) for n in self.names])

    def named(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """(P,) -> one brain's named arrays (views)."""
        cut = self.offsets
        return {
            n: flat[..., cut[i] : cut[i + 1]].reshape(self.shapes[n])
            for i, n in enumerate(self.names)
        }

    def pack(self, row: np.ndarray, by_tensor: bool) -> dict[str, np.ndarray]:
        """A (P,) row as message arrays: one flat tensor `w`, or one per weight tensor.

        One tensor per message costs far less to encode, sign and check than ~a dozen small
        ones; `by_tensor` is for the group-sparse codec, which needs each tensor's group axis.
        """
        return self.named(row) if by_tensor else {"w": row}

    def unpack_sparse(self, arrays: Mapping[str, np.ndarray]) -> SparseRow | np.ndarray:
        """`unpack`, but a row that came as one topk* tensor stays sparse (`SparseRow`)."""
        got = arrays.sparse("w") if isinstance(arrays, Decoded) and set(arrays) == {"w"} else None
        if got is None:
            return self.unpack(arrays)
        n = math.prod(arrays.shape("w"))
        if n != self.size:
            raise ProtocolError("manifest", f"a row has {n} entries, a brain {self.size}")
        return SparseRow(*got, self.size)

    def unpack(self, arrays: Mapping[str, np.ndarray]) -> np.ndarray:
        """Inverse of `pack` on received arrays -> (P,) float32; BatchError if it does not fit."""
        if set(arrays) == {"w"}:
            w = np.asarray(arrays["w"], np.float32).reshape(-1)
            if w.size != self.size:
                raise ProtocolError("manifest", f"a row has {w.size} entries, a brain {self.size}")
            return w
        missing = [n for n in self.names if n not in arrays]
        if missing or len(arrays) != len(self.names):
            raise ProtocolError("manifest", f"per-tensor row lacks {missing[:3]} or has extras")
        for n in self.names:
            if np.shape(arrays[n]) != self.shapes[n]:
                raise ProtocolError("manifest", f"{n} has shape {np.shape(arrays[n])}")
        return self.flat(arrays)


@dataclass(frozen=True)
class SparseRow:
    """A (size,) float32 row that is zero except at `idx` (ascending, unique), where it holds
    `values`: a topk* delta as it came, added where it lands without a dense copy."""

    idx: np.ndarray
    values: np.ndarray
    size: int

    def add_to(self, row: np.ndarray) -> None:
        """row += this, in place (the same sums as adding the dense row)."""
        row[self.idx] += self.values

    def dense(self) -> np.ndarray:
        """The (size,) float32 row."""
        out = np.zeros(self.size, np.float32)
        out[self.idx] = self.values
        return out


class RowEncoder:
    """Compresses the local brains' (K, P) rows, each once: `RowCodec` in one vectorised pass,
    or (codec `group`, which needs each tensor's group axis) one `Codec` per brain."""

    def __init__(
        self,
        kind: str,
        fraction: float,
        error_feedback: bool | None,
        layout: RowLayout,
        group_axes: dict[str, int] | None,
        k: int,
    ) -> None:
        self.layout, self.by_tensor = layout, kind == "group"
        if self.by_tensor:
            self.codecs = [
                get_codec(
                    kind, fraction=fraction, error_feedback=error_feedback, group_axes=group_axes
                )
                for _ in range(k)
            ]
        else:
            self.rows = RowCodec(kind, fraction=fraction, error_feedback=error_feedback)

    def encode(self, rows: np.ndarray, brains: Sequence[int]) -> dict[int, list[EncodedTensor]]:
        """rows (K, P) of brains (K,) -> brain -> its tensors, named for a batched message."""
        ids = [int(b) for b in brains]
        if not self.by_tensor:
            tensors = self.rows.encode_rows(rows, [str(b) for b in ids])
            return {b: [t] for b, t in zip(ids, tensors, strict=True)}
        out = {}
        for r, b in enumerate(ids):
            enc = self.codecs[r].encode(self.layout.pack(rows[r], True))
            out[b] = [dataclasses.replace(t, name=f"{b}/{t.name}") for t in enc.tensors]
        return out


def batches(brains: Sequence[int], per_brain_bytes: int, max_bytes: int) -> list[list[int]]:
    """Split a host's brains (ascending) into the batches of its messages to one host.

    Depends only on the brain list and sizes, so a receiver computes the same count: at most
    BATCH_BRAINS brains, and a worst-case size within half of the message limit."""
    size = max(1, min(BATCH_BRAINS, (max_bytes // 2) // max(per_brain_bytes, 1)))
    ids = [int(b) for b in brains]
    return [ids[i : i + size] for i in range(0, len(ids), size)]


MANIFEST_SLACK = 512  # bytes a tensor's manifest entry takes at most (name, codec, parts)


def sized_batches(
    brains: Sequence[int], tensors: dict[int, Sequence[EncodedTensor]], max_bytes: int
) -> list[list[int]]:
    """Split brains (ascending) into consecutive runs by what their tensors really take.

    For payloads whose size only the sender knows (evidence increments: a worst case of one
    relayed increment from every brain of a large team would put each brain in a message of
    its own). Each run holds at most BATCH_BRAINS brains, buffers within the receiver's
    frame limit, dense entries within its element limit and bytes (buffers plus
    MANIFEST_SLACK per tensor) within half of `max_bytes`; a brain over a limit alone goes
    alone. A receiver cannot count these runs ahead: it expects a run's first batch and each
    accepted batch names the next (`follows`)."""
    limits = Limits()
    caps = (BATCH_BRAINS, limits.max_buffers, limits.max_elements, max_bytes // 2)
    out: list[list[int]] = []
    run: list[int] = []
    used = [0, 0, 0, 0]
    for b in (int(b) for b in brains):
        ts = tensors.get(b, ())
        need = (
            1,
            sum(len(t.parts) for t in ts),
            sum(t.size for t in ts),
            sum(MANIFEST_SLACK + sum(memoryview(p).nbytes for _, _, p in t.parts) for t in ts),
        )
        if run and any(u + x > cap for u, x, cap in zip(used, need, caps, strict=True)):
            out.append(run)
            run, used = [], [0, 0, 0, 0]
        run.append(b)
        used = [u + x for u, x in zip(used, need, strict=True)]
    return [*out, run] if run else out


def follows(d: Delivery, run: Sequence[int]) -> list[tuple[Kind, int]]:
    """The batch that a delivered batch of the sized run `run` (one host's brains, ascending)
    announces: [(kind, next brain)] unless it ends the run. ProtocolError("manifest") unless
    its brains are consecutive entries of `run` (a batch that skips or repeats brains)."""
    brains = d.message.body.get("brains", [d.message.sender])
    at = bisect.bisect_left(run, brains[0])
    if list(run[at : at + len(brains)]) != list(brains):
        raise ProtocolError("manifest", f"batch {brains[:3]}... is not a run of its host's brains")
    end = at + len(brains)
    return [(d.message.kind, int(run[end]))] if end < len(run) else []


def batch_heads(
    kind: Kind, brains: Sequence[int], per_brain_bytes: int, max_bytes: int
) -> list[tuple[Kind, int]]:
    """(kind, first brain) of each batched message carrying `brains` to one host: the header
    kind and sender its receiver waits for."""
    return [(kind, b[0]) for b in batches(brains, per_brain_bytes, max_bytes)]


def batch_messages(
    kind: Kind,
    dest: int,
    brains: Sequence[int],
    tensors: dict[int, Iterable[EncodedTensor]],
    round_idx: int,
    per_brain_bytes: int | None,
    max_bytes: int,
    **kw: Any,
) -> list[Outgoing]:
    """Messages to host `dest` carrying `brains`' tensors (already encoded, shared between
    destinations); body `brains` names them, the header's sender is the batch's first brain.
    per_brain_bytes: a worst case (`batches`), or None to split by real size
    (`sized_batches`)."""
    body = dict(kw.pop("body", {}))
    out = []
    if per_brain_bytes is None:
        groups = sized_batches(brains, tensors, max_bytes)
    else:
        groups = batches(brains, per_brain_bytes, max_bytes)
    for batch in groups:
        ts = tuple(t for b in batch for t in tensors.get(b, ()))
        msg = message(kind, batch[0], round_idx, body={**body, "brains": batch}, tensors=ts, **kw)
        out.append(Outgoing((dest,), msg))
    return out


def split_batch(msg: Message) -> list[Message]:
    """The one-brain messages a batched `msg` stands for: what each drone would send alone.

    Brain b's message has header sender b, b's tensors (named `"<b>"` or `"<b>/..."`), the
    shared body fields and b's entry of each per-brain list (`PER_BRAIN_BODY`), and no
    `brains`. A message without `brains` speaks for its sender alone: returned as is. Used to
    count traffic as devices would send it (`swarm.traffic`), never to send."""
    brains = msg.body.get("brains")
    if brains is None:
        return [msg]
    shared = {k: v for k, v in msg.body.items() if k != "brains" and k not in PER_BRAIN_BODY}
    mine: dict[str, list[EncodedTensor]] = {}  # "<b>" -> b's tensors, in message order
    for t in msg.tensors:
        mine.setdefault(t.name.partition("/")[0], []).append(t)
    out = []
    for i, b in enumerate(brains):
        own = {
            k: msg.body[k][i]
            for k in PER_BRAIN_BODY
            if isinstance(msg.body.get(k), list) and len(msg.body[k]) == len(brains)
        }
        ts = tuple(mine.get(str(b), ()))
        body = {**shared, **own}
        out.append(dataclasses.replace(msg, sender=int(b), body=body, tensors=ts))
    return out


def batch_brains(d: Delivery, n_brains: int) -> list[int]:
    """The brains a delivery speaks for: body `brains` (checked), or its header's sender.

    ProtocolError("manifest") unless `brains` is a non-empty list of ints, strictly
    ascending, inside the team [0, n_brains), starting at the header's sender."""
    brains = d.message.body.get("brains")
    if brains is None:
        ids = [d.message.sender]
    elif not isinstance(brains, list) or not brains:
        raise ProtocolError("manifest", "body brains must be a non-empty list of brain ids")
    else:
        ids = brains
    if not all(type(b) is int for b in ids):
        raise ProtocolError("manifest", "body brains must be integers")
    if any(b < 0 or b >= n_brains for b in ids):
        raise ProtocolError("manifest", f"body brains {ids[:5]} outside the team of {n_brains}")
    if any(a >= b for a, b in itertools.pairwise(ids)):
        raise ProtocolError("manifest", "body brains must be strictly ascending")
    if ids[0] != d.message.sender:
        raise ProtocolError("manifest", "a batch's sender must be its first brain")
    return ids


def per_brain(d: Delivery, n_brains: int) -> list[tuple[int, dict[str, np.ndarray]]]:
    """(brain, its arrays) for every brain a delivery speaks for, in the body's order.

    A batched message (body `brains`) names tensors `"<brain>"` (returned as `{"w": row}`) or
    `"<brain>/<name>"` (returned as `{name: array}`); a brain without tensors gets `{}`. A
    single message speaks for its header's sender with its arrays as they are.

    Checked before anything is used (a message is applied whole or not at all):
    ProtocolError("manifest") for a body that does not match its tensors (`batch_brains`, a
    tensor of a brain not in the body). Values are already finite: `Receiver.accept` builds
    every Delivery through `codec.open_payload`, which rejects NaN and infinity as "payload".
    """
    ids = batch_brains(d, n_brains)
    if "brains" not in d.message.body:
        return [(ids[0], d.arrays)]
    names: dict[int, dict[str, str]] = {b: {} for b in ids}
    for name in d.arrays:  # names only: nothing is decoded dense here
        head, _, rest = name.partition("/")
        b = int(head) if head.isdigit() else -1
        if b not in names:
            raise ProtocolError("manifest", f"tensor {name!r} is of no brain in the body")
        names[b][rest or "w"] = name
    if isinstance(d.arrays, Decoded):
        return [(b, d.arrays.select(m)) for b, m in names.items()]
    return [(b, {k: d.arrays[v] for k, v in m.items()}) for b, m in names.items()]


def read_batch(
    d: Delivery, n_brains: int, layout: RowLayout, cells: int, sparse: bool = False
) -> tuple[Kind, list[tuple[int, Any]]]:
    """A batched DELTA's (brain, (P,) row) or BELIEF's (brain, [Increment]) pairs, all
    checked before the caller applies any (`per_brain`, `RowLayout.unpack`,
    `protocols.evidence.read_increments` over maps of `cells` cells). With `sparse` a row
    sent as one topk* tensor comes as a `SparseRow`."""
    parts = per_brain(d, n_brains)
    if d.message.kind == Kind.DELTA:
        unpack = layout.unpack_sparse if sparse else layout.unpack
        return Kind.DELTA, [(b, unpack(a)) for b, a in parts]
    round_idx = d.message.round
    return Kind.BELIEF, [(b, read_increments(a, n_brains, cells, round_idx)) for b, a in parts]

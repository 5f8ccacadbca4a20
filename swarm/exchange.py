"""Knowledge rounds between hosts: the common parts (context, outgoing record, belief copies).

A round is a short sequence of *phases*; in each phase every host first sends (`outgoing`) and
then receives exactly the messages the plan says it must (`expected`) before applying them
(`apply`, sorted by (sender, seq), so a seed gives the same result whatever the timing). The
host owns the sockets; exchanges only decide contents.

Messages are *batched* per (destination host, round, kind) (docs/protocol.md §3, batched
messages): one signed message carries the payloads of all of a host's brains that the
destination needs, body `brains` listing them, tensors named `"<brain>"` (a flat row) or
`"<brain>/<tensor>"`. Each brain's payload is compressed once (`RowEncoder`: one vectorised pass
over the host's (K, P) rows) even when it goes to several hosts; every copy still crosses a
real socket, the sender's own host included, and is counted there. `per_brain` splits a
delivery back into (brain, arrays) pairs; a receiver decodes each message once
(`Receiver.accept`).

The kinds of round are in `swarm.exchange_gossip` (graph topologies, CHOCO-Gossip) and
`swarm.exchange_hub` (`star` and `dynamic`: aggregate at a hub, broadcast); `make_exchange`
picks one for a team plan.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np

from protocols.codec import Delivery
from protocols.compression import EncodedTensor, decode_delta, get_codec
from protocols.config import ProtocolConfig
from protocols.messages import Kind, Message
from protocols.rowcodec import RowCodec, sparse_tensors
from protocols.topology import build
from swarm.teams import TeamPlan

__all__ = [
    "BeliefCopies",
    "Context",
    "Exchange",
    "NoExchange",
    "Outgoing",
    "RowEncoder",
    "batch_messages",
    "batches",
    "make_exchange",
    "message",
    "per_brain",
    "row_index",
    "team_graph",
]

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
class Context:
    """What a round may read and change on one host.

    `local`: global ids of this host's brains, ascending (row r of the bank is brain local[r]).
    `positions`: (N, 2) float32 drone (row, col) of the last tick, for `radio` and heartbeats.
    `competence`: (K,) float32 recent verified precision of the local brains.
    """

    host: int
    plan: TeamPlan
    protocol: ProtocolConfig
    seed: int
    bank: Any
    policy: Any
    local: np.ndarray
    positions: np.ndarray | None = None
    competence: np.ndarray | None = None


@dataclass
class Outgoing:
    """One message to send: `dests` are host indices (each gets one copy)."""

    dests: tuple[int, ...]
    msg: Message


@dataclass
class BeliefCopies:
    """Public copies b̂_j of brains' belief maps, updated only by sparse BELIEF messages.

    A sender ships the cells where its belief moved more than `tol` from its public copy;
    every holder (the sender's own host too, on receipt) writes them in, so all copies agree.
    `maps`: (N, H, W) float32, one row per brain of the team.
    """

    maps: np.ndarray
    tol: float = 1e-3
    known: np.ndarray = field(init=False)  # (N,) bool: brains whose copy was ever updated

    def __post_init__(self) -> None:
        self.known = np.zeros(self.maps.shape[0], bool)

    def update_tensors(self, brain: int, belief: np.ndarray) -> tuple[EncodedTensor, ...]:
        """Sparse update of brain's copy toward `belief` (H, W): indices + fp32 values."""
        flat_new = np.ascontiguousarray(belief, np.float32).reshape(-1)
        diff = flat_new - self.maps[brain].reshape(-1)
        idx = np.flatnonzero(np.abs(diff) > self.tol)
        # A topk tensor with every changed cell is exactly the sparse update the spec names.
        codec = get_codec("topk", fraction=max(idx.size, 1) / max(flat_new.size, 1))
        sparse = np.zeros_like(flat_new)
        sparse[idx] = diff[idx]
        return codec.encode({"cells": sparse}).tensors if idx.size else ()

    def update_rows(
        self, brains: Sequence[int], beliefs: np.ndarray, apply: bool = False
    ) -> dict[int, EncodedTensor]:
        """`update_tensors` for many brains at once: beliefs (K, H, W) of brains (K,).

        Returns brain -> its sparse update (brains whose copy is current are left out).
        `apply`: also add the updates to these copies and mark the brains known, as `add` of
        the decoded tensors would (the values are the same fp32 numbers), without densifying
        each update to a full map first."""
        ids = np.asarray(brains, np.int64)
        new = np.asarray(beliefs, np.float32).reshape(ids.size, -1)
        diff = new - self.maps[row_index(ids)].reshape(ids.size, -1)
        rows, cols = np.nonzero(np.abs(diff) > self.tol)
        values = diff[rows, cols]
        names = [f"{b}/cells" for b in ids.tolist()]  # as a batched message names them
        tensors = sparse_tensors(names, (new.shape[1],), rows, cols, values)
        if apply:
            r, c = np.divmod(cols, self.maps.shape[2])  # (row, col) of each changed cell
            self.maps[ids[rows], r, c] += values
            self.known[ids] = True
        return {int(t.name.partition("/")[0]): t for t in tensors}

    def apply(self, brain: int, tensors: tuple[EncodedTensor, ...]) -> None:
        """Add an encoded sparse update (as sent) to brain's copy."""
        self.add(brain, decode_delta(tensors) if tensors else {})

    def add(self, brain: int, arrays: dict[str, np.ndarray]) -> None:
        """Add a received, decoded update ({"cells": dense (H*W,)}, or {} for none)."""
        if "cells" in arrays:
            self.maps[brain] += arrays["cells"].reshape(self.maps.shape[1:])
        self.known[brain] = True


class Exchange:
    """A kind of knowledge round. Subclasses fill the three phase methods."""

    phases: int = 0

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def outgoing(self, round_idx: int, phase: int) -> list[Outgoing]:
        """Messages this host sends in `phase` of round `round_idx`."""
        return []

    def expected(self, round_idx: int, phase: int) -> int:
        """How many valid messages this host must receive in that phase."""
        return 0

    def apply(self, round_idx: int, phase: int, msgs: list[Delivery]) -> None:
        """Use the phase's deliveries (message + decoded arrays), verified and sorted by
        (sender, seq)."""


class NoExchange(Exchange):
    """No sharing (`isolated`, `single_large`; `central` shares raw OBS every tick instead)."""


class RowEncoder:
    """Compresses the local brains' (K, P) rows, each once: `RowCodec` in one vectorised pass,
    or (codec `group`, which needs each tensor's group axis) one `Codec` per brain."""

    def __init__(
        self,
        kind: str,
        fraction: float,
        error_feedback: bool | None,
        layout: Any,
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


def batch_messages(
    kind: Kind,
    dest: int,
    brains: Sequence[int],
    tensors: dict[int, Iterable[EncodedTensor]],
    round_idx: int,
    per_brain_bytes: int,
    max_bytes: int,
    **kw: Any,
) -> list[Outgoing]:
    """Messages to host `dest` carrying `brains`' tensors (already encoded, shared between
    destinations); body `brains` names them, the header's sender is the batch's first brain."""
    body = dict(kw.pop("body", {}))
    out = []
    for batch in batches(brains, per_brain_bytes, max_bytes):
        ts = tuple(t for b in batch for t in tensors.get(b, ()))
        msg = message(kind, batch[0], round_idx, body={**body, "brains": batch}, tensors=ts, **kw)
        out.append(Outgoing((dest,), msg))
    return out


def per_brain(d: Delivery) -> list[tuple[int, dict[str, np.ndarray]]]:
    """(brain, its arrays) for every brain a delivery speaks for, in the body's order.

    A batched message (body `brains`) names tensors `"<brain>"` (returned as `{"w": row}`) or
    `"<brain>/<name>"` (returned as `{name: array}`); a brain without tensors gets `{}`. A
    single message speaks for its header's sender with its arrays as they are."""
    brains = d.message.body.get("brains")
    if brains is None:
        return [(d.message.sender, d.arrays)]
    out: dict[int, dict[str, np.ndarray]] = {int(b): {} for b in brains}
    for name, arr in d.arrays.items():
        head, _, rest = name.partition("/")
        b = int(head)
        if b not in out:
            raise ValueError(f"batched message carries a tensor of brain {b} not in its body")
        out[b][rest or "w"] = arr
    return list(out.items())


def make_exchange(ctx: Context) -> Exchange:
    """The exchange for ctx.plan's sharing mode."""
    if ctx.plan.sharing == "gossip":
        from swarm.exchange_gossip import GossipExchange

        return GossipExchange(ctx)
    if ctx.plan.sharing == "hub":
        from swarm.exchange_hub import HubExchange

        return HubExchange(ctx)
    return NoExchange(ctx)


def message(kind: Kind, sender: int, round_idx: int, **kw: Any) -> Message:
    """A Message with the round set; seq and signature are added by the sending host."""
    return Message(kind=kind, sender=int(sender), round=round_idx, **kw)


def team_graph(ctx: Context) -> nx.Graph:
    """The configured graph over the team's brains (`radio`: from ctx.positions, in cells)."""
    t = ctx.protocol.topology
    n = ctx.plan.n_brains
    if t.kind == "radio":
        pos = ctx.positions
        if pos is None:  # before the first tick every drone is at its start: assume in range
            pos = np.zeros((n, 2), np.float32)
        return build("radio", n, positions=pos, radio_range=t.radio_range)
    return build(t.kind, n, seed=ctx.seed, degree=t.degree, p=t.p, edges=list(t.edges))

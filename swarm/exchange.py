"""Knowledge rounds between hosts: the common parts (context, outgoing record, belief copies).

A round is a short sequence of *phases*; in each phase every host first sends (`outgoing`) and
then receives exactly the messages the plan says it must (`expected`) before applying them
(`apply`, sorted by (sender, seq), so a seed gives the same result whatever the timing). The
host owns the sockets; exchanges only decide contents. Every message names one brain as its
sender and goes once to each *host* that needs it (a host serving several neighbours of a
brain gets one copy), the sender's own host included, so bytes are counted at a real socket.

The kinds of round are in `swarm.exchange_gossip` (graph topologies, CHOCO-Gossip) and
`swarm.exchange_hub` (`star` and `dynamic`: aggregate at a hub, broadcast); `make_exchange`
picks one for a team plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np

from protocols.codec import Delivery
from protocols.compression import EncodedTensor, decode_delta, get_codec
from protocols.config import ProtocolConfig
from protocols.messages import Kind, Message
from protocols.topology import build
from swarm.teams import TeamPlan

__all__ = [
    "BeliefCopies",
    "Context",
    "Exchange",
    "NoExchange",
    "Outgoing",
    "make_exchange",
    "message",
    "team_graph",
]


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
    known: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))

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

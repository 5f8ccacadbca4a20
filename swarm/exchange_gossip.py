"""Gossip rounds over a graph of brains: CHOCO-Gossip on compressed deltas, beliefs alongside.

CHOCO-Gossip (Koloskova, Stich, Jaggi 2019). Every host keeps public copies x̂_j of the team's
brains; each round brain i sends q_i = C(x_i − x̂_i) with the configured codec, every host that
receives it adds q_i to x̂_i (the sender's own host too, on receipt), then each local brain
moves x_i += γ Σ_j w_ij (x̂_j − x̂_i) with Metropolis–Hastings weights w_ij = 1/(1+max(d_i,d_j)).
W is symmetric, so the update keeps the brains' mean whatever C does. Plain averaging of
compressed values would drift; the public copies are what make compression safe. `exact`
gossip is the same round with codec `none` and γ = 1, which gives x_i ← Σ_j w_ij x_j.

The math is `protocols.gossip.choco_pull`; this module decides who sends what to whom. The
copies start at the common pretrained weights (every host knows them), so the first round
already sends small differences. `radio` rebuilds the graph from drone positions each round;
a drone's radio reaches every host in range, so there each brain's message goes to all hosts.

Beliefs travel as evidence increments (`protocols.evidence`), flooded once over the graph:
each round a brain sends its own increment (what it observed since its last round, stamped
(brain, round)) and relays, once, every increment it fused for the first time in the
previous round; a receiver fuses an increment only the first time it meets it (a `Ledger`
per brain), so evidence that comes round a ring from both sides counts once. An increment
reaches a brain d hops away after d rounds, as the merged maps used to; on a `radio` graph
that changes between rounds, an increment is relayed only along the edges of the round after
it was first heard (a drone out of range then misses it).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from protocols.batching import (
    Outgoing,
    RowEncoder,
    batch_heads,
    batch_messages,
    read_batch,
    row_index,
)
from protocols.codec import Delivery
from protocols.evidence import Increment, Ledger, increment_bytes, increment_tensors
from protocols.gossip import choco_pull, mixing_rows
from protocols.messages import Kind
from swarm.exchange import (
    Context,
    Exchange,
    Expected,
    Phase,
    Step,
    evidence_of,
    increment_of,
    team_graph,
)
from swarm.exchange_claims import ClaimRelay

__all__ = ["GossipExchange"]


class GossipExchange(Exchange):
    """One phase per round (`Phase.MIX`): send q_i (and belief updates), receive, mix.

    Each host compresses all its brains' q_i in one pass and sends each destination host one
    batched DELTA (and BELIEF) message holding the brains it needs (`protocols.batching`)."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        p = ctx.protocol
        self.exact = p.gossip == "exact"
        self.step = 1.0 if self.exact else p.gossip_step
        kind = "none" if self.exact else p.codec.kind
        axes = ctx.bank.group_axes() if kind == "group" else None
        # CHOCO needs no error feedback: what C drops stays in x_i − x̂_i for the next round.
        self.encoder = RowEncoder(kind, p.codec.fraction, False, self.layout, axes, ctx.local.size)
        init = self._good[0]  # every brain starts from the same checkpoint
        self.xhat = np.repeat(init[None], ctx.plan.n_brains, 0)  # (N, P) public copies
        self.map_shape = tuple(ctx.policy.shape)
        self.n_cells = int(np.prod(self.map_shape))
        self.ledger = Ledger()  # which increments each local brain has fused
        self.relay: dict[int, list[Increment]] = {b: [] for b in ctx.local.tolist()}
        self.graph = team_graph(ctx)
        self.rows = row_index(ctx.local)  # the local brains' rows of team arrays
        self._w: torch.Tensor | None = None  # mixing rows of self.graph (rebuilt with it)
        self._mixed: torch.Tensor | None = None  # (K, P) float32 scratch of choco_pull
        self.max_bytes = p.max_message_bytes
        self.delta_bytes = 8 * init.size + 256  # worst case per brain, any codec
        # worst case per brain: its own increment and one relayed from every other brain
        self.belief_bytes = increment_bytes(self.n_cells, ctx.plan.n_brains)
        # routes[h][d]: brains of host h whose messages host d needs (fixed: radio sends all)
        plan = ctx.plan
        self.routes = [[[] for _ in range(plan.n_hosts)] for _ in range(plan.n_hosts)]
        for b in range(plan.n_brains):
            for d in self._dests(b):
                self.routes[int(plan.brain_owner[b])][d].append(b)
        self.claims = ClaimRelay(ctx)  # goal claims: their own messages, same routes
        self.steps = {Phase.MIX: Step(self.send_q, self.expect_q, self.read_q, self.mix)}

    def audience(self, phase: Phase, kind: Kind, brain: int) -> int:
        """Drones that receive brain's message of `kind` as devices would: its neighbours."""
        return int(self.graph.degree(brain))

    def _dests(self, brain: int) -> tuple[int, ...]:
        """Hosts that need brain's messages: its own and its neighbours' (all, for radio)."""
        plan = self.ctx.plan
        if self.ctx.protocol.topology.kind == "radio":
            return tuple(range(plan.n_hosts))
        owners = {int(plan.brain_owner[brain])}
        owners.update(int(plan.brain_owner[j]) for j in self.graph.neighbors(brain))
        return tuple(sorted(owners))

    # -- Phase.MIX ------------------------------------------------------------------------
    def send_q(self, round_idx: int) -> list[Outgoing]:
        """Each local brain's q_i = C(x_i − x̂_i) (and belief update) to the hosts needing it."""
        ctx = self.ctx
        if ctx.protocol.topology.kind == "radio":
            self.graph, self._w = team_graph(ctx), None
        diff = self.read_rows()  # a fresh copy: made x_i − x̂_i in place, (K, P)
        diff -= self.xhat[self.rows]
        q = self.encoder.encode(diff, ctx.local)  # each brain's payload encoded once
        cells = self._belief_payloads(round_idx) if ctx.protocol.share_beliefs else {}
        out = []
        body = {"base_round": round_idx, "scale": 1.0}
        for dest, brains in enumerate(self.routes[ctx.host]):
            if not brains:
                continue
            limit = self.max_bytes
            if ctx.protocol.share_weights:  # off: the ablation, beliefs only
                out += batch_messages(
                    Kind.DELTA, dest, brains, q, round_idx, self.delta_bytes, limit, body=body
                )
            if ctx.protocol.share_beliefs:
                shape = {"shape": list(self.map_shape)}
                out += batch_messages(
                    Kind.BELIEF,
                    dest,
                    brains,
                    cells,
                    round_idx,
                    self.belief_bytes,
                    limit,
                    body=shape,
                )
            if ctx.protocol.share_claims:
                out += self.claims.batched(dest, brains, round_idx)
        return out

    def expect_q(self, round_idx: int) -> Expected:
        """A DELTA (and a BELIEF) per batch of each host's brains that this host needs."""
        me, out = self.ctx.host, []
        for routes in self.routes:
            if self.ctx.protocol.share_weights:
                out += batch_heads(Kind.DELTA, routes[me], self.delta_bytes, self.max_bytes)
            if self.ctx.protocol.share_beliefs:
                out += batch_heads(Kind.BELIEF, routes[me], self.belief_bytes, self.max_bytes)
            if self.ctx.protocol.share_claims:
                out += self.claims.heads(routes[me])
        return out

    def read_q(self, d: Delivery) -> tuple[Kind, list[tuple[int, Any]]]:
        """A DELTA's (brain, q row), a BELIEF's (brain, [Increment]) or a CLAIM's (brain, goal)
        pairs, checked, not applied."""
        if d.message.kind == Kind.CLAIM:
            return Kind.CLAIM, self.claims.read(d)
        return read_batch(d, self.ctx.plan.n_brains, self.layout, self.n_cells)

    def mix(self, round_idx: int, got: list[tuple[Kind, list[tuple[int, Any]]]]) -> None:
        """x̂_j += q_j for the round's messages (in (sender, seq) order), then the consensus
        step for the local brains, then each fuses its neighbours' new evidence."""
        ctx = self.ctx
        claimed: dict[int, tuple[int, int]] = {}
        heard: dict[int, list[Increment]] = {}
        for kind, parts in got:
            if kind == Kind.CLAIM:
                claimed.update(parts)
                continue
            for brain, value in parts:
                if kind == Kind.DELTA:
                    self.xhat[brain] += value
                else:
                    heard[brain] = value
        if self._w is None:  # the graph changes only for radio, which resets this
            self._w = mixing_rows(self.graph, ctx.local)
        if self._mixed is None:  # kept between rounds: a fresh (K, P) faults in every page
            self._mixed = torch.empty(ctx.local.size, self.xhat.shape[1])
        if ctx.protocol.share_weights:
            ctx.bank.add_flat(choco_pull(self._w, self.xhat, self.rows, self.step, self._mixed))
        if ctx.protocol.share_beliefs:
            self._fuse_heard(heard)
        if ctx.protocol.share_claims:  # each local drone hears its neighbours' claims
            near = {b: list(self.graph.neighbors(b)) for b in ctx.local.tolist()}
            self.claims.hear(claimed, near)

    def _belief_payloads(self, round_idx: int) -> dict[int, list]:
        """Per local brain: the tensors of its own new increment (stamped (brain, round))
        and of the increments it relays this round (each once)."""
        ctx, out = self.ctx, {}
        own = ctx.policy.take_evidence()
        for row, brain in enumerate(ctx.local.tolist()):
            ev = own[row]
            items = [increment_of(brain, round_idx, ev)] if ev else []
            items += self.relay[brain]
            self.relay[brain] = []
            out[brain] = increment_tensors(items, self.n_cells, prefix=f"{brain}/")
        return out

    def _fuse_heard(self, heard: dict[int, list[Increment]]) -> None:
        """Each local brain fuses, from its neighbours (ascending), the increments it meets
        for the first time, and keeps them to relay next round."""
        ctx = self.ctx
        rows, items = [], []
        for row, brain in enumerate(ctx.local.tolist()):
            for j in sorted(self.graph.neighbors(brain)):
                for inc in heard.get(j, ()):
                    if self.ledger.first(brain, inc):
                        rows.append(row)
                        items.append(evidence_of(inc))
                        self.relay[brain].append(inc)
        ctx.policy.fuse_evidence(np.array(rows, np.int64), items)

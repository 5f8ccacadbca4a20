"""Gossip rounds over a graph of brains: CHOCO-Gossip on compressed deltas, beliefs alongside.

CHOCO-Gossip (Koloskova, Stich, Jaggi 2019). Every host keeps public copies x̂_j of the team's
brains; each round brain i sends q_i = C(x_i − x̂_i) with the configured codec, every host that
receives it adds q_i to x̂_i (the sender's own host too, on receipt), then each local brain
moves x_i += γ Σ_j w_ij (x̂_j − x̂_i) with Metropolis–Hastings weights w_ij = 1/(1+max(d_i,d_j)).
W is symmetric, so the update keeps the brains' mean whatever C does. Plain averaging of
compressed values would drift; the public copies are what make compression safe. `exact`
gossip is the same round with codec `none` and γ = 1, which gives x_i ← Σ_j w_ij x_j.

The copies start at the common pretrained weights (every host knows them), so the first round
already sends small differences. `radio` rebuilds the graph from drone positions each round;
a drone's radio reaches every host in range, so there each brain's message goes to all hosts.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import torch

from protocols.codec import Delivery
from protocols.messages import Kind
from protocols.topology import mixing_matrix
from swarm.exchange import (
    BeliefCopies,
    Context,
    Exchange,
    Outgoing,
    RowEncoder,
    batch_messages,
    batches,
    per_brain,
    row_index,
    team_graph,
)
from swarm.shard import FlatWeights

__all__ = ["GossipExchange", "mixing_rows"]


def mixing_rows(graph: nx.Graph, rows: np.ndarray) -> torch.Tensor:
    """Sparse (len(rows), N) float32 rows of the Metropolis–Hastings matrix (each sums to 1)."""
    w = mixing_matrix(graph)[rows]  # (K, N) float64, a few non-zeros per row
    r, c = np.nonzero(w)
    idx = torch.from_numpy(np.stack([r, c]).astype(np.int64))
    vals = torch.from_numpy(w[r, c].astype(np.float32))
    return torch.sparse_coo_tensor(idx, vals, w.shape, check_invariants=False).coalesce()


class GossipExchange(Exchange):
    """One phase per round: send q_i (and belief updates), receive, mix.

    Each host compresses all its brains' q_i in one pass and sends each destination host one
    batched DELTA (and BELIEF) message holding the brains it needs (`swarm.exchange`)."""

    phases = 1

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        p = ctx.protocol
        self.exact = p.gossip == "exact"
        self.step = 1.0 if self.exact else p.gossip_step
        kind = "none" if self.exact else p.codec.kind
        self.layout = FlatWeights(ctx.bank)
        axes = ctx.bank.group_axes() if kind == "group" else None
        # CHOCO needs no error feedback: what C drops stays in x_i − x̂_i for the next round.
        self.encoder = RowEncoder(kind, p.codec.fraction, False, self.layout, axes, ctx.local.size)
        init = self.layout.read()[0]  # every brain starts from the same checkpoint
        self.xhat = np.repeat(init[None], ctx.plan.n_brains, 0)  # (N, P) public copies
        belief = np.asarray(ctx.policy.belief, np.float32)
        self.beliefs = BeliefCopies(np.zeros((ctx.plan.n_brains, *belief.shape[1:]), np.float32))
        self.graph = team_graph(ctx)
        self.rows = row_index(ctx.local)  # the local brains' rows of team arrays
        self._w: torch.Tensor | None = None  # mixing rows of self.graph (rebuilt with it)
        self._mixed: torch.Tensor | None = None  # (K, P) float32 scratch of _mix
        self.max_bytes = p.max_message_bytes
        self.delta_bytes = 8 * init.size + 256  # worst case per brain, any codec
        self.belief_bytes = 8 * int(np.prod(belief.shape[1:])) + 256
        # routes[h][d]: brains of host h whose messages host d needs (fixed: radio sends all)
        plan = ctx.plan
        self.routes = [[[] for _ in range(plan.n_hosts)] for _ in range(plan.n_hosts)]
        for b in range(plan.n_brains):
            for d in self._dests(b):
                self.routes[int(plan.brain_owner[b])][d].append(b)

    # -- helpers --------------------------------------------------------------------------
    def _dests(self, brain: int) -> tuple[int, ...]:
        """Hosts that need brain's messages: its own and its neighbours' (all, for radio)."""
        plan = self.ctx.plan
        if self.ctx.protocol.topology.kind == "radio":
            return tuple(range(plan.n_hosts))
        owners = {int(plan.brain_owner[brain])}
        owners.update(int(plan.brain_owner[j]) for j in self.graph.neighbors(brain))
        return tuple(sorted(owners))

    # -- phases ---------------------------------------------------------------------------
    def outgoing(self, round_idx: int, phase: int) -> list[Outgoing]:
        ctx = self.ctx
        if ctx.protocol.topology.kind == "radio":
            self.graph, self._w = team_graph(ctx), None
        diff = self.layout.read()  # a fresh copy: made x_i − x̂_i in place, (K, P)
        diff -= self.xhat[self.rows]
        q = self.encoder.encode(diff, ctx.local)  # each brain's payload encoded once
        cells = {}
        if ctx.protocol.share_beliefs:
            cells = {
                b: [t] for b, t in self.beliefs.update_rows(ctx.local, ctx.policy.belief).items()
            }
        out = []
        body = {"base_round": round_idx, "scale": 1.0}
        for dest, brains in enumerate(self.routes[ctx.host]):
            if not brains:
                continue
            limit = self.max_bytes
            if ctx.protocol.share_weights:
                out += batch_messages(
                    Kind.DELTA, dest, brains, q, round_idx, self.delta_bytes, limit, body=body
                )
            if ctx.protocol.share_beliefs:
                shape = {"shape": list(self.beliefs.maps.shape[1:])}
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
        return out

    def expected(self, round_idx: int, phase: int) -> int:
        me, total = self.ctx.host, 0
        for routes in self.routes:
            if self.ctx.protocol.share_weights:
                total += len(batches(routes[me], self.delta_bytes, self.max_bytes))
            if self.ctx.protocol.share_beliefs:
                total += len(batches(routes[me], self.belief_bytes, self.max_bytes))
        return total

    def apply(self, round_idx: int, phase: int, msgs: list[Delivery]) -> None:
        for d in msgs:
            if d.message.kind == Kind.DELTA:
                for brain, arrays in per_brain(d):
                    self.xhat[brain] += self.layout.unpack(arrays)
            elif d.message.kind == Kind.BELIEF:
                for brain, arrays in per_brain(d):
                    self.beliefs.add(brain, arrays)
        if self.ctx.protocol.share_weights:
            self._mix()
        if self.ctx.protocol.share_beliefs:
            self._merge_beliefs()

    def _mix(self) -> None:
        """x_i += γ (Σ_j w_ij x̂_j − x̂_i) for the local brains (rows of W sum to 1)."""
        ctx = self.ctx
        if ctx.local.size == 0:
            return
        if self._w is None:  # the graph changes only for radio, which resets this
            self._w = mixing_rows(self.graph, ctx.local)
        if self._mixed is None:  # kept between rounds: a fresh (K, P) faults in every page
            self._mixed = torch.empty(ctx.local.size, self.xhat.shape[1])
        # torch.mm with out= runs the same sparse kernel as torch.sparse.mm (same numbers)
        mixed = torch.mm(self._w, torch.from_numpy(self.xhat), out=self._mixed).numpy()
        mixed -= self.xhat[self.rows]
        if self.step != 1.0:  # γ (Σ_j w_ij x̂_j − x̂_i), in place: the same fp32 numbers
            mixed *= np.float32(self.step)
        self.layout.add(mixed)

    def _merge_beliefs(self) -> None:
        """Each local brain fuses its known neighbours' copies, ascending by neighbour id."""
        ctx = self.ctx
        known = self.beliefs.known
        rows, which = [], []
        for row, brain in enumerate(ctx.local.tolist()):
            for j in sorted(self.graph.neighbors(brain)):
                if known[j]:
                    rows.append(row)
                    which.append(j)
        ctx.policy.merge_many(
            np.array(rows, np.int64), self.beliefs.maps, np.array(which, np.int64)
        )

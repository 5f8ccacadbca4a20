"""Hub rounds (`star`, `dynamic`): upload deltas to a hub, aggregate, broadcast one model.

Every brain of the team holds the same common model after a round (they start from the same
pretrained weights). During the next `sync_every` ticks each learns on its own; then:

1. (`dynamic` only) every brain sends a HEARTBEAT with its competence (recent verified
   precision) to every host; all hosts run the same election on the same numbers, so they
   agree on the hub without a vote round trip: rounds are barriers and every host hears the
   same heartbeats (ties break by lowest id; a challenger must beat the hub by `hysteresis`;
   the term rises when the hub changes and heartbeats of older terms are ignored; a hub whose
   heartbeat is missing `heartbeat_timeout` rounds in a row is replaced).
2. Upload: brain i sends DELTA d_i = x_i − x_common (its own codec, with error feedback) and a
   sparse BELIEF update to the hub's host.
3. Broadcast: the hub aggregates the deltas (mean, weighted mean by competence, coordinate
   median, trimmed mean, Krum), fuses the beliefs into its own map, and sends one DELTA D and
   its belief to every host; each brain moves to x_common + D and merges the hub's belief.
"""

from __future__ import annotations

import numpy as np

from protocols.aggregation import AGGREGATORS, flatten, unflatten
from protocols.codec import Delivery
from protocols.compression import get_codec
from protocols.messages import Kind
from swarm.exchange import BeliefCopies, Context, Exchange, Outgoing, message
from swarm.shard import FlatWeights

__all__ = ["HubExchange", "elect"]


def elect(competence: np.ndarray, alive: np.ndarray, hub: int, hysteresis: float) -> int:
    """The hub after a heartbeat round.

    The best alive brain (highest competence, ties to the lowest id) takes over when the hub
    is not alive or when it beats the hub by more than `hysteresis` (a near-equal does not
    unseat a healthy hub, so the centre does not flap between two good brains).
    """
    if not alive.any():
        raise RuntimeError("no brain sent a heartbeat: nobody can become the hub")
    masked = np.where(alive, competence, -np.inf)
    best = int(np.flatnonzero(masked == masked.max())[0])
    if alive[hub] and competence[best] <= competence[hub] + hysteresis:
        return hub
    return best


class HubExchange(Exchange):
    """Upload, aggregate at a hub, broadcast; an election phase first for `dynamic`."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        p = ctx.protocol
        self.dynamic = p.topology.kind == "dynamic"
        self.phases = 3 if self.dynamic else 2
        n = ctx.plan.n_brains
        self.by_tensor = p.codec.kind == "group"
        axes = ctx.bank.group_axes() if self.by_tensor else None
        self.codecs = [
            get_codec(p.codec.kind, fraction=p.codec.fraction, group_axes=axes)
            for _ in range(ctx.local.size)
        ]
        self.hub_codec = get_codec(p.codec.kind, fraction=p.codec.fraction, group_axes=axes)
        self.hub, self.term = 0, 0
        self.silent = np.zeros(n, np.int64)  # consecutive rounds without a heartbeat
        self.heard_competence = np.zeros(n, np.float32)
        shape = np.asarray(ctx.policy.belief).shape[1:]
        self.sent = BeliefCopies(np.zeros((n, *shape), np.float32))  # what the hub has of mine
        self.heard = BeliefCopies(np.zeros((n, *shape), np.float32))  # the hub's copies
        self.bcast_sent = BeliefCopies(np.zeros((1, *shape), np.float32))
        self.bcast_heard = BeliefCopies(np.zeros((1, *shape), np.float32))
        self._aggregate: dict[str, np.ndarray] = {}
        # Every brain holds the common model after a round; it starts as the shared checkpoint.
        self.layout = FlatWeights(ctx.bank)
        self.common = self.layout.read()[0]  # (P,)

    def _stage(self, phase: int) -> str:
        return ("elect", "upload", "broadcast")[phase + (0 if self.dynamic else 1)]

    def _hub_host(self) -> int:
        return int(self.ctx.plan.brain_owner[self.hub])

    def outgoing(self, round_idx: int, phase: int) -> list[Outgoing]:
        ctx, stage, out = self.ctx, self._stage(phase), []
        every = tuple(range(ctx.plan.n_hosts))
        share = ctx.protocol.share_beliefs
        if stage == "elect":
            pos = ctx.positions
            for row, brain in enumerate(ctx.local.tolist()):
                body = {
                    "competence": float(ctx.competence[row]),
                    "hub": self.hub,
                    "position": [float(v) for v in pos[brain]] if pos is not None else [],
                }
                out.append(
                    Outgoing(
                        every, message(Kind.HEARTBEAT, brain, round_idx, term=self.term, body=body)
                    )
                )
        elif stage == "upload":
            dest = (self._hub_host(),)
            deltas = self.layout.read() - self.common  # (K, P): d_i = x_i − x_common
            for row, brain in enumerate(ctx.local.tolist()):
                enc = self.codecs[row].encode(self.layout.pack(deltas[row], self.by_tensor))
                body = {"base_round": round_idx, "scale": 1.0}
                out.append(
                    Outgoing(
                        dest,
                        message(
                            Kind.DELTA,
                            brain,
                            round_idx,
                            term=self.term,
                            recipient=self.hub,
                            body=body,
                            tensors=enc.tensors,
                        ),
                    )
                )
                if share:
                    cells = self.sent.update_tensors(brain, ctx.policy.belief[row])
                    self.sent.apply(brain, cells)
                    out.append(
                        Outgoing(
                            dest,
                            message(
                                Kind.BELIEF,
                                brain,
                                round_idx,
                                term=self.term,
                                recipient=self.hub,
                                tensors=cells,
                            ),
                        )
                    )
        elif ctx.host == self._hub_host():
            out.extend(self._broadcast(round_idx, every))
        return out

    def _broadcast(self, round_idx: int, every: tuple[int, ...]) -> list[Outgoing]:
        ctx, hub_row = self.ctx, int(np.searchsorted(self.ctx.local, self.hub))
        enc = self.hub_codec.encode(self._aggregate)
        body = {"base_round": round_idx, "scale": 1.0}
        out = [
            Outgoing(
                every,
                message(
                    Kind.DELTA, self.hub, round_idx, term=self.term, body=body, tensors=enc.tensors
                ),
            )
        ]
        if ctx.protocol.share_beliefs:
            for j in range(ctx.plan.n_brains):
                if j != self.hub and self.heard.known[j]:
                    ctx.policy.merge(hub_row, self.heard.maps[j])
            cells = self.bcast_sent.update_tensors(0, ctx.policy.belief[hub_row])
            self.bcast_sent.apply(0, cells)
            out.append(
                Outgoing(
                    every, message(Kind.BELIEF, self.hub, round_idx, term=self.term, tensors=cells)
                )
            )
        return out

    def expected(self, round_idx: int, phase: int) -> int:
        stage, n = self._stage(phase), self.ctx.plan.n_brains
        per = 2 if self.ctx.protocol.share_beliefs else 1
        if stage == "elect":
            return n
        if stage == "upload":
            return per * n if self.ctx.host == self._hub_host() else 0
        return per

    def apply(self, round_idx: int, phase: int, msgs: list[Delivery]) -> None:
        stage = self._stage(phase)
        if stage == "elect":
            self._elect(msgs)
        elif stage == "upload":
            self._collect(msgs)
        else:
            self._adopt(msgs)

    def _elect(self, msgs: list[Delivery]) -> None:
        seen = np.zeros(self.ctx.plan.n_brains, bool)
        for m in (d.message for d in msgs):
            if m.term >= self.term:  # messages of older terms are ignored
                seen[m.sender] = True
                self.heard_competence[m.sender] = float(m.body.get("competence", 0.0))
        self.silent = np.where(seen, 0, self.silent + 1)
        alive = self.silent < self.ctx.protocol.topology.heartbeat_timeout
        hub = elect(self.heard_competence, alive, self.hub, self.ctx.protocol.topology.hysteresis)
        if hub != self.hub:
            self.hub, self.term = hub, self.term + 1

    def _collect(self, msgs: list[Delivery]) -> None:
        deltas, weights = [], []
        for d in msgs:
            m = d.message
            if m.kind == Kind.DELTA:
                deltas.append(d.arrays)
                weights.append(max(float(self.heard_competence[m.sender]), 1e-3))
            elif m.kind == Kind.BELIEF:
                self.heard.add(m.sender, d.arrays)
        if not deltas:  # not the hub's host: nothing to aggregate here
            return
        stacked = np.stack([flatten(d)[0] for d in deltas])  # (n, P) float64
        rule = AGGREGATORS[self.ctx.protocol.aggregation]
        f = max(0, (len(deltas) - 3) // 4)  # Byzantine tolerance the robust rules assume
        agg = rule(stacked, weights=np.array(weights), f=f)
        self._aggregate = unflatten(agg, flatten(deltas[0])[1])

    def _adopt(self, msgs: list[Delivery]) -> None:
        ctx = self.ctx
        for d in msgs:
            m = d.message
            if m.kind == Kind.DELTA:
                self.common = self.common + self.layout.unpack(d.arrays)
                self.layout.add(self.common[None] - self.layout.read())  # every x_i := common
            elif m.kind == Kind.BELIEF:
                self.bcast_heard.add(0, d.arrays)
                for row, brain in enumerate(ctx.local.tolist()):
                    if brain != self.hub:
                        ctx.policy.merge(row, self.bcast_heard.maps[0])

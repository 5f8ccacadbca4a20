"""Hub rounds (`star`, `dynamic`): upload deltas to a hub, aggregate, broadcast one model.

Every brain of the team holds the same common model after a round (they start from the same
pretrained weights). During the next `sync_every` ticks each learns on its own; then:

1. (`dynamic` only) every brain's competence (recent verified precision) goes to every host
   in its host's batched HEARTBEAT; all hosts run the same election on the same numbers, so they
   agree on the hub without a vote round trip: rounds are barriers and every host hears the
   same heartbeats (ties break by lowest id; a challenger must beat the hub by `hysteresis`;
   the term rises when the hub changes and heartbeats of older terms are ignored; a hub whose
   heartbeat is missing `heartbeat_timeout` rounds in a row is replaced).
2. Upload: brain i sends DELTA d_i = x_i − x_common (its own codec state, with error
   feedback; all of a host's brains compressed in one pass and batched into one message) and a
   sparse BELIEF update to the hub's host.
3. Broadcast: the hub aggregates the deltas (mean, weighted mean by competence, coordinate
   median, trimmed mean, Krum), fuses the beliefs into its own map, and sends one DELTA D and
   its belief to every host; each brain moves to x_common + D and merges the hub's belief.
"""

from __future__ import annotations

import numpy as np

from protocols.aggregation import AGGREGATORS
from protocols.codec import Delivery
from protocols.compression import get_codec
from protocols.messages import Kind
from swarm.exchange import (
    BeliefCopies,
    Context,
    Exchange,
    Outgoing,
    RowEncoder,
    batch_messages,
    batches,
    message,
    per_brain,
)
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
        self.layout = FlatWeights(ctx.bank)
        # one codec state per local brain (error feedback), all compressed in one pass
        self.encoder = RowEncoder(
            p.codec.kind, p.codec.fraction, None, self.layout, axes, ctx.local.size
        )
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
        self.common = self.layout.read()[0]  # (P,)
        self.max_bytes = p.max_message_bytes
        self.delta_bytes = 8 * self.common.size + 256  # worst case per brain, any codec
        self.belief_bytes = 8 * int(np.prod(shape)) + 256
        self.beat_bytes = 64  # a heartbeat's body entries per brain, generously

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
            brains = ctx.local.tolist()
            body = {
                "competence": [float(c) for c in ctx.competence],
                "hub": self.hub,
                "position": [[float(v) for v in pos[b]] for b in brains] if pos is not None else [],
            }
            for dest in every:  # one batched heartbeat per host; the body lists are per brain
                out += self._beats(dest, brains, body, round_idx)
        elif stage == "upload":
            dest, brains = self._hub_host(), ctx.local.tolist()
            deltas = self.layout.read() - self.common  # (K, P): d_i = x_i − x_common
            q = self.encoder.encode(deltas, brains)
            body = {"base_round": round_idx, "scale": 1.0}
            kw = {"term": self.term, "recipient": self.hub}
            weights = ctx.protocol.share_weights  # off: the ablation, nothing to upload
            out += batch_messages(
                Kind.DELTA,
                dest,
                brains if weights else [],
                q,
                round_idx,
                self.delta_bytes,
                self.max_bytes,
                body=body,
                **kw,
            )
            if share:
                # what the hub will have of each brain, written in without densifying
                cells = self.sent.update_rows(brains, ctx.policy.belief, apply=True)
                tensors = {b: [t] for b, t in cells.items()}
                out += batch_messages(
                    Kind.BELIEF,
                    dest,
                    brains,
                    tensors,
                    round_idx,
                    self.belief_bytes,
                    self.max_bytes,
                    **kw,
                )
        elif ctx.host == self._hub_host():
            out.extend(self._broadcast(round_idx, every))
        return out

    def _beats(self, dest: int, brains: list[int], body: dict, round_idx: int) -> list[Outgoing]:
        """Batched HEARTBEATs to host `dest`: body lists (competence, position) per brain."""
        out, at = [], 0
        for batch in batches(brains, self.beat_bytes, self.max_bytes):
            part = {
                "brains": batch,
                "hub": body["hub"],
                "competence": body["competence"][at : at + len(batch)],
                "position": body["position"][at : at + len(batch)],
            }
            at += len(batch)
            msg = message(Kind.HEARTBEAT, batch[0], round_idx, term=self.term, body=part)
            out.append(Outgoing((dest,), msg))
        return out

    def _broadcast(self, round_idx: int, every: tuple[int, ...]) -> list[Outgoing]:
        ctx, hub_row = self.ctx, int(np.searchsorted(self.ctx.local, self.hub))
        out = []
        if ctx.protocol.share_weights:
            enc = self.hub_codec.encode(self._aggregate)
            body = {"base_round": round_idx, "scale": 1.0}
            delta = message(
                Kind.DELTA, self.hub, round_idx, term=self.term, body=body, tensors=enc.tensors
            )
            out.append(Outgoing(every, delta))
        if ctx.protocol.share_beliefs:
            known = self.heard.known.copy()
            known[self.hub] = False
            which = np.flatnonzero(known)  # ascending, as the hub fuses them
            ctx.policy.merge_many(np.full(which.size, hub_row), self.heard.maps, which)
            cells = self.bcast_sent.update_tensors(0, ctx.policy.belief[hub_row])
            self.bcast_sent.apply(0, cells)
            out.append(
                Outgoing(
                    every, message(Kind.BELIEF, self.hub, round_idx, term=self.term, tensors=cells)
                )
            )
        return out

    def expected(self, round_idx: int, phase: int) -> int:
        stage = self._stage(phase)
        per = int(self.ctx.protocol.share_weights) + int(self.ctx.protocol.share_beliefs)
        plan = self.ctx.plan
        if stage == "elect":
            return sum(
                len(batches(plan.brains_on(h), self.beat_bytes, self.max_bytes))
                for h in range(plan.n_hosts)
            )
        if stage == "upload":
            if self.ctx.host != self._hub_host():
                return 0
            total = 0
            for h in range(plan.n_hosts):  # a host without brains has no batches
                on = plan.brains_on(h)
                if self.ctx.protocol.share_weights:
                    total += len(batches(on, self.delta_bytes, self.max_bytes))
                if self.ctx.protocol.share_beliefs:
                    total += len(batches(on, self.belief_bytes, self.max_bytes))
            return total
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
                brains = m.body.get("brains", [m.sender])
                comp = m.body.get("competence", 0.0)
                comp = comp if isinstance(comp, list) else [comp]
                for b, c in zip(brains, comp, strict=True):
                    seen[b] = True
                    self.heard_competence[b] = float(c)
        self.silent = np.where(seen, 0, self.silent + 1)
        alive = self.silent < self.ctx.protocol.topology.heartbeat_timeout
        hub = elect(self.heard_competence, alive, self.hub, self.ctx.protocol.topology.hysteresis)
        if hub != self.hub:
            self.hub, self.term = hub, self.term + 1

    def _collect(self, msgs: list[Delivery]) -> None:
        deltas: dict[int, np.ndarray] = {}
        for d in msgs:
            m = d.message
            if m.kind == Kind.DELTA:
                deltas.update((b, self.layout.unpack(a)) for b, a in per_brain(d))
            elif m.kind == Kind.BELIEF:
                for b, arrays in per_brain(d):
                    self.heard.add(b, arrays)
        if not deltas:  # not the hub's host: nothing to aggregate here
            return
        order = sorted(deltas)  # brain order, whatever the batching
        stacked = np.stack([deltas[b] for b in order]).astype(np.float64)  # (n, P)
        weights = np.array([max(float(self.heard_competence[b]), 1e-3) for b in order])
        rule = AGGREGATORS[self.ctx.protocol.aggregation]
        f = max(0, (len(order) - 3) // 4)  # Byzantine tolerance the robust rules assume
        agg = rule(stacked, weights=weights, f=f)
        self._aggregate = self.layout.pack(agg.astype(np.float32), self.by_tensor)

    def _adopt(self, msgs: list[Delivery]) -> None:
        ctx = self.ctx
        for d in msgs:
            m = d.message
            if m.kind == Kind.DELTA:
                self.common = self.common + self.layout.unpack(d.arrays)
                self.layout.add(self.common[None] - self.layout.read())  # every x_i := common
            elif m.kind == Kind.BELIEF:
                self.bcast_heard.add(0, d.arrays)
                rows = np.flatnonzero(ctx.local != self.hub)
                every = np.zeros(rows.size, np.int64)  # one map for all, converted once
                ctx.policy.merge_many(rows, self.bcast_heard.maps, every)

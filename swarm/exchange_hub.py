"""Hub rounds (`star`, `dynamic`): upload deltas to a hub, aggregate, broadcast one model.

Every brain of the team holds the same common model after a round (they start from the same
pretrained weights). During the next `sync_every` ticks each learns on its own; then:

1. `Phase.ELECT` (`dynamic` only): every brain's competence (recent verified precision) goes
   to every host in its host's batched HEARTBEAT; all hosts run the same
   `protocols.centre.Election` on the same numbers, so they agree on the hub without a vote
   round trip (rounds are barriers and every host hears the same heartbeats).
2. `Phase.UPLOAD`: brain i sends DELTA d_i = x_i − x_common (its own codec state, with error
   feedback; all of a host's brains compressed in one pass and batched into one message) and
   its BELIEF evidence increment (what it observed since the last round, `protocols.evidence`)
   to the hub's host.
3. `Phase.BROADCAST`: the hub aggregates the deltas (`protocols.aggregation.hub_aggregate`:
   mean, weighted mean by competence, coordinate median, trimmed mean, Krum; non-finite
   contributions skipped), fuses every other brain's increment into its own map, and sends one
   DELTA D and one BELIEF relaying every increment it heard to every host; each brain moves to
   x_common + D and fuses each increment it has not met (never its own), so every piece of
   evidence counts once everywhere.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from protocols.aggregation import hub_aggregate
from protocols.batching import (
    Outgoing,
    RowEncoder,
    batch_brains,
    batch_heads,
    batch_messages,
    batches,
    message,
    read_batch,
)
from protocols.centre import Election
from protocols.codec import Delivery
from protocols.compression import get_codec
from protocols.evidence import Increment, Ledger, increment_bytes, increment_tensors
from protocols.messages import Kind, ProtocolError
from swarm.exchange import Context, Exchange, Expected, Phase, Step, evidence_of, increment_of
from swarm.exchange_claims import ClaimRelay, Claims

__all__ = ["HubExchange"]

Parts = list[tuple[int, Any]]


class HubExchange(Exchange):
    """Upload, aggregate at a hub, broadcast; an election phase first for `dynamic`."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        p = ctx.protocol
        n = ctx.plan.n_brains
        self.by_tensor = p.codec.kind == "group"
        axes = ctx.bank.group_axes() if self.by_tensor else None
        # one codec state per local brain (error feedback), all compressed in one pass
        self.encoder = RowEncoder(
            p.codec.kind, p.codec.fraction, None, self.layout, axes, ctx.local.size
        )
        self.hub_codec = get_codec(p.codec.kind, fraction=p.codec.fraction, group_axes=axes)
        self.election = Election(n, p.topology.heartbeat_timeout, p.topology.hysteresis)
        self.n_cells = int(np.prod(ctx.policy.shape))
        self.ledger = Ledger()  # which increments each local brain has fused
        self.uploads: list[Increment] = []  # on the hub's host: this round's increments
        self._aggregate: dict[str, np.ndarray] = {}
        # Every brain holds the common model after a round; it starts as the shared checkpoint.
        self.common = self._good[0]  # (P,)
        self.max_bytes = p.max_message_bytes
        self.delta_bytes = 8 * self.common.size + 256  # worst case per brain, any codec
        self.belief_bytes = increment_bytes(self.n_cells, 1)  # one increment per brain
        self.beat_bytes = 64  # a heartbeat's body entries per brain, generously
        if p.topology.kind == "dynamic":
            self.steps[Phase.ELECT] = Step(
                self.send_beats, self.expect_beats, self.read_beat, self.elect
            )
        self.claims = ClaimRelay(ctx)  # goal claims: up to the hub, its table back down
        self.claim_table: Claims = {}  # on the hub's host: every brain's claim this round
        self.steps[Phase.UPLOAD] = Step(self.send_up, self.expect_up, self.read_up, self.aggregate)
        self.steps[Phase.BROADCAST] = Step(
            self.send_down, self.expect_down, self.read_down, self.adopt
        )

    @property
    def hub(self) -> int:
        return self.election.hub

    @property
    def term(self) -> int:
        return self.election.term

    def _hub_host(self) -> int:
        return int(self.ctx.plan.brain_owner[self.hub])

    def _every(self) -> tuple[int, ...]:
        return tuple(range(self.ctx.plan.n_hosts))

    def audience(self, phase: Phase, kind: Kind, brain: int) -> int:
        """Drones that receive brain's message as devices would: the hub for an upload (none
        for the hub's own), every other drone for a heartbeat or the hub's broadcast."""
        if phase == Phase.UPLOAD:
            return int(brain != self.hub)
        return self.ctx.plan.n_brains - 1

    # -- Phase.ELECT ----------------------------------------------------------------------
    def send_beats(self, round_idx: int) -> list[Outgoing]:
        """Batched HEARTBEATs to every host: body lists (competence, position) per brain."""
        ctx, out = self.ctx, []
        pos, brains = ctx.positions, ctx.local.tolist()
        competence = [float(c) for c in ctx.competence()]
        position = [[float(v) for v in pos[b]] for b in brains] if pos is not None else []
        for dest in self._every():  # one batched heartbeat per host; the body lists are per brain
            at = 0
            for batch in batches(brains, self.beat_bytes, self.max_bytes):
                part = {
                    "brains": batch,
                    "hub": self.hub,
                    "competence": competence[at : at + len(batch)],
                    "position": position[at : at + len(batch)],
                }
                at += len(batch)
                msg = message(Kind.HEARTBEAT, batch[0], round_idx, term=self.term, body=part)
                out.append(Outgoing((dest,), msg))
        return out

    def expect_beats(self, round_idx: int) -> Expected:
        """Every host's batched HEARTBEATs (a host without brains has none)."""
        plan, out = self.ctx.plan, []
        for h in range(plan.n_hosts):
            out += batch_heads(Kind.HEARTBEAT, plan.brains_on(h), self.beat_bytes, self.max_bytes)
        return out

    def read_beat(self, d: Delivery) -> tuple[list[int], list[float], int]:
        """(brains, their competences, term) of a heartbeat; ProtocolError if malformed."""
        brains = batch_brains(d, self.ctx.plan.n_brains)
        comp = d.message.body.get("competence", 0.0)
        comp = comp if isinstance(comp, list) else [comp]
        if len(comp) != len(brains) or not all(
            isinstance(c, int | float) and np.isfinite(c) for c in comp
        ):
            raise ProtocolError("manifest", "heartbeat competence must be one finite per brain")
        return brains, [float(c) for c in comp], d.message.term

    def elect(self, round_idx: int, beats: list[tuple[list[int], list[float], int]]) -> None:
        for brains, comp, term in beats:
            self.election.hear(brains, comp, term)
        self.election.close_round()

    # -- Phase.UPLOAD ---------------------------------------------------------------------
    def send_up(self, round_idx: int) -> list[Outgoing]:
        """Every local brain's d_i = x_i − x_common (and belief update) to the hub's host."""
        ctx, out = self.ctx, []
        dest, brains = self._hub_host(), ctx.local.tolist()
        deltas = self.read_rows() - self.common  # (K, P): d_i = x_i − x_common
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
        if ctx.protocol.share_beliefs:
            own = ctx.policy.take_evidence()
            tensors = {
                b: increment_tensors([increment_of(b, round_idx, ev)], self.n_cells, f"{b}/")
                for b, ev in zip(brains, own, strict=True)
                if ev
            }
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
        if ctx.protocol.share_claims:
            out += self.claims.batched(dest, brains, round_idx, **kw)
        return out

    def expect_up(self, round_idx: int) -> Expected:
        """On the hub's host: a DELTA (and a BELIEF) per batch of every host's brains."""
        if self.ctx.host != self._hub_host():
            return []
        plan, out = self.ctx.plan, []
        for h in range(plan.n_hosts):  # a host without brains has no batches
            on = plan.brains_on(h)
            if self.ctx.protocol.share_weights:
                out += batch_heads(Kind.DELTA, on, self.delta_bytes, self.max_bytes)
            if self.ctx.protocol.share_beliefs:
                out += batch_heads(Kind.BELIEF, on, self.belief_bytes, self.max_bytes)
            if self.ctx.protocol.share_claims:
                out += self.claims.heads(on)
        return out

    def read_up(self, d: Delivery) -> tuple[Kind, Parts]:
        if d.message.kind == Kind.CLAIM:
            return Kind.CLAIM, self.claims.read(d)
        return read_batch(d, self.ctx.plan.n_brains, self.layout, self.n_cells)

    def aggregate(self, round_idx: int, got: list[tuple[Kind, Parts]]) -> None:
        """On the hub's host: the aggregate of the deltas heard, the brains' increments kept."""
        deltas: dict[int, np.ndarray] = {}
        self.claim_table = {}
        for kind, parts in got:
            if kind == Kind.DELTA:
                deltas.update(parts)
            elif kind == Kind.CLAIM:
                self.claim_table.update(parts)
            else:
                for _, incs in parts:
                    self.uploads += incs
        if not deltas:  # not the hub's host: nothing to aggregate here
            return
        order = sorted(deltas)  # brain order, whatever the batching
        stacked = np.stack([deltas[b] for b in order]).astype(np.float64)  # (n, P)
        comp = self.election.competence
        weights = np.array([max(float(comp[b]), 1e-3) for b in order])
        agg = hub_aggregate(self.ctx.protocol.aggregation, stacked, weights)
        self._aggregate = self.layout.pack(agg.astype(np.float32), self.by_tensor)

    # -- Phase.BROADCAST ------------------------------------------------------------------
    def send_down(self, round_idx: int) -> list[Outgoing]:
        """On the hub's host: the aggregate D (and every increment heard) to every host."""
        ctx, every = self.ctx, self._every()
        if ctx.host != self._hub_host():
            return []
        hub_row, out = int(np.searchsorted(ctx.local, self.hub)), []
        if ctx.protocol.share_weights:
            enc = self.hub_codec.encode(self._aggregate)
            body = {"base_round": round_idx, "scale": 1.0}
            tensors = enc.tensors
            msg = message(
                Kind.DELTA, self.hub, round_idx, term=self.term, body=body, tensors=tensors
            )
            out.append(Outgoing(every, msg))
        if ctx.protocol.share_beliefs:
            incs = sorted(self.uploads, key=lambda i: i.key)
            self.uploads = []
            self._fuse([hub_row], incs)
            tensors = increment_tensors(incs, self.n_cells)
            msg = message(Kind.BELIEF, self.hub, round_idx, term=self.term, tensors=tensors)
            out.append(Outgoing(every, msg))
        if ctx.protocol.share_claims:
            out.append(
                self.claims.table(self.hub, self.claim_table, every, round_idx, term=self.term)
            )
        return out

    def expect_down(self, round_idx: int) -> Expected:
        p = self.ctx.protocol
        on = ((Kind.DELTA, p.share_weights), (Kind.BELIEF, p.share_beliefs))
        kinds = [k for k, yes in (*on, (Kind.CLAIM, p.share_claims)) if yes]
        return [(k, self.hub) for k in kinds]

    def read_down(self, d: Delivery) -> tuple[Kind, Any]:
        if d.message.kind == Kind.CLAIM:
            if "table" not in d.message.body:
                raise ProtocolError("manifest", "a hub's CLAIM broadcast carries a table")
            return Kind.CLAIM, self.claims.read(d)
        if d.message.body.get("brains") is not None:
            raise ProtocolError("manifest", "a hub broadcast speaks for the hub alone")
        n = self.ctx.plan.n_brains
        kind, ((_, value),) = read_batch(d, n, self.layout, self.n_cells)
        return kind, value

    def adopt(self, round_idx: int, got: list[tuple[Kind, Any]]) -> None:
        """Every local brain moves to x_common + D and fuses the increments it has not met."""
        ctx, bank = self.ctx, self.ctx.bank
        for kind, value in got:
            if kind == Kind.CLAIM:  # every drone hears every other drone's claim
                team = range(ctx.plan.n_brains)
                listeners = {b: team for b in ctx.local.tolist()}
                self.claims.hear(dict(value), listeners)
            elif kind == Kind.DELTA:
                self.common = self.common + value
                bank.add_flat(self.common[None] - bank.read_flat())  # every x_i := common
            else:
                self._fuse(np.flatnonzero(ctx.local != self.hub).tolist(), value)

    def _fuse(self, rows: list[int], incs: list[Increment]) -> None:
        """Local brains `rows` fuse each increment of `incs` they meet for the first time."""
        ctx, at, items = self.ctx, [], []
        for row in rows:
            brain = int(ctx.local[row])
            for inc in incs:
                if self.ledger.first(brain, inc):
                    at.append(row)
                    items.append(evidence_of(inc))
        ctx.policy.fuse_evidence(np.array(at, np.int64), items)

"""Hub rounds (`star`, `dynamic`): upload deltas to a hub, aggregate, broadcast one model.

Every brain of the team holds the same common model after a round (they start from the same
pretrained weights). During the next `sync_every` ticks each learns on its own; then:

1. `Phase.ELECT` (`dynamic` only): every brain's competence (recent verified precision) goes
   to every host in its host's batched HEARTBEAT; all hosts run the same
   `protocols.centre.Election` on the same numbers, so they agree on the hub without a vote
   round trip (rounds are barriers and every host hears the same heartbeats). With injected
   faults drones hear different heartbeats: `swarm.exchange_vote` replaces this phase by
   heartbeats and a majority vote (`Phase.PROPOSE`, `VOTE`, `ANNOUNCE`), and only drones
   that follow the newest hub upload to it and adopt its broadcast.
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

Failover (`dynamic`): a hub that stops sending heartbeats (it crashed: `faults.hub_crash`)
is replaced once silent for `heartbeat_timeout` rounds by the most competent live brain; the
new hub's host announces its term in the next round's election phase with an ELECT request
(`candidate`, `competence`), and every host rejects one that names another hub or term than
its own election (so a term never has two hubs). Since a crash is a fault, a run that has one
elects by majority vote (`swarm.exchange_vote`), which keeps one hub per term under loss and
partitions too. `terms` records term -> hub.

With injected faults (`swarm.faults`) an upload goes only where its link delivers this
round (a late upload misses the round), crashed brains are silent, a brain that does not
hear the broadcast keeps its own weights for the round, and a Byzantine brain uploads its
attack in its own message (its view: its honest delta and the last broadcast D).
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
from protocols.compression import EncodedTensor, get_codec
from protocols.evidence import (
    Increment,
    Ledger,
    grouped_tensors,
    increment_bytes,
    increment_tensors,
)
from protocols.messages import Kind, ProtocolError
from swarm.exchange import Context, Exchange, Expected, Phase, Step, evidence_of, increment_of
from swarm.exchange_claims import ClaimRelay, Claims
from swarm.exchange_vote import VotedElection

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
        self.last_d = np.zeros_like(self._good[0])  # (P,) the last broadcast D (attack view)
        self.terms: dict[int, int] = {0: 0}  # term -> its hub, as this host elected it
        self._announce = False  # a new term to announce with ELECT in the next round
        # Every brain holds the common model after a round; it starts as the shared checkpoint.
        self.common = self._good[0]  # (P,)
        self.max_bytes = p.max_message_bytes
        self.delta_bytes = 8 * self.common.size + 256  # worst case per brain, any codec
        self.belief_bytes = increment_bytes(self.n_cells, 1)  # one increment per brain
        self.beat_bytes = 64  # a heartbeat's body entries per brain, generously
        # with faults, drones hear different heartbeats: a majority vote (swarm.exchange_vote)
        self.voted: VotedElection | None = None
        if p.topology.kind == "dynamic" and ctx.faults is not None:
            self.voted = VotedElection(ctx, self._begin, self.beat_bytes, self.max_bytes)
            self.terms = self.voted.quorum.terms  # the same dict, kept by the quorum
            self.steps.update(self.voted.steps())
        elif p.topology.kind == "dynamic":
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
        return self.election.hub if self.voted is None else self.voted.hub

    @property
    def term(self) -> int:
        return self.election.term if self.voted is None else self.voted.term

    def _hub_host(self) -> int:
        return int(self.ctx.plan.brain_owner[self.hub])

    def _every(self) -> tuple[int, ...]:
        return tuple(range(self.ctx.plan.n_hosts))

    def audience(self, phase: Phase, kind: Kind, brain: int) -> int:
        """Drones that receive brain's message as devices would: the hub for an upload (none
        for the hub's own), every other drone for a heartbeat or the hub's broadcast."""
        if phase == Phase.UPLOAD:
            return int(brain != self.hub)
        if phase == Phase.VOTE:  # a vote goes to its candidate
            return 1
        return self.ctx.plan.n_brains - 1

    # -- faults (swarm.faults) ------------------------------------------------------------
    def _begin(self, round_idx: int) -> None:
        """Let the hub crash happen (idempotent; the same hub on every host)."""
        if self.ctx.faults is not None:
            self.ctx.faults.begin_round(round_idx, self.hub)

    def _uploaders(self, round_idx: int, brains: list[int]) -> list[int]:
        """`brains` whose upload reaches the hub this round (all, without faults; with a vote,
        only those that follow the newest hub)."""
        f = self.ctx.faults
        if self.voted is not None:
            brains = self.voted.follows(brains)
        return brains if f is None else [b for b in brains if f.hears(round_idx, b, self.hub)]

    def _hub_dead(self, round_idx: int) -> bool:
        f = self.ctx.faults
        return f is not None and bool(f.crashed(round_idx)[self.hub])

    # -- Phase.ELECT ----------------------------------------------------------------------
    def send_beats(self, round_idx: int) -> list[Outgoing]:
        """Batched HEARTBEATs to every host: body lists (competence, position) per brain."""
        self._begin(round_idx)
        ctx, out = self.ctx, []
        pos, brains = ctx.positions, ctx.local.tolist()
        comp_of = dict(zip(brains, (float(c) for c in ctx.competence()), strict=True))
        if ctx.faults is not None:  # a crashed brain's heartbeat stops
            brains = ctx.faults.alive(round_idx, brains)
        competence = [comp_of[b] for b in brains]
        position = [[float(v) for v in pos[b]] for b in brains] if pos is not None else []
        if self._announce and ctx.host == self._hub_host() and not self._hub_dead(round_idx):
            body = {"type": "request", "candidate": self.hub, "competence": comp_of[self.hub]}
            msg = message(Kind.ELECT, self.hub, round_idx, term=self.term, body=body)
            out.append(Outgoing(self._every(), msg))
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
        self._begin(round_idx)
        plan, out, f = self.ctx.plan, [], self.ctx.faults
        for h in range(plan.n_hosts):
            on = plan.brains_on(h).tolist()
            on = on if f is None else f.alive(round_idx, on)
            out += batch_heads(Kind.HEARTBEAT, on, self.beat_bytes, self.max_bytes)
        if self._announce and not self._hub_dead(round_idx):
            out.append((Kind.ELECT, self.hub))
        return out

    def read_beat(self, d: Delivery) -> tuple[list[int], list[float], int]:
        """(brains, their competences, term) of a heartbeat; ProtocolError if malformed.

        An ELECT announcement reads as ([], [], term) once it names this host's own hub and
        term; one that does not is rejected (`term`): one hub per term."""
        if d.message.kind == Kind.ELECT:
            body = d.message.body
            if body.get("candidate") != self.hub or d.message.term != self.term:
                raise ProtocolError(
                    "term",
                    f"ELECT names hub {body.get('candidate')} of term {d.message.term}; "
                    f"this host elected {self.hub} for term {self.term}",
                )
            return [], [], d.message.term
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
        before = self.term
        self.election.close_round()
        self._announce = self.term != before
        self.terms.setdefault(self.term, self.hub)

    # -- Phase.UPLOAD ---------------------------------------------------------------------
    def send_up(self, round_idx: int) -> list[Outgoing]:
        """Every local brain's d_i = x_i − x_common (and belief update) to the hub's host."""
        self._begin(round_idx)
        ctx, out = self.ctx, []
        dest, local = self._hub_host(), ctx.local.tolist()
        deltas = self.read_rows() - self.common  # (K, P): d_i = x_i − x_common
        brains = self._uploaders(round_idx, local)
        groups, poison = [brains] if brains else [], {}
        if ctx.faults is not None and brains:
            honest, byz, _ = ctx.faults.split(round_idx, brains)
            groups = ([honest] if honest else []) + [[b] for b in byz]
            poison = self._attack(round_idx, deltas, local, byz)
        q = self.encoder.encode(deltas, local)
        q.update(poison)
        body = {"base_round": round_idx, "scale": 1.0}
        kw = {"term": self.term, "recipient": self.hub}
        rows = {b: r for r, b in enumerate(local)}
        own = ctx.policy.take_evidence() if ctx.protocol.share_beliefs else []
        for group in groups:
            if ctx.protocol.share_weights:  # off: the ablation, nothing to upload
                out += batch_messages(
                    Kind.DELTA,
                    dest,
                    group,
                    q,
                    round_idx,
                    self.delta_bytes,
                    self.max_bytes,
                    body=body,
                    **kw,
                )
            if ctx.protocol.share_beliefs:
                mine = [b for b in group if own[rows[b]]]
                incs = [(f"{b}/", [increment_of(b, round_idx, own[rows[b]])]) for b in mine]
                tensors = dict(zip(mine, grouped_tensors(incs, self.n_cells), strict=True))
                out += batch_messages(
                    Kind.BELIEF,
                    dest,
                    group,
                    tensors,
                    round_idx,
                    self.belief_bytes,
                    self.max_bytes,
                    **kw,
                )
        if ctx.protocol.share_claims:
            out += self.claims.batched(dest, brains, round_idx, **kw)
        return out

    def _attack(
        self, round_idx: int, deltas: np.ndarray, local: list[int], byz: list[int]
    ) -> dict[int, list[EncodedTensor]]:
        """Byzantine rows of deltas (K, P) replaced by their attack in place (view: the
        brain's honest delta and the last broadcast D); a non-finite attack is returned as
        plain fp32 tensors instead, its row kept for the encoder's state."""
        f, poison = self.ctx.faults, {}
        for b in byz:
            r = local.index(b)
            bad = f.attack(round_idx, b, deltas[r], np.stack([deltas[r], self.last_d]))
            if f.poisons():
                poison[b] = list(get_codec("none").encode({str(b): bad}).tensors)
            else:
                deltas[r] = bad
        return poison

    def expect_up(self, round_idx: int) -> Expected:
        """On the hub's host: a DELTA (and a BELIEF) per batch of every host's brains."""
        self._begin(round_idx)
        if self.ctx.host != self._hub_host():
            return []
        plan, out, f = self.ctx.plan, [], self.ctx.faults
        for h in range(plan.n_hosts):  # a host without brains has no batches
            on = self._uploaders(round_idx, plan.brains_on(h).tolist())
            if self.ctx.protocol.share_claims:  # claims ride with the uploads that get through
                out += self.claims.heads(on)
            byz: list[int] = []
            readable: list[int] = []
            if f is not None:  # Byzantine brains upload alone; a non-finite DELTA is rejected
                on, byz, readable = f.split(round_idx, on)
            if self.ctx.protocol.share_weights:
                out += batch_heads(Kind.DELTA, on, self.delta_bytes, self.max_bytes)
                out += [(Kind.DELTA, b) for b in readable]
            if self.ctx.protocol.share_beliefs:
                out += batch_heads(Kind.BELIEF, on, self.belief_bytes, self.max_bytes)
                out += [(Kind.BELIEF, b) for b in byz]
        if f is not None and self.voted is None:  # the hub's host counts the uplinks' fates
            f.count_links(round_idx, f.alive(round_idx, range(plan.n_brains)), self.hub)
        return out

    def read_up(self, d: Delivery) -> tuple[Kind, Parts]:
        if d.message.kind == Kind.CLAIM:
            return Kind.CLAIM, self.claims.read(d)
        return read_batch(d, self.ctx.plan.n_brains, self.layout, self.n_cells)

    def aggregate(self, round_idx: int, got: list[tuple[Kind, Parts]]) -> None:
        """On the hub's host: the aggregate of the deltas heard, the brains' increments kept."""
        deltas: dict[int, np.ndarray] = {}
        self.claim_table = {}
        self._aggregate = {}
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
        comp = self.election.competence if self.voted is None else self.voted.competence()
        weights = np.array([max(float(comp[b]), 1e-3) for b in order])
        p = self.ctx.protocol
        agg = hub_aggregate(p.aggregation, stacked, weights, p.byzantine_f, p.clip_radius)
        self._aggregate = self.layout.pack(agg.astype(np.float32), self.by_tensor)

    # -- Phase.BROADCAST ------------------------------------------------------------------
    def send_down(self, round_idx: int) -> list[Outgoing]:
        """On the hub's host: the aggregate D (and every increment heard) to every host."""
        ctx, every = self.ctx, self._every()
        if ctx.host != self._hub_host() or self._hub_dead(round_idx):
            return []
        if not self._heard_any(round_idx):
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
        if self._hub_dead(round_idx) or not self._heard_any(round_idx):
            return []
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

    def _heard_any(self, round_idx: int) -> bool:
        """Whether the hub aggregated anything this round (every host knows: same plan)."""
        p = self.ctx.protocol
        if not (p.share_weights or p.share_beliefs or p.share_claims):
            return False
        up = self._uploaders(round_idx, list(range(self.ctx.plan.n_brains)))
        f = self.ctx.faults
        if f is not None and f.poisons():  # those uploads are rejected at the hub
            up = [b for b in up if not f.lying(round_idx)[b]]
        return bool(up)

    def adopt(self, round_idx: int, got: list[tuple[Kind, Any]]) -> None:
        """Every local brain moves to x_common + D and fuses the increments it has not met
        (with faults: those that hear the hub; the others keep their own weights this round)."""
        ctx, bank, f = self.ctx, self.ctx.bank, self.ctx.faults
        hear = np.ones(ctx.local.size, bool)
        if f is not None:
            hear = np.array([f.hears(round_idx, self.hub, b) for b in ctx.local.tolist()], bool)
            if self.voted is not None:  # links counted with the heartbeats; followers only
                hear &= np.isin(ctx.local, self.voted.follows(ctx.local.tolist()))
            else:
                for b in f.alive(round_idx, ctx.local.tolist()):
                    if b != self.hub:  # each downlink counted by its receiver's host
                        f.count_links(round_idx, [self.hub], b)
        for kind, value in got:
            if kind == Kind.CLAIM:  # every drone hears every other drone's claim
                team = range(ctx.plan.n_brains)
                listeners = {b: team for b in ctx.local.tolist()}
                self.claims.hear(dict(value), listeners)
            elif kind == Kind.DELTA:
                self.common = self.common + value
                self.last_d = value
                move = self.common[None] - bank.read_flat()  # every x_i := common
                move[~hear] = 0.0  # ...but those that did not hear it
                bank.add_flat(move)
            else:
                self._fuse(np.flatnonzero((ctx.local != self.hub) & hear).tolist(), value)

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

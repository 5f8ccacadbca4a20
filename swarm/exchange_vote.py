"""The `dynamic` hub's election under injected faults: heartbeats and votes that can be lost.

Without faults every drone hears every heartbeat, so every host runs one
`protocols.centre.Election` and all agree (`swarm.exchange_hub`). With a `faults:` section the
control plane takes the same link fates as the data plane (`swarm.faults`), drones hear
different heartbeats, and the hub is elected by a majority vote (`protocols.centre.Quorum`),
in four phases of every round:

1. `Phase.ELECT`: every live drone's HEARTBEAT (competence, position; the header's term and
   the body's `hub` are those it follows), batched per host and per (term, hub) of its drones,
   to every host. Drone d hears drone j's only when the link j -> d delivers it this round
   (a late link is lost for the control plane: a heartbeat is about now). Each host then
   counts the fates of the links into its own live drones (`fault_lost`, ...).
2. `Phase.PROPOSE`: a drone whose own election wants another hub sends an ELECT request
   (`candidate`, its `competence`, the header's term the new term).
3. `Phase.VOTE`: each drone grants the best request it heard that it may, with an ELECT vote
   to the candidate.
4. `Phase.ANNOUNCE`: a candidate that heard votes from a majority of all N drones leads the
   term and sends an ELECT request naming itself; a drone that hears it follows it.

Every message goes only to hosts where some live drone hears it (a lost message is not sent),
except heartbeats, which reach every host: each host keeps every drone's election state (the
`Quorum`, updated for each drone from what that drone heard), because the barriers of the
next phases and of the data plane (who uploads to the hub, who hears its broadcast) depend on
every drone's state. A deployed drone would keep only its own. Every ELECT a host receives is
checked against its copy (rejected as `term` if it differs), so all copies stay identical.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from protocols.batching import Outgoing, batch_brains, batch_heads, batches, message
from protocols.centre import Proposal, Quorum, Vote
from protocols.codec import Delivery
from protocols.messages import Kind, ProtocolError
from swarm.exchange import Context, Expected, Phase, Step
from swarm.faults import NOW

__all__ = ["VotedElection"]

Beat = tuple[list[int], list[float]]
Elect = tuple[str, int, int, int]  # an ELECT of a phase: (type, sender, candidate, term)


class VotedElection:
    """The four election phases of a `dynamic` team with faults (module docstring).

    `begin(round_idx)`: the hub exchange's start of a round (lets the hub crash happen), called
    before any fate is read. `steps()` gives the phases' `Step`s; `hub`, `term` the newest
    announced hub (the data plane's), `follows(brains)` which of them follow it."""

    def __init__(
        self, ctx: Context, begin: Callable[[int], None], beat_bytes: int, max_bytes: int
    ) -> None:
        assert ctx.faults is not None
        self.ctx, self.begin = ctx, begin
        self.beat_bytes, self.max_bytes = beat_bytes, max_bytes
        t = ctx.protocol.topology
        self.quorum = Quorum(ctx.plan.n_brains, t.heartbeat_timeout, t.hysteresis)
        self._props: list[Proposal] = []
        self._votes: list[Vote] = []
        self._won: list[tuple[int, int]] = []
        self._now: list[Elect] = []  # this phase's ELECTs, as this host's copy has them

    def steps(self) -> dict[Phase, Step]:
        return {
            Phase.ELECT: Step(self.send_beats, self.expect_beats, self.read_beat, self.hear),
            Phase.PROPOSE: Step(self.send_props, self.expect_props, self.read_elect, self.vote),
            Phase.VOTE: Step(self.send_votes, self.expect_votes, self.read_elect, self.tally),
            Phase.ANNOUNCE: Step(self.send_won, self.expect_won, self.read_elect, self.announce),
        }

    @property
    def hub(self) -> int:
        return self.quorum.leader[0]

    @property
    def term(self) -> int:
        return self.quorum.leader[1]

    def competence(self) -> np.ndarray:
        """(n,) every brain's competence as the newest hub last heard it (its weights)."""
        return self.quorum.competence[self.hub]

    def follows(self, brains: list[int]) -> list[int]:
        """`brains` that follow the newest hub (the others sit the data plane out)."""
        mask = self.quorum.follows(*self.quorum.leader)
        return [b for b in brains if mask[b]]

    # -- what every host knows from the plan and its copy ----------------------------------
    def _alive(self, round_idx: int) -> np.ndarray:
        return ~self.ctx.faults.crashed(round_idx)

    def _heard(self, round_idx: int) -> np.ndarray:
        """(n, n) bool [j, d]: d hears j's control message of this round."""
        return self.ctx.faults.fates(round_idx) == NOW

    def _dests(self, round_idx: int, src: int, only: int | None = None) -> tuple[int, ...]:
        """Hosts with a live drone other than src that hears src this round (`only`: that
        drone alone)."""
        plan = self.ctx.plan
        hears = self._heard(round_idx)[src] & self._alive(round_idx)
        hears[src] = False
        if only is not None:
            return (int(plan.brain_owner[only]),) if hears[only] else ()
        return tuple(sorted({int(plan.brain_owner[d]) for d in np.flatnonzero(hears)}))

    def _groups(self, round_idx: int, host: int) -> list[tuple[int, int, list[int]]]:
        """(term, hub, brains) of host's live drones, grouped by the hub they follow."""
        q, groups = self.quorum, {}
        on = self.ctx.faults.alive(round_idx, self.ctx.plan.brains_on(host).tolist())
        for b in on:
            groups.setdefault((int(q.term[b]), int(q.hub[b])), []).append(b)
        return [(t, h, bs) for (t, h), bs in sorted(groups.items())]

    # -- Phase.ELECT: heartbeats -----------------------------------------------------------
    def send_beats(self, round_idx: int) -> list[Outgoing]:
        self.begin(round_idx)
        ctx, out = self.ctx, []
        comp = dict(zip(ctx.local.tolist(), (float(c) for c in ctx.competence()), strict=True))
        pos = ctx.positions
        every = tuple(range(ctx.plan.n_hosts))
        for term, hub, brains in self._groups(round_idx, ctx.host):
            for batch in batches(brains, self.beat_bytes, self.max_bytes):
                body = {
                    "brains": batch,
                    "hub": hub,
                    "competence": [comp[b] for b in batch],
                    "position": [[float(v) for v in pos[b]] for b in batch]
                    if pos is not None
                    else [],
                }
                msg = message(Kind.HEARTBEAT, batch[0], round_idx, term=term, body=body)
                out += [Outgoing((dest,), msg) for dest in every]
        return out

    def expect_beats(self, round_idx: int) -> Expected:
        self.begin(round_idx)
        out: Expected = []
        for h in range(self.ctx.plan.n_hosts):
            for _, _, brains in self._groups(round_idx, h):
                out += batch_heads(Kind.HEARTBEAT, brains, self.beat_bytes, self.max_bytes)
        return out

    def read_beat(self, d: Delivery) -> Beat:
        """(brains, competences); ProtocolError unless well formed and of the term and hub
        this host's copy says those drones follow."""
        brains = batch_brains(d, self.ctx.plan.n_brains)
        comp = d.message.body.get("competence")
        if not isinstance(comp, list) or len(comp) != len(brains):
            raise ProtocolError("manifest", "heartbeat competence must be one per brain")
        if not all(isinstance(c, int | float) and np.isfinite(c) for c in comp):
            raise ProtocolError("manifest", "heartbeat competence must be finite")
        q = self.quorum
        if any(
            q.term[b] != d.message.term or q.hub[b] != d.message.body.get("hub") for b in brains
        ):
            raise ProtocolError("term", "a heartbeat names another term or hub than its drones'")
        return brains, [float(c) for c in comp]

    def hear(self, round_idx: int, beats: list[Beat]) -> None:
        ctx, f = self.ctx, self.ctx.faults
        comp = np.zeros(ctx.plan.n_brains, np.float32)
        for brains, c in beats:
            comp[brains] = c
        alive = self._alive(round_idx)
        self.quorum.hear(self._heard(round_idx), comp, alive)
        senders = f.alive(round_idx, range(ctx.plan.n_brains))
        for d in f.alive(round_idx, ctx.local.tolist()):  # each link once, by its receiver
            f.count_links(round_idx, [s for s in senders if s != d], d)
        self._props = self.quorum.proposals(alive)

    # -- Phase.PROPOSE, VOTE, ANNOUNCE: ELECT messages --------------------------------------
    def _elect(self, round_idx: int, sender: int, kind: str, cand: int, term: int) -> Outgoing:
        """An ELECT of `sender` about `cand` (competence: as the sender last heard it)."""
        comp = float(self.quorum.competence[sender, cand])
        body = {"type": kind, "candidate": cand, "competence": comp}
        dests = self._dests(round_idx, sender, cand if kind == "vote" else None)
        return Outgoing(dests, message(Kind.ELECT, sender, round_idx, term=term, body=body))

    def _sent(self, round_idx: int, msgs: list[Elect]) -> list[Outgoing]:
        """(type, sender, candidate, term) of local senders as ELECTs, where any is heard."""
        local = set(self.ctx.local.tolist())
        out = [self._elect(round_idx, s, k, c, t) for k, s, c, t in msgs if s in local]
        return [o for o in out if o.dests]

    def _expected(self, round_idx: int, msgs: list[Elect]) -> Expected:
        here = self.ctx.host
        return [
            (Kind.ELECT, s)
            for kind, s, c, _ in msgs
            if here in self._dests(round_idx, s, c if kind == "vote" else None)
        ]

    def _wanted(self) -> dict[int, tuple[str, int, int]]:
        """sender -> (type, candidate, term) of this phase's ELECTs, from this host's copy."""
        return {s: (k, c, t) for k, s, c, t in self._now}

    def read_elect(self, d: Delivery) -> None:
        """Checks an ELECT against this host's copy (rejected as `term` if it differs)."""
        m, body = d.message, d.message.body
        want = self._wanted().get(m.sender)
        if want != (body.get("type"), body.get("candidate"), m.term):
            raise ProtocolError(
                "term", f"ELECT {body} of term {m.term} from {m.sender}: not {want}"
            )

    def send_props(self, round_idx: int) -> list[Outgoing]:
        self._now = [("request", p.proposer, p.candidate, p.term) for p in self._props]
        return self._sent(round_idx, self._now)

    def expect_props(self, round_idx: int) -> Expected:
        self._now = [("request", p.proposer, p.candidate, p.term) for p in self._props]
        return self._expected(round_idx, self._now)

    def vote(self, round_idx: int, _: list[None]) -> None:
        self._votes = self.quorum.vote(self._props, self._heard(round_idx), self._alive(round_idx))

    def send_votes(self, round_idx: int) -> list[Outgoing]:
        self._now = [
            ("vote", v.voter, v.candidate, v.term) for v in self._votes if v.voter != v.candidate
        ]
        return self._sent(round_idx, self._now)

    def expect_votes(self, round_idx: int) -> Expected:
        self._now = [
            ("vote", v.voter, v.candidate, v.term) for v in self._votes if v.voter != v.candidate
        ]
        return self._expected(round_idx, self._now)

    def tally(self, round_idx: int, _: list[None]) -> None:
        self._won = self.quorum.tally(self._votes, self._heard(round_idx), self._alive(round_idx))

    def send_won(self, round_idx: int) -> list[Outgoing]:
        self._now = [("request", c, c, t) for c, t in self._won]
        return self._sent(round_idx, self._now)

    def expect_won(self, round_idx: int) -> Expected:
        self._now = [("request", c, c, t) for c, t in self._won]
        return self._expected(round_idx, self._now)

    def announce(self, round_idx: int, _: list[None]) -> None:
        heard, alive = self._heard(round_idx), self._alive(round_idx)
        for hub, term in self._won:
            self.quorum.announce(hub, term, heard, alive)

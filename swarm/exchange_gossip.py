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

Robustness and faults: with `protocol.gossip_clip` each brain adds its neighbours'
differences clipped to a radius (`protocols.gossip.clipped_pull`, self-centred clipping);
with injected faults (`swarm.faults`) a brain mixes only what it heard (`LinkViews`), crashed
brains go silent, Byzantine ones send an attack and do not mix. Both take the per-brain
step `_pull_each`; a clean run keeps the batched `choco_pull`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from protocols.batching import (
    Outgoing,
    RowEncoder,
    SparseRow,
    batch_heads,
    batch_messages,
    follows,
    read_batch,
    row_index,
)
from protocols.codec import Delivery
from protocols.compression import get_codec
from protocols.evidence import Increment, Ledger, grouped_tensors
from protocols.gossip import choco_pull, clipped_pull, mixing_rows
from protocols.messages import Kind
from protocols.topology import mixing_matrix
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
from swarm.faults import NOW, LinkViews

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
        self._wd: np.ndarray | None = None  # dense (N, N) W of self.graph, per-brain path
        self.views = LinkViews(ctx.faults) if ctx.faults is not None else None
        # late belief increments: delivery round -> (receiving local brain, sender, increments)
        self.late: dict[int, list[tuple[int, int, list[Increment]]]] = {}
        self.per_brain = ctx.faults is not None or p.gossip_clip
        self.max_bytes = p.max_message_bytes
        self.delta_bytes = 8 * init.size + 256  # worst case per brain, any codec
        # routes[h][d]: brains of host h whose messages host d needs (fixed: radio sends all)
        plan = ctx.plan
        self.routes = [[[] for _ in range(plan.n_hosts)] for _ in range(plan.n_hosts)]
        for b in range(plan.n_brains):
            for d in self._dests(b):
                self.routes[int(plan.brain_owner[b])][d].append(b)
        self.claims = ClaimRelay(ctx)  # goal claims: their own messages, same routes
        self.steps = {
            Phase.MIX: Step(self.send_q, self.expect_q, self.read_q, self.mix, self.follow_q)
        }

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
            self.graph, self._w, self._wd = team_graph(ctx), None, None
        diff = self.read_rows()  # a fresh copy: made x_i − x̂_i in place, (K, P)
        diff -= self.xhat[self.rows]
        poison = self._attack(round_idx, diff) if ctx.faults is not None else {}
        q = self.encoder.encode(diff, ctx.local)  # each brain's payload encoded once
        q.update(poison)
        cells = self._belief_payloads(round_idx) if ctx.protocol.share_beliefs else {}
        out = []
        body = {"base_round": round_idx, "scale": 1.0}
        for dest in range(ctx.plan.n_hosts):
            for brains in self._groups(round_idx, self._route(round_idx, ctx.host, dest)):
                limit = self.max_bytes
                if ctx.protocol.share_weights:  # off: the ablation, beliefs only
                    out += batch_messages(
                        Kind.DELTA, dest, brains, q, round_idx, self.delta_bytes, limit, body=body
                    )
                if ctx.protocol.share_beliefs:  # split by real size: see `follow_q`
                    shape = {"shape": list(self.map_shape)}
                    out += batch_messages(
                        Kind.BELIEF, dest, brains, cells, round_idx, None, limit, body=shape
                    )
            brains = self.routes[ctx.host][dest]
            if ctx.protocol.share_claims and brains:  # claims: the routes, not the faults
                out += self.claims.batched(dest, brains, round_idx)
        return out

    # -- faults (swarm.faults): who is heard, who lies ------------------------------------
    def _route(self, round_idx: int, host: int, dest: int) -> list[int]:
        """Brains of `host` whose message host `dest` gets this round: its own brains and
        those a brain on `dest` hears now or late (all, radio); none crashed."""
        brains, f = self.routes[host][dest], self.ctx.faults
        if f is None:
            return brains
        owner, fates = self.ctx.plan.brain_owner, f.fates(round_idx)
        radio = self.ctx.protocol.topology.kind == "radio"

        def needed(b: int) -> bool:
            if radio or int(owner[b]) == dest:
                return True
            return any(fates[b, j] >= 0 for j in self.graph.neighbors(b) if owner[j] == dest)

        return [b for b in f.alive(round_idx, brains) if needed(b)]

    def _groups(self, round_idx: int, brains: list[int]) -> list[list[int]]:
        """The brain lists of the messages carrying `brains`: one batch, and each Byzantine
        brain alone (its own signed message)."""
        if self.ctx.faults is None:
            return [brains] if brains else []
        honest, byz, _ = self.ctx.faults.split(round_idx, brains)
        return ([honest] if honest else []) + [[b] for b in byz]

    def _attack(self, round_idx: int, diff: np.ndarray) -> dict[int, list[Any]]:
        """Byzantine local brains' rows of diff (K, P) replaced by their attack, in place.

        The attacker's frame is its public copy x̂_b; its view is its neighbours' copies in
        that frame (identical on every host). A non-finite attack is returned as a plain
        fp32 tensor per brain instead (a compressor would not carry it), the row kept."""
        f, ctx = self.ctx.faults, self.ctx
        lying, dead = f.lying(round_idx), f.crashed(round_idx)
        poison: dict[int, list[Any]] = {}
        for r, b in enumerate(ctx.local.tolist()):
            if not lying[b] or dead[b]:
                continue
            js = sorted(self.graph.neighbors(b))
            bad = f.attack(round_idx, b, diff[r], self.xhat[js] - self.xhat[b])
            if f.poisons():
                poison[b] = list(get_codec("none").encode({str(b): bad}).tensors)
            else:
                diff[r] = bad
        return poison

    def expect_q(self, round_idx: int) -> Expected:
        """A DELTA (and a BELIEF) per batch of each host's brains that this host needs."""
        me, out, f = self.ctx.host, [], self.ctx.faults
        for host in range(len(self.routes)):
            brains = self._route(round_idx, host, me)
            byz: list[int] = []
            readable: list[int] = []
            if f is not None:  # Byzantine brains speak alone; a non-finite DELTA is rejected
                brains, byz, readable = f.split(round_idx, brains)
            p = self.ctx.protocol
            if p.share_weights:
                out += batch_heads(Kind.DELTA, brains, self.delta_bytes, self.max_bytes)
                out += [(Kind.DELTA, b) for b in readable]
            if p.share_beliefs:  # the run's first batch; each names the next (`follow_q`)
                out += [(Kind.BELIEF, b) for b in brains[:1] + byz]
            if p.share_claims:  # claims: the routes, not the faults
                out += self.claims.heads(self.routes[host][me])
        return out

    def read_q(self, d: Delivery) -> tuple[Kind, list[tuple[int, Any]]]:
        """A DELTA's (brain, q row), a BELIEF's (brain, [Increment]) or a CLAIM's (brain, goal)
        pairs, checked, not applied (a BELIEF batch must be a run of its host's brains)."""
        if d.message.kind == Kind.CLAIM:
            return Kind.CLAIM, self.claims.read(d)
        got = read_batch(d, self.ctx.plan.n_brains, self.layout, self.n_cells, sparse=True)
        if d.message.kind == Kind.BELIEF:
            self.follow_q(d)
        return got

    def follow_q(self, d: Delivery) -> Expected:
        """The BELIEF batch an accepted one announces: BELIEF batches are split by their real
        size (`protocols.batching.sized_batches`), so a receiver expects each host's first
        and every batch names the next brain of that host's run, if any. A Byzantine brain's
        own message stands alone. ProtocolError("manifest") for a batch that is no run."""
        if d.message.kind != Kind.BELIEF:
            return []
        run, alone = self._belief_runs(d.message.round, d.message.sender)
        if d.message.sender in alone:
            return follows(d, [d.message.sender])
        return follows(d, run)

    def _belief_runs(self, round_idx: int, brain: int) -> tuple[list[int], list[int]]:
        """(the batched run, the brains sent alone) of BELIEF messages from brain's host to
        this host in `round_idx`."""
        host = int(self.ctx.plan.brain_owner[brain])
        brains, f = self._route(round_idx, host, self.ctx.host), self.ctx.faults
        if f is None:
            return brains, []
        honest, byz, _ = f.split(round_idx, brains)
        return honest, byz

    def mix(self, round_idx: int, got: list[tuple[Kind, list[tuple[int, Any]]]]) -> None:
        """x̂_j += q_j for the round's messages (in (sender, seq) order), then the consensus
        step for the local brains, then each fuses its neighbours' new evidence."""
        ctx = self.ctx
        claimed: dict[int, tuple[int, int]] = {}
        heard: dict[int, list[Increment]] = {}
        owner = ctx.plan.brain_owner
        for kind, parts in got:
            if kind == Kind.CLAIM:
                claimed.update(parts)
                continue
            for brain, value in parts:
                if kind == Kind.DELTA:  # q_j: sparse as sent (topk*), or a dense row
                    sparse = isinstance(value, SparseRow)
                    if sparse:
                        value.add_to(self.xhat[brain])
                    else:
                        self.xhat[brain] += value
                    if self.views is not None:  # what local neighbours did not hear
                        mine = [j for j in self.graph.neighbors(brain) if owner[j] == ctx.host]
                        q = value.dense() if sparse else value
                        self.views.receive(round_idx, brain, q, mine)
                else:
                    heard[brain] = value
        if self.views is not None:
            self.views.release(round_idx)
            for i in ctx.faults.alive(round_idx, ctx.local.tolist()):
                ctx.faults.count_links(round_idx, sorted(self.graph.neighbors(i)), i)
        if self.per_brain:
            if ctx.protocol.share_weights:
                ctx.bank.add_flat(self._pull_each(round_idx))
            if ctx.protocol.share_beliefs:
                self._fuse_heard(heard, round_idx)
        else:
            if self._w is None:  # the graph changes only for radio, which resets this
                self._w = mixing_rows(self.graph, ctx.local)
            if self._mixed is None:  # kept between rounds: a fresh (K, P) faults every page
                self._mixed = torch.empty(ctx.local.size, self.xhat.shape[1])
            if ctx.protocol.share_weights:
                pull = choco_pull(self._w, self.xhat, self.rows, self.step, self._mixed)
                ctx.bank.add_flat(pull)
            if ctx.protocol.share_beliefs:
                self._fuse_heard(heard)
        if ctx.protocol.share_claims:  # each local drone hears its neighbours' claims
            near = {b: list(self.graph.neighbors(b)) for b in ctx.local.tolist()}
            self.claims.hear(claimed, near)

    def _belief_payloads(self, round_idx: int) -> dict[int, list]:
        """Per local brain: the tensors of its own new increment (stamped (brain, round))
        and of the increments it relays this round (each once)."""
        ctx, groups = self.ctx, []
        own = ctx.policy.take_evidence()
        brains = ctx.local.tolist()
        for row, brain in enumerate(brains):
            ev = own[row]
            items = [increment_of(brain, round_idx, ev)] if ev else []
            items += self.relay[brain]
            self.relay[brain] = []
            groups.append((f"{brain}/", items))
        return dict(zip(brains, grouped_tensors(groups, self.n_cells), strict=True))

    def _fuse_heard(self, heard: dict[int, list[Increment]], round_idx: int | None = None) -> None:
        """Each local brain fuses, from its neighbours (ascending), the increments it meets
        for the first time, and keeps them to relay next round. With faults: only from the
        neighbours it hears this round; a delayed link's increments are fused at the round
        they arrive (first, before that round's own), a lost one's never."""
        ctx, f = self.ctx, self.ctx.faults
        fates = f.fates(round_idx) if f is not None and round_idx is not None else None
        arrived: list[tuple[int, int, list[Increment]]] = []  # (row, sender, increments)
        if fates is not None:  # what was late arrives now, before this round's
            arrived += self.late.pop(round_idx, [])
        for row, brain in enumerate(ctx.local.tolist()):
            for j in sorted(self.graph.neighbors(brain)):
                fate = NOW if fates is None else int(fates[j, brain])
                if fate > 0 and j in heard:  # delayed: this brain hears it `fate` rounds on
                    self.late.setdefault(round_idx + fate, []).append((row, j, heard[j]))
                elif fate == NOW:  # lost, cut or dead: never heard
                    arrived.append((row, j, heard.get(j, [])))
        rows, items = [], []
        for row, _, incs in arrived:
            brain = int(ctx.local[row])
            for inc in incs:
                if self.ledger.first(brain, inc):
                    rows.append(row)
                    items.append(evidence_of(inc))
                    self.relay[brain].append(inc)
        ctx.policy.fuse_evidence(np.array(rows, np.int64), items)

    def _pull_each(self, round_idx: int) -> np.ndarray:
        """(K, P) float32 consensus step of each local brain, one at a time.

        γ Σ_j w_ij clip(v_ij − x̂_i, τ) over neighbours j, v_ij being brain i's view of x̂_j
        (what it heard: `LinkViews`); τ is `clip_radius` with `gossip_clip` (None: automatic),
        else infinite (the CHOCO step). Crashed and Byzantine brains do not mix."""
        ctx, f, p = self.ctx, self.ctx.faults, self.ctx.protocol
        if self._wd is None:
            self._wd = mixing_matrix(self.graph)
        radius = p.clip_radius if p.gossip_clip else np.inf
        skip = np.zeros(ctx.plan.n_brains, bool)
        if f is not None:
            skip = f.crashed(round_idx) | f.lying(round_idx)
        out = np.zeros((ctx.local.size, self.xhat.shape[1]), np.float32)
        for r, i in enumerate(ctx.local.tolist()):
            js = sorted(self.graph.neighbors(i))
            if skip[i] or not js:
                continue
            views = self.views.view(i, js, self.xhat) if self.views is not None else self.xhat[js]
            out[r] = clipped_pull(self._wd[i, js], self.xhat[i], views, self.step, radius)
        return out

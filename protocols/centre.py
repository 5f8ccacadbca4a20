"""Hub election for the `dynamic` topology: the most competent live brain leads, with terms.

Every brain's competence (recent verified precision) reaches every host in its host's
batched HEARTBEAT each round. Without faults rounds are barriers and every host hears the
same heartbeats, so every host runs the same `Election` on the same numbers and agrees on the
hub without a vote round trip; when the hub changes, the new hub's host announces the term
with an ELECT request that every host checks against its own result (`swarm.exchange_hub`),
so one term never has two hubs. A crashed hub stops sending heartbeats and is replaced after
`timeout` rounds (failover).

    election = Election(n_brains, timeout=3, hysteresis=0.05)
    for each HEARTBEAT of the round: election.hear(brains, competences, msg.term)
    election.close_round()          # -> election.hub, election.term

Rules: ties break by the lowest id; a challenger must beat a live hub by more than
`hysteresis` (a near-equal does not unseat a healthy hub, so the centre does not flap); the
term rises when the hub changes and heartbeats of older terms are ignored; a brain silent for
`timeout` rounds in a row is not alive, and a hub that is not alive is replaced.

**With injected faults** (docs/faults.md) drones hear different heartbeats, and independent
elections would disagree (two hubs in one term). `Quorum` then holds every drone's own view
and elects by majority vote, Raft-style, in three more phases of the same round:

    q = Quorum(n, timeout=3, hysteresis=0.05)
    q.hear(heard, competence, alive)     # heartbeats; heard[j, d]: drone d hears drone j
    props = q.proposals(alive)           # drones whose own election wants another hub
    votes = q.vote(props, heard, alive)  # each drone grants at most one candidate per term
    for cand, term in q.tally(votes, heard, alive):
        q.announce(cand, term, heard, alive)   # the winner leads `term`; who hears it follows

A drone whose own `elect` (its competences, its silences) wants another hub proposes it for
a new term; a drone grants the best proposal it heard (newest term, then competence, then
lowest id) if it has not voted in that term for another, the term is newer than its hub's,
and it wants a change itself (its hub silent to it or beaten by more than `hysteresis`: one
lossy link does not unseat a hub the others hear). A candidate that hears votes from a
majority of all N drones (itself included) leads the term and announces it; a drone that
hears the announcement, or later the hub's own heartbeat of a newer term than its hub's,
follows it. Safety: two hubs of one term would need two majorities of distinct voters, and
no drone votes twice in a term, so one term has one hub whatever is lost or cut; the
minority side of a partition can never elect.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Election", "Proposal", "Quorum", "Vote", "elect"]


def elect(competence: np.ndarray, alive: np.ndarray, hub: int, hysteresis: float) -> int:
    """The hub after a heartbeat round: competence (N,) float, alive (N,) bool.

    The best alive brain (highest competence, ties to the lowest id) takes over when the hub
    is not alive or when it beats the hub by more than `hysteresis`.
    """
    if not alive.any():
        raise RuntimeError("no brain sent a heartbeat: nobody can become the hub")
    masked = np.where(alive, competence, -np.inf)
    best = int(np.flatnonzero(masked == masked.max())[0])
    if alive[hub] and competence[best] <= competence[hub] + hysteresis:
        return hub
    return best


class Election:
    """One host's copy of the hub state; identical on every host (same inputs, same order)."""

    def __init__(self, n_brains: int, timeout: int, hysteresis: float) -> None:
        self.timeout, self.hysteresis = timeout, hysteresis
        self.hub, self.term = 0, 0
        self.silent = np.zeros(n_brains, np.int64)  # consecutive rounds without a heartbeat
        self.competence = np.zeros(n_brains, np.float32)  # last heard, per brain
        self._seen = np.zeros(n_brains, bool)

    def hear(self, brains: Sequence[int], competence: Sequence[float], term: int) -> None:
        """A heartbeat for `brains` with their competences; ignored if of an older term."""
        if term < self.term:
            return
        for b, c in zip(brains, competence, strict=True):
            self._seen[b] = True
            self.competence[b] = float(c)

    def close_round(self) -> int:
        """Elect from this round's heartbeats; returns the hub (the term rises if it changed)."""
        self.silent = np.where(self._seen, 0, self.silent + 1)
        self._seen[:] = False
        alive = self.silent < self.timeout
        hub = elect(self.competence, alive, self.hub, self.hysteresis)
        if hub != self.hub:
            self.hub, self.term = hub, self.term + 1
        return self.hub


@dataclass(frozen=True)
class Proposal:
    """`proposer` asks every drone to make `candidate` the hub of `term` (an ELECT request);
    `competence`: the candidate's, as the proposer last heard it."""

    proposer: int
    candidate: int
    term: int
    competence: float


@dataclass(frozen=True)
class Vote:
    """`voter` grants `candidate` the hub of `term` (an ELECT vote, to the candidate)."""

    voter: int
    candidate: int
    term: int


class Quorum:
    """Every drone's own election state, and the majority vote (module docstring).

    Arrays over the n drones: `term`, `hub` (the hub each follows and its term; all follow
    brain 0 in term 0 at the start), `voted_term`, `voted` (the last term each voted in, and
    for whom), `competence` and `silent` (n, n): [d, j] brain j's competence as drone d last
    heard it and the rounds since, counted up to `timeout` (all a drone asks of it is whether
    j went silent; the smallest unsigned type that holds it). `terms`: term -> hub of every
    announced term. Memory is O(n²): 5 bytes per pair of drones for a timeout under 255,
    updated in place (at n = 4,096, 84 MB, and no n x n temporaries per round)."""

    def __init__(self, n: int, timeout: int, hysteresis: float) -> None:
        self.n, self.timeout, self.hysteresis = int(n), int(timeout), float(hysteresis)
        self.majority = self.n // 2 + 1
        self.term = np.zeros(n, np.int64)
        self.hub = np.zeros(n, np.int64)
        self.voted_term = np.zeros(n, np.int64)  # term 0's hub was given, not voted
        self.voted = np.zeros(n, np.int64)
        self.competence = np.zeros((n, n), np.float32)
        self.silent = np.zeros((n, n), np.min_scalar_type(self.timeout))
        self.terms: dict[int, int] = {0: 0}

    @property
    def leader(self) -> tuple[int, int]:
        """(hub, term) of the newest announced term."""
        term = max(self.terms)
        return self.terms[term], term

    def follows(self, hub: int, term: int) -> np.ndarray:
        """(n,) bool: drones that follow `hub` in `term`."""
        return (self.hub == hub) & (self.term == term)

    def _live(self, d: int) -> np.ndarray:
        live = self.silent[d] < self.timeout
        live[d] = True
        return live

    def hear(self, heard: np.ndarray, competence: np.ndarray, alive: np.ndarray) -> None:
        """One round's heartbeats: heard (n, n) bool, [j, d]: drone d hears j's heartbeat;
        competence (n,) what each sends; alive (n,) bool: who sends and listens (a crashed
        drone does neither). A drone that hears a hub's heartbeat of a newer term than its
        own hub's follows that hub."""
        got = (heard & alive[:, None] & alive[None, :]).T  # [d, j]
        got[np.diag_indices(self.n)] = alive
        np.add(self.silent, self.silent < self.timeout, out=self.silent, casting="unsafe")
        self.silent[got] = 0
        np.copyto(self.competence, np.asarray(competence, np.float32)[None], where=got)
        leads = np.flatnonzero(self.hub == np.arange(self.n))
        for j in leads[np.argsort(self.term[leads], kind="stable")]:  # the newest term last
            newer = got[:, j] & (self.term < self.term[j])
            self.term[newer], self.hub[newer] = self.term[j], j

    def proposals(self, alive: np.ndarray) -> list[Proposal]:
        """The live drones whose own election wants another hub, each proposing its choice
        for the term after any it has known."""
        out = []
        for d in np.flatnonzero(alive).tolist():
            want = elect(self.competence[d], self._live(d), int(self.hub[d]), self.hysteresis)
            if want != self.hub[d]:
                term = int(max(self.term[d], self.voted_term[d])) + 1
                out.append(Proposal(d, want, term, float(self.competence[d, want])))
        return out

    def _grants(self, v: int, p: Proposal) -> bool:
        free = p.term > self.voted_term[v] or (
            p.term == self.voted_term[v] and p.candidate == self.voted[v]
        )
        if not free or p.term <= self.term[v]:
            return False
        live, hub, c = self._live(v), int(self.hub[v]), p.candidate
        beaten = self.competence[v, c] > self.competence[v, hub] + self.hysteresis
        return bool(live[c] and c != hub and (not live[hub] or beaten))

    def vote(
        self, proposals: Sequence[Proposal], heard: np.ndarray, alive: np.ndarray
    ) -> list[Vote]:
        """Each live drone grants the best proposal it heard (its own included) that it may
        (module docstring); at most one per drone, recorded so it never votes twice in a term."""
        out = []
        for v in np.flatnonzero(alive).tolist():
            ok = [
                p
                for p in proposals
                if (p.proposer == v or heard[p.proposer, v])
                and alive[p.proposer]
                and self._grants(v, p)
            ]
            if ok:
                p = min(ok, key=lambda p: (-p.term, -p.competence, p.candidate))
                self.voted_term[v], self.voted[v] = p.term, p.candidate
                out.append(Vote(v, p.candidate, p.term))
        return out

    def tally(
        self, votes: Sequence[Vote], heard: np.ndarray, alive: np.ndarray
    ) -> list[tuple[int, int]]:
        """(candidate, term) of each live candidate that hears votes from a majority of all n
        drones, its own included; at most one per term (a drone votes once per term)."""
        count: dict[tuple[int, int], int] = {}
        for v in votes:
            if alive[v.candidate] and (v.voter == v.candidate or heard[v.voter, v.candidate]):
                key = (v.candidate, v.term)
                count[key] = count.get(key, 0) + 1
        return sorted((k for k, c in count.items() if c >= self.majority), key=lambda k: k[1])

    def announce(self, hub: int, term: int, heard: np.ndarray, alive: np.ndarray) -> None:
        """`hub` leads `term`: it and every live drone that hears it with an older hub's term
        follow it."""
        if self.terms.get(term, hub) != hub:  # unreachable while votes are once per term
            raise RuntimeError(f"term {term} already has hub {self.terms[term]}, not {hub}")
        hears = heard[hub] & alive & (self.term < term)
        hears[hub] = True
        self.term[hears], self.hub[hears] = term, hub
        self.terms[term] = hub

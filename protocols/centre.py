"""Hub election for the `dynamic` topology: the most competent live brain leads, with terms.

Every brain's competence (recent verified precision) reaches every host in its host's
batched HEARTBEAT each round. Rounds are barriers and every host hears the same heartbeats,
so every host runs the same `Election` on the same numbers and agrees on the hub without a
vote round trip; when the hub changes, the new hub's host announces the term with an ELECT
request that every host checks against its own result (`swarm.exchange_hub`), so one term
never has two hubs. A crashed hub stops sending heartbeats and is replaced after `timeout`
rounds (failover).

    election = Election(n_brains, timeout=3, hysteresis=0.05)
    for each HEARTBEAT of the round: election.hear(brains, competences, msg.term)
    election.close_round()          # -> election.hub, election.term

Rules: ties break by the lowest id; a challenger must beat a live hub by more than
`hysteresis` (a near-equal does not unseat a healthy hub, so the centre does not flap); the
term rises when the hub changes and heartbeats of older terms are ignored; a brain silent for
`timeout` rounds in a row is not alive, and a hub that is not alive is replaced.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["Election", "elect"]


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

"""Recorded flights: what every drone of a world saw under a scripted policy, with the truth
of each look kept beside it for evaluation (learner tests and benchmarks replay these).

`record_search(world, ticks)` flies a drone_search world with the `lawnmower` policy and the
hand-set `fixed_detector`, and returns a `Flights`: every drone's tokens tick by tick, whether
the fixed detector would have flagged each (the inspections a drone asks for), and the truth
of each token's candidate cell (target / look-alike), read from the world after the look.
Truth here is for scoring and for emulating what an inspection would reveal; nothing in it
reaches a brain unless a caller hands it over as a label, as a world's inspection would.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scenarios.base import Actions
from scenarios.policies import fixed_detector, make_policy

__all__ = ["Flights", "record_search"]


@dataclass(frozen=True)
class Flights:
    """N drones over T ticks. tokens (N, T, D) float32; flagged (N, T) bool: the scripted
    detector's p passed the policy's flag threshold; target, lookalike (N, T) bool: the token's
    candidate cell holds a target / a look-alike (evaluation truth)."""

    tokens: np.ndarray
    flagged: np.ndarray
    target: np.ndarray
    lookalike: np.ndarray

    def labels(self, hard_negatives_only: bool = False) -> np.ndarray:
        """(N, T) float32 what inspections of the flagged tokens reveal, NaN where none: 1 for
        a target, 0 for anything else; only the 0s with `hard_negatives_only`."""
        out = np.where(self.flagged, self.target.astype(np.float32), np.nan)
        if hard_negatives_only:
            out[out == 1] = np.nan
        return out.astype(np.float32)


def record_search(world, ticks: int, flag_p: float = 0.9) -> Flights:
    """Fly `world` (a fresh DroneSearch) for `ticks` ticks with lawnmower sweeps at the
    world's start altitude and no inspections (drones keep sweeping, so every drone sees
    `ticks` tokens); `flag_p` is the threshold on `fixed_detector` marking a flag."""
    n, w = world.n_drones, world.shape[1]
    info = world.public_info()
    policy = make_policy("lawnmower", info, np.arange(n), np.random.default_rng(world.seed))
    toks, flags, tgt, look = [], [], [], []
    distractor = np.zeros(world.shape[0] * w, bool)
    distractor[world.distractor_flat] = True
    for _ in range(ticks):
        obs = world.observe()
        p = fixed_detector(obs.tokens)
        flat = obs.cells[:, 0] * w + obs.cells[:, 1]
        toks.append(obs.tokens)
        flags.append(p > flag_p)
        tgt.append(world.is_target[flat])
        look.append(distractor[flat])
        act = policy.act(obs, p)
        world.step(Actions(act.move, act.altitude, np.zeros(n, bool)))
        if world.done:
            break
    stack = [np.stack(x, 1) for x in (toks, flags, tgt, look)]
    return Flights(*stack)

"""Scripted policies by name and the fixed (non-learned) detector of the scripted runs.

    pol = make_policy("lawnmower", info=world.public_info(), drone_ids=np.arange(k), rng=rng)
    actions = pol.act(obs_shard, p_detect)      # p_detect (K,) in [0, 1]

Search: `lawnmower`, `levy`, `belief_greedy`. Patrol: `idleness_greedy`, `cyclic_tour`.
"""

from __future__ import annotations

import numpy as np

from scenarios.info import WorldInfo, WorldKind
from scenarios.patrol_policies import CyclicTour, IdlenessGreedy
from scenarios.policy_base import Policy
from scenarios.search_policies import BeliefGreedy, Lawnmower, LevyWalk

__all__ = [
    "FIXED_DETECTOR_FLOPS",
    "POLICIES",
    "Policy",
    "fixed_detector",
    "fixed_logit",
    "make_policy",
]

_CLASSES: dict[str, type[Policy]] = {
    "lawnmower": Lawnmower,
    "levy": LevyWalk,
    "belief_greedy": BeliefGreedy,
    "idleness_greedy": IdlenessGreedy,
    "cyclic_tour": CyclicTour,
}
# name -> (kind of world it flies, class); the kind comes from the info type the class reads
POLICIES: dict[str, tuple[WorldKind, type[Policy]]] = {
    name: (cls.info_type.kind, cls) for name, cls in _CLASSES.items()
}


def make_policy(
    name: str,
    info: WorldInfo,
    drone_ids: np.ndarray,
    rng: np.random.Generator,
    team_size: int | None = None,
    fused: bool = False,
    **params: float,
) -> Policy:
    """Build the scripted policy `name` for the drones `drone_ids` (global ids, of a team of
    `team_size`, default len(drone_ids)) of a world with `info`; `rng` (from
    `np.random.default_rng(seed)`) is the root of every drone's own stream; `fused`: the
    drones plan from one belief map that all their evidence goes into."""
    if name not in POLICIES:
        raise ValueError(f"unknown policy {name!r}; choose one of {sorted(POLICIES)}")
    kind, cls = POLICIES[name]
    if info.kind != kind:
        fits = sorted(k for k, (m, _) in POLICIES.items() if m == info.kind)
        raise ValueError(f"policy {name!r} is for {kind} worlds; this world takes {fits}")
    return cls(info, drone_ids, rng, team_size=team_size, fused=fused, **params)


#: Floating-point operations of `fixed_detector` per token: sim - centre, x sharpness, exp, +1,
#: 1/x (the cost side of the `scripted` team; a brain's are `agents.config.forward_flops`).
FIXED_DETECTOR_FLOPS = 5


def fixed_logit(tokens: np.ndarray, centre: float = 0.7, sharpness: float = 12.0) -> np.ndarray:
    """The fixed detector's logit (N,) float32 from tokens (N, 3A+2): sharpness · (sim − centre).

    A hand-set stand-in for a brain, used by the scripted runs and the `scripted` team: sim
    (the last column) is the cosine of the background-subtracted candidate with the
    reference; `centre` is where p = 1/2.
    """
    return _logit64(tokens, centre, sharpness).astype(np.float32)


def fixed_detector(tokens: np.ndarray, centre: float = 0.7, sharpness: float = 12.0) -> np.ndarray:
    """P(true positive) (N,) float32 from tokens (N, 3A+2): the logistic of `fixed_logit`."""
    return (1.0 / (1.0 + np.exp(-_logit64(tokens, centre, sharpness)))).astype(np.float32)


def _logit64(tokens: np.ndarray, centre: float, sharpness: float) -> np.ndarray:
    return sharpness * (tokens[:, -1].astype(np.float64) - centre)

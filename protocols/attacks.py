"""Byzantine attacks on a shared update, as pure functions of what the attacker can see.

A Byzantine brain learns like every other, but what it *sends* is an attack on its honest
update u (P,) relative to a reference every receiver knows (a hub round: the common model; a
gossip round: the attacker's public copy x̂_b), computed from `view` (m, P), the honest
updates it can see in the same frame. Which rows those are is the runtime's choice
(`swarm.faults`): only what the attacker legitimately holds, so an attack never depends on
where brains are placed.

| kind | sent update | source |
|---|---|---|
| `gaussian` | N(0, sigma²) per entry (the honest update is discarded) | ByzFL `Gaussian` |
| `sign_flip` | −u | ByzFL `SignFlipping` |
| `scaled` | scale · u | model-replacement / boosting |
| `nan`, `inf` | NaN / +∞ everywhere (a receiver rejects it as `payload`) | ByzFL `Inf` |
| `alie` | mean(view) + tau · std(view), tau 1.5 | Baruch 2019; ByzFL `ALittleIsEnough` |
| `ipm` | −tau · mean(view), tau 2.0 | Xie 2020; ByzFL `InnerProductManipulation` |

The formulas follow ByzFL (EPFL, `pip install byzfl`), which is not a dependency: importing
it pulls torchvision and seaborn (a torchvision build pins its own torch), for six lines of
numpy each.

    bad = attack("alie", u, view, rng, AttackParams(tau=1.5))    # (P,) float32
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

__all__ = ["ATTACKS", "AttackKind", "AttackParams", "attack", "non_finite"]

AttackKind = Literal["gaussian", "sign_flip", "scaled", "nan", "inf", "alie", "ipm"]
ATTACKS: tuple[str, ...] = get_args(AttackKind)

#: ByzFL's defaults for the attack factor when none is given.
DEFAULT_TAU = {"alie": 1.5, "ipm": 2.0}


@dataclass(frozen=True)
class AttackParams:
    """Strengths: `sigma` of `gaussian`, `scale` of `scaled`, `tau` of `alie` / `ipm`
    (None: ByzFL's default, 1.5 and 2.0)."""

    sigma: float = 1.0
    scale: float = 10.0
    tau: float | None = None


def non_finite(kind: str) -> bool:
    """Whether the attack sends NaN or infinity (rejected at every receiver as `payload`)."""
    return kind in ("nan", "inf")


def attack(
    kind: AttackKind,
    u: np.ndarray,
    view: np.ndarray,
    rng: np.random.Generator,
    params: AttackParams = AttackParams(),
) -> np.ndarray:
    """The update a Byzantine sender sends instead of its honest `u` (P,).

    view (m, P): honest updates the attacker sees, in u's frame (m >= 1; its own honest u is
    a fine view of one row: ALIE then sends u, IPM −tau·u). rng draws `gaussian` noise.
    Returns float32 (P,)."""
    u = np.asarray(u, np.float64)
    if kind == "gaussian":
        out = rng.normal(0.0, params.sigma, size=u.shape)
    elif kind == "sign_flip":
        out = -u
    elif kind == "scaled":
        out = params.scale * u
    elif kind == "nan":
        out = np.full(u.shape, np.nan)
    elif kind == "inf":
        out = np.full(u.shape, np.inf)
    elif kind in ("alie", "ipm"):
        v = np.asarray(view, np.float64).reshape(-1, u.size)
        if v.shape[0] == 0:
            v = u[None]
        tau = DEFAULT_TAU[kind] if params.tau is None else params.tau
        mu = v.mean(axis=0)
        if kind == "ipm":
            out = -tau * mu
        else:  # ByzFL: sample std (ddof=1); a single row has no spread
            sd = v.std(axis=0, ddof=1) if v.shape[0] > 1 else np.zeros_like(mu)
            out = mu + tau * sd
    else:
        raise ValueError(f"unknown attack {kind!r}; known: {', '.join(ATTACKS)}")
    return out.astype(np.float32)

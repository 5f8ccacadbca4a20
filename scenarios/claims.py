"""Goal claims: the goals a drone heard its peers claim keep it off them.

A claim is a drone's current goal cell (row, col). Drones that share exchange claims in their
knowledge rounds (`swarm.exchange_claims`; the scripted standalone runs share them every
tick); between rounds a drone plans against the claims it last heard, and only those. Its
choice therefore depends on its own scores and on what reached it over the wire, never on
which drones happen to share its host: an `isolated` drone hears no claim at all. A centre
that plans for every drone (`central`) hears every goal every tick, and also claims each
inspection it has under way (`Policy.inspections_under_way`) for the drone doing it.

    blocked = blocked_sites(k, rows, claims, sites, radius)   # (K, S) bool, once per round
    pick = choose_sites(score, blocked[due])                    # (D,) best unblocked site
"""

from __future__ import annotations

import numpy as np

__all__ = ["NO_CLAIM", "blocked_sites", "choose_sites", "everyone_hears"]

NO_CLAIM = -1  # a goal cell of (-1, -1): the drone claims nothing (yet)


def blocked_sites(
    k: int, rows: np.ndarray, claims: np.ndarray, sites: np.ndarray, radius: int
) -> np.ndarray:
    """(K, S) bool: site s is blocked for local drone i when a claim drone i heard lies within
    `radius` (Chebyshev, in site units) of it.

    rows (M,) int local drone that heard each claim; claims (M, 2) int claimed coordinates in
    the sites' units (rows with NO_CLAIM are ignored); sites (S, 2) int. O(M · S)."""
    rows, claims = np.asarray(rows, np.int64), np.asarray(claims, np.int64).reshape(-1, 2)
    out = np.zeros((k, len(sites)), dtype=bool)
    real = (claims >= 0).all(1)
    rows, claims = rows[real], claims[real]
    if rows.size:
        near = np.abs(sites[None, :, :] - claims[:, None, :]).max(2) <= radius  # (M, S)
        np.logical_or.at(out, rows, near)
    return out


def choose_sites(score: np.ndarray, blocked: np.ndarray) -> np.ndarray:
    """(D,) int64: each chooser's best site (row of score (D, S), higher is better, ties to
    the lower index) among those not `blocked` (D, S); its overall best when all are."""
    masked = np.where(blocked, -np.inf, score)
    pick = masked.argmax(1)
    full = blocked.all(1)
    pick[full] = score[full].argmax(1)
    return pick.astype(np.int64)


def everyone_hears(
    goals: np.ndarray, inspecting: tuple[np.ndarray, np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(rows, claims) for K drones that each hear every other one's goal (K, 2): one planner
    flying the whole team with claims shared each tick (the standalone scripted runs, and
    `central`'s centre). `inspecting` = (owners (Q,), cells (Q, 2)) adds inspections under
    way as claims too, each held by the drone inspecting, heard by every other drone."""
    k = len(goals)
    owners, cells = np.arange(k), np.asarray(goals, np.int64).reshape(-1, 2)
    if inspecting is not None:
        owners = np.concatenate([owners, np.asarray(inspecting[0], np.int64)])
        cells = np.concatenate([cells, np.asarray(inspecting[1], np.int64).reshape(-1, 2)])
    i, j = np.nonzero(owners[None, :] != np.arange(k)[:, None])
    return i.astype(np.int64), cells[j]

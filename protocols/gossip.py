"""Gossip over a graph of brains: CHOCO-Gossip mixing as pure functions on (N, P) rows.

Exact gossip (Metropolis–Hastings weights W from `topology.mixing_matrix`) sends the full x
each round: x_i <- Σ_j w_ij x_j. Compressed gossip cannot just send C(x): averaging
compressed values drifts away from the true mean. CHOCO-Gossip (Koloskova, Stich, Jaggi
2019, Algorithm 1) keeps public copies x̂ that every holder tracks identically and sends
compressed *differences*; each round, for every brain i:

    q_i = C(x_i − x̂_i)                       sent to every host that needs brain i
    x̂_i <- x̂_i + q_i                          on every holder, the sender's own host too
    x_i <- x_i + γ (Σ_j w_ij x̂_j − x̂_i)       `choco_pull` (rows of W sum to 1)

W is symmetric, so the step keeps the brains' mean whatever C does, and x̂ -> x as the
differences shrink. Exact gossip is the same round with codec `none` and γ = 1. The runtime
(`swarm.exchange_gossip`) runs exactly these functions, batched over a host's K brains; on
a time-varying graph (`radio`) every host keeps the copies of every brain, so a new edge
needs no resynchronisation.

    w = mixing_rows(graph, rows)                   # sparse (K, N) rows of W
    x[rows] += choco_pull(w, xhat, rows, gamma)    # xhat (N, P) float32

Self-centred clipping (He, Karimireddy, Jaggi 2022, "Byzantine-robust decentralized learning
via ClippedGossip"): a brain adds each neighbour's difference clipped to a radius, so a
Byzantine neighbour moves it by at most w_ij · radius per round, whatever it sends. On the
public copies it is CHOCO-compatible: x_i <- x_i + γ Σ_j w_ij clip(x̂_j − x̂_i, τ_i)
(`clipped_pull`, one brain at a time; no longer mean-preserving once anything is clipped).
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import torch

from protocols.aggregation import clip_rows
from protocols.topology import mixing_matrix

__all__ = ["choco_pull", "clip_radius", "clipped_pull", "mixing_rows"]


def mixing_rows(graph: nx.Graph, rows: np.ndarray) -> torch.Tensor:
    """Sparse (len(rows), N) float32 rows of the Metropolis–Hastings matrix (each sums to 1)."""
    w = mixing_matrix(graph)[rows]  # (K, N) float64, a few non-zeros per row
    r, c = np.nonzero(w)
    idx = torch.from_numpy(np.stack([r, c]).astype(np.int64))
    vals = torch.from_numpy(w[r, c].astype(np.float32))
    return torch.sparse_coo_tensor(idx, vals, w.shape, check_invariants=False).coalesce()


def choco_pull(
    w: torch.Tensor,
    xhat: np.ndarray,
    rows: slice | np.ndarray,
    gamma: float,
    out: torch.Tensor | None = None,
) -> np.ndarray:
    """γ (Σ_j w_ij x̂_j − x̂_i) for the brains of `rows`: the CHOCO consensus step, (K, P).

    w: `mixing_rows` of those brains (K, N); xhat (N, P) float32 public copies; rows: their
    row index in xhat; out: optional (K, P) float32 scratch reused between rounds (a fresh
    array faults in every page). Returns float32 (a view of `out` when given)."""
    k, p = w.shape[0], xhat.shape[1]
    if out is None:
        out = torch.empty(k, p)
    # torch.mm with out= runs the same sparse kernel as torch.sparse.mm (same numbers)
    mixed = torch.mm(w, torch.from_numpy(xhat), out=out).numpy()
    mixed -= xhat[rows]
    if gamma != 1.0:  # γ (Σ_j w_ij x̂_j − x̂_i), in place: the same fp32 numbers
        mixed *= np.float32(gamma)
    return mixed


def clip_radius(diffs: np.ndarray) -> float:
    """The automatic radius of `clipped_pull`: the lower median of the differences' norms.

    diffs (m, P): x̂_j − x̂_i of one brain's neighbours. With fewer than half of the
    neighbours Byzantine the lower median is an honest distance (on a ring: the smaller of
    the two), so honest neighbours are barely clipped."""
    if diffs.shape[0] == 0:
        return 0.0
    norms = np.sort(np.linalg.norm(diffs, axis=1))
    return float(norms[(norms.size - 1) // 2])


def clipped_pull(
    weights: np.ndarray,
    own: np.ndarray,
    neighbours: np.ndarray,
    gamma: float,
    radius: float | None = None,
) -> np.ndarray:
    """γ Σ_j w_ij clip(x̂_j − x̂_i, τ): one brain's self-centred-clipping step, (P,) float32.

    weights (m,): its mixing weights w_ij to its m neighbours; own (P,): its public copy
    x̂_i; neighbours (m, P): the copies x̂_j it holds of them; radius τ (None: `clip_radius`;
    inf: no clipping, the CHOCO step). Non-finite neighbour rows are skipped."""
    own = np.asarray(own, np.float64)
    nb = np.asarray(neighbours, np.float64).reshape(-1, own.size)
    w = np.asarray(weights, np.float64)
    keep = np.isfinite(nb).all(axis=1)
    diffs = nb[keep] - own
    if not diffs.shape[0]:
        return np.zeros(own.shape, np.float32)
    tau = clip_radius(diffs) if radius is None else float(radius)
    return (gamma * (w[keep] @ clip_rows(diffs, tau))).astype(np.float32)

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
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import torch

from protocols.topology import mixing_matrix

__all__ = ["choco_pull", "mixing_rows"]


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

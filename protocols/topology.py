"""Who talks to whom: networkx graphs over node ids 0..n-1, gossip weights and their speed.

    G = build("ring", 16)                       # or "random_regular", degree=4, seed=1 ...
    W = mixing_matrix(G)                        # (n, n) float64, symmetric, doubly stochastic
    rounds_bound(W, eps=1e-6)                   # ln(1/eps) / ln(1/lambda), lambda = 2nd |eig|

Kinds: star (hub 0), ring, complete, random_regular (degree), small_world (degree = k
neighbours, p rewiring), erdos_renyi (p), grid (as square as possible), radio (positions
(n, 2) and radio_range: an edge when closer than the range), edges (an explicit list).
Random kinds draw with `seed` and, for erdos_renyi/small_world, redraw until connected.
"""

from __future__ import annotations

import math
from typing import get_args

import networkx as nx
import numpy as np

from protocols.config import TopologyKind

__all__ = ["KINDS", "build", "mixing_matrix", "rounds_bound"]

# every configurable kind but `dynamic`, which is a star whose hub moves (swarm/exchange_hub.py)
KINDS = tuple(kind for kind in get_args(TopologyKind) if kind != "dynamic")
MAX_REDRAWS = 100


def _grid(n: int) -> nx.Graph:
    """The first n cells, row by row, of a grid ceil(sqrt(n)) wide (connected for any n)."""
    width = math.ceil(math.sqrt(n))
    G = nx.empty_graph(n)
    for i in range(n):
        if (i + 1) % width and i + 1 < n:
            G.add_edge(i, i + 1)
        if i + width < n:
            G.add_edge(i, i + width)
    return G


def _connected(make, seed: int, kind: str) -> nx.Graph:
    for attempt in range(MAX_REDRAWS):
        G = make(seed + attempt)
        if nx.is_connected(G):
            return G
    raise ValueError(f"{kind}: no connected graph in {MAX_REDRAWS} draws; raise p or degree")


def _radio(n: int, positions: np.ndarray | None, radio_range: float) -> nx.Graph:
    if positions is None:
        raise ValueError("radio topology needs positions=(n, 2) array and radio_range")
    pos = np.asarray(positions, dtype=np.float64)
    if pos.shape != (n, 2):
        raise ValueError(f"radio positions must have shape ({n}, 2), got {pos.shape}")
    dist = np.linalg.norm(pos[:, None, :] - pos[None, :, :], axis=-1)  # (n, n)
    G = nx.empty_graph(n)
    G.add_edges_from(zip(*np.nonzero(np.triu(dist <= radio_range, k=1)), strict=True))
    return G


def build(
    kind: str,
    n: int,
    *,
    seed: int = 0,
    degree: int = 4,
    p: float = 0.2,
    positions: np.ndarray | None = None,
    radio_range: float = 16.0,
    edges: list[tuple[int, int]] | None = None,
) -> nx.Graph:
    """The graph of `kind` on nodes 0..n-1 (radio may be disconnected: drones out of range)."""
    if n < 1:
        raise ValueError(f"a topology needs n >= 1 nodes, got {n}")
    if kind == "star":
        return nx.star_graph(n - 1)
    if kind == "ring":
        return nx.cycle_graph(n) if n > 2 else nx.path_graph(n)
    if kind == "complete":
        return nx.complete_graph(n)
    if kind == "random_regular":
        if degree >= n or (degree * n) % 2:
            raise ValueError(f"random_regular needs degree < n and degree*n even ({degree}, {n})")
        return _connected(lambda s: nx.random_regular_graph(degree, n, seed=s), seed, kind)
    if kind == "small_world":
        k = min(degree, n - 1)
        return _connected(lambda s: nx.watts_strogatz_graph(n, k, p, seed=s), seed, kind)
    if kind == "erdos_renyi":
        return _connected(lambda s: nx.erdos_renyi_graph(n, p, seed=s), seed, kind)
    if kind == "grid":
        return _grid(n)
    if kind == "radio":
        return _radio(n, positions, radio_range)
    if kind == "edges":
        G = nx.empty_graph(n)
        for u, v in edges or []:
            if not (0 <= u < n and 0 <= v < n) or u == v:
                raise ValueError(f"edge ({u}, {v}) must join two different nodes in 0..{n - 1}")
            G.add_edge(u, v)
        return G
    raise ValueError(f"unknown topology {kind!r}; choose one of {KINDS} (or 'dynamic' in config)")


def mixing_matrix(G: nx.Graph) -> np.ndarray:
    """Metropolis–Hastings weights (n, n): w_ij = 1/(1+max(d_i, d_j)) on edges, rest on w_ii."""
    n = G.number_of_nodes()
    deg = np.array([G.degree(i) for i in range(n)], dtype=np.float64)
    W = np.zeros((n, n))
    for i, j in G.edges():
        W[i, j] = W[j, i] = 1.0 / (1.0 + max(deg[i], deg[j]))
    W[np.diag_indices(n)] = 1.0 - W.sum(axis=1)
    return W


def _second_eigenvalue(W: np.ndarray) -> float:
    mags = np.sort(np.abs(np.linalg.eigvalsh((W + W.T) / 2)))[::-1]
    return float(mags[1]) if mags.size > 1 else 0.0


def rounds_bound(W: np.ndarray, eps: float = 1e-6) -> float:
    """Gossip rounds for the disagreement to shrink by eps: ln(1/eps) / ln(1/lambda)."""
    lam = _second_eigenvalue(W)
    if lam >= 1.0 - 1e-12:
        return math.inf  # disconnected: consensus is never reached
    if lam <= 1e-12:
        return 1.0  # complete graph: one exact averaging round
    return math.log(1.0 / eps) / math.log(1.0 / lam)

"""Batched goal claiming: many drones of one shard pick goals at once and stay apart.

Re-planning is one batched score → argmax over every due drone; shard-mates are kept apart by
a few rounds of conflict resolution on the grid instead of a sequential claim loop, so the
cost is O(rounds · (due · sites + H·W)) rather than O(due² · H·W).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["claim_sites", "window_reduce"]


def window_reduce(grid: np.ndarray, radius: int, op: np.ufunc) -> np.ndarray:
    """Reduce a (H, W) array over the Chebyshev ball of `radius` around each cell.

    `op` is np.maximum (dilation: any cell within `radius`) or np.minimum; separable, edges
    are not wrapped. Returns a new (H, W) array of grid's dtype.
    """
    out = grid.copy()
    for axis in (0, 1):
        src = out.copy()
        for s in range(1, min(radius, grid.shape[axis] - 1) + 1):
            ahead, behind = [slice(None)] * 2, [slice(None)] * 2
            ahead[axis], behind[axis] = slice(s, None), slice(None, -s)
            a, b = tuple(ahead), tuple(behind)
            op(out[a], src[b], out=out[a])
            op(out[b], src[a], out=out[b])
    return out


def claim_sites(
    best: Callable[[np.ndarray, np.ndarray], np.ndarray],
    n: int,
    sites: np.ndarray,
    shape: tuple[int, int],
    radius: int,
    rounds: int = 6,
) -> np.ndarray:
    """One site per chooser, chosen sites more than `radius` cells apart where room allows.

    best(rows, blocked) -> (len(rows),) int: chooser `rows[j]`'s best site index into
    `sites` (M, 2) (row, col) with the `blocked` (M,) bool sites excluded, or -1 when all
    of its sites are blocked. Lower chooser index wins a conflict (the order of a sequential
    claim loop). Each round, every unresolved chooser proposes its best unblocked site; a
    proposal stands when no lower-index proposal lies within `radius` (Chebyshev), and the
    standing ones block their neighbourhood for later rounds. After `rounds`, the rest keep
    their last proposal (a crowded map cannot keep everyone apart); a chooser with every
    site blocked takes its unblocked best. Returns (n,) int64 site indices.
    """
    choice = np.full(n, -1, dtype=np.int64)
    blocked = np.zeros(len(sites), dtype=bool)
    left = np.arange(n)
    pick = np.asarray(best(left, blocked), dtype=np.int64)
    for rnd in range(rounds):
        full = pick < 0
        if full.any():  # nowhere unclaimed: share a goal rather than stand idle
            choice[left[full]] = best(left[full], np.zeros_like(blocked))
            left, pick = left[~full], pick[~full]
        if not left.size or rnd == rounds - 1:
            break
        r, c = sites[pick, 0], sites[pick, 1]
        rank = np.full(shape, n, dtype=np.int64)
        np.minimum.at(rank, (r, c), left)
        win = window_reduce(rank, radius, np.minimum)[r, c] == left
        choice[left[win]] = pick[win]
        mark = np.zeros(shape, dtype=bool)
        mark[r[win], c[win]] = True
        blocked |= window_reduce(mark, radius, np.maximum)[sites[:, 0], sites[:, 1]]
        left, pick = left[~win], pick[~win]
        stale = blocked[pick]  # an unblocked best stays the best: re-score only the rest
        if stale.any():
            pick[stale] = best(left[stale], blocked)
    choice[left] = pick
    return choice

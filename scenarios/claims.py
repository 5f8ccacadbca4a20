"""Batched goal claiming: many drones of one shard pick goals at once and stay apart.

Re-planning is one batched score → argmax over every due drone; shard-mates are kept apart by
a few rounds of conflict resolution on the grid instead of a sequential claim loop, so the
cost is O(rounds · (due · sites + H·W)) rather than O(due² · H·W).
"""

from __future__ import annotations

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
    score: np.ndarray,
    sites: np.ndarray,
    shape: tuple[int, int],
    radius: int,
    rounds: int = 8,
    top: int = 16,
) -> np.ndarray:
    """One site per chooser (row of `score`), chosen sites more than `radius` cells apart
    (Chebyshev) where room allows.

    score (n, M): chooser i's value of site j (higher is better; ties go to the lower j);
    sites (M, 2): (row, col) of each site on a grid of `shape`. Lower chooser index wins a
    conflict (the order of a sequential claim loop). Each round, every unresolved chooser
    proposes its best unblocked site; a proposal stands when no lower-index proposal lies
    within `radius`, and standing ones block their neighbourhood for later rounds. After
    `rounds`, the rest keep their last proposal (a crowded map cannot keep everyone apart); a
    chooser with every site blocked takes its overall best. Each chooser's `top` best sites
    are ranked once, so a round costs O(n · top) unless a chooser runs out of them.
    Returns (n,) int64 site indices.
    """
    n, m = score.shape
    t = min(top, m)
    cand = np.sort(np.argpartition(-score, t - 1, axis=1)[:, :t], axis=1)  # by site index
    order = np.argsort(-np.take_along_axis(score, cand, 1), axis=1, kind="stable")
    cand = np.take_along_axis(cand, order, 1)  # (n, t) best first, ties to the lower index
    blocked = np.zeros(m, dtype=bool)

    def best(rows: np.ndarray) -> np.ndarray:
        """Best unblocked site (len(rows),) of choosers `rows`, -1 when none is left."""
        c = cand[rows]
        free = ~blocked[c]
        pick = np.where(free.any(1), c[np.arange(len(rows)), free.argmax(1)], -1)
        redo = np.flatnonzero(pick < 0)  # all of its top sites are taken: scan the row
        if redo.size:
            s = np.where(blocked, -np.inf, score[rows[redo]])
            arg = s.argmax(1)
            pick[redo] = np.where(s[np.arange(redo.size), arg] > -np.inf, arg, -1)
        return pick

    choice = np.full(n, -1, dtype=np.int64)
    left = np.arange(n)
    pick = best(left)
    for rnd in range(rounds):
        full = pick < 0
        if full.any():  # nowhere unclaimed: share the favourite rather than stand idle
            choice[left[full]] = cand[left[full], 0]
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
        stale = blocked[pick]  # an unblocked best stays the best: re-rank only the rest
        if stale.any():
            pick[stale] = best(left[stale])
    choice[left] = pick
    return choice

"""Flight distances and routes around no-fly cells, for many drones at once.

A drone moves one Moore step (8 neighbours) per tick and may not enter a no-fly cell. The
distance field of a goal (moves to reach it from every cell, by breadth-first search) is
computed once per goal and kept in one table, so routing K drones is a single gather.
"""

from __future__ import annotations

import numpy as np

__all__ = ["FlightMap", "moves_field"]

MOVES = np.array([(a, b) for a in (-1, 0, 1) for b in (-1, 0, 1) if a or b], dtype=np.int64)


def moves_field(nofly: np.ndarray, goal: int) -> np.ndarray:
    """Moves from every cell to the flat cell `goal`, staying outside `nofly` (H, W) bool.

    Returns (H*W,) int32; cells that cannot reach the goal (or are no-fly) hold H*W.
    """
    h, w = nofly.shape
    far = h * w
    dist = np.full((h, w), far, dtype=np.int32)
    front = np.zeros((h, w), dtype=bool)
    front[divmod(int(goal), w)] = True
    d = 0
    while front.any():
        dist[front] = d
        grown = front.copy()  # Moore dilation by one cell: rows, then columns
        grown[1:] |= front[:-1]
        grown[:-1] |= front[1:]
        grown[:, 1:] |= grown[:, :-1].copy()
        grown[:, :-1] |= grown[:, 1:].copy()
        front = grown & ~nofly & (dist == far)
        d += 1
    return dist.ravel()


class FlightMap:
    """Distance fields over the flyable cells of one map, cached per goal.

    `distance(pos, goals)` and `descend(pos, goals)` take pos (n, 2) cells and goals (n,)
    flat cells; each field costs one BFS the first time its goal is asked for.
    """

    def __init__(self, nofly: np.ndarray) -> None:
        self.nofly = np.asarray(nofly, dtype=bool)
        self.shape = self.nofly.shape
        self.far = self.nofly.size  # the value of unreachable cells
        self.table = np.zeros((4, self.nofly.size), dtype=np.int32)  # (capacity, H*W)
        self.row: dict[int, int] = {}  # goal flat cell -> row of `table`

    def rows(self, goals: np.ndarray) -> np.ndarray:
        """Table rows (n,) of the fields of `goals` (n,) flat cells, computing new ones."""
        uniq, inv = np.unique(np.asarray(goals, dtype=np.int64), return_inverse=True)
        new = [int(g) for g in uniq if int(g) not in self.row]  # loop over new goals only
        if len(self.row) + len(new) > len(self.table):  # grow by doubling: amortised O(1)
            grown = np.zeros((2 * (len(self.row) + len(new)), self.far), dtype=np.int32)
            grown[: len(self.row)] = self.table[: len(self.row)]
            self.table = grown
        for g in new:
            self.row[g] = len(self.row)
            self.table[self.row[g]] = moves_field(self.nofly, g)
        return np.array([self.row[int(g)] for g in uniq], dtype=np.int64)[inv.ravel()]

    def distance(self, pos: np.ndarray, goals: np.ndarray) -> np.ndarray:
        """Moves (n,) int32 from cells pos (n, 2) to flat goals (n,); `far` if unreachable."""
        w = self.shape[1]
        return self.table[self.rows(goals), pos[:, 0] * w + pos[:, 1]]

    def descend(self, pos: np.ndarray, goals: np.ndarray) -> np.ndarray:
        """One Moore step (n, 2) int64 per drone down its goal's field: the neighbour one move
        nearer (never no-fly when the goal is reachable), so a route takes exactly
        `distance` ticks and cannot oscillate."""
        h, w = self.shape
        pos = np.asarray(pos, dtype=np.int64)
        cand = np.clip(pos[:, None, :] + MOVES[None], 0, [h - 1, w - 1])  # (n, 8, 2)
        here = self.rows(goals)[:, None]
        vals = self.table[here, cand[..., 0] * w + cand[..., 1]]  # (n, 8)
        best = cand[np.arange(len(pos)), vals.argmin(1)]
        at_goal = self.table[here[:, 0], pos[:, 0] * w + pos[:, 1]] == 0
        return np.where(at_goal[:, None], 0, best - pos)

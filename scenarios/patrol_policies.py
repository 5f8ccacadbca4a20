"""Scripted patrol policies: idleness-greedy and a cyclic tour over the points of interest.

Both keep a per-drone idleness map (ticks since the drone last saw each cell), respect the
rules of the air (never enter no-fly cells, climb to a zone's minimum altitude *before*
entering it) and fly home to a charging station when the battery only just covers the way.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from scenarios.base import Actions, Observation
from scenarios.policy_base import Policy, footprints

__all__ = ["CyclicTour", "IdlenessGreedy", "PatrolPolicy"]

_MOVES = np.array([(a, b) for a in (-1, 0, 1) for b in (-1, 0, 1) if a or b], dtype=np.int64)


class PatrolPolicy(Policy):
    """Idleness belief, safe navigation, battery management and reporting."""

    params: ClassVar[dict[str, float]] = {
        "cruise_m": 20.0,
        "margin_m": 1.0,
        "flag_p": 0.9,
        "reserve": 0.08,
        "home_factor": 1.5,
    }

    def __init__(self, info: dict, drone_ids: np.ndarray, rng: np.random.Generator, **params):
        super().__init__(info, drone_ids, rng, **params)
        h, w = self.shape
        self.now = 0
        self.last_seen = np.zeros((self.k, h, w), dtype=np.int32)
        self.nofly = np.asarray(info["nofly"], dtype=bool)
        self.zone = np.asarray(info["zone_min_alt"], dtype=np.float32)
        self.stations = np.asarray(info["stations"], dtype=np.int64)
        self.poi = np.argwhere(np.asarray(info["poi"], dtype=bool))  # (P, 2)
        self.returning = np.zeros(self.k, dtype=bool)
        self.reported: list[dict[int, int]] = [{} for _ in range(self.k)]
        self._fields: dict[int, np.ndarray] = {}
        per_cell_j = info["hover_w"] * info["tick_s"] + info["move_j_per_m"] * info["cell_m"] * 1.5
        self.per_cell = per_cell_j / 3600.0 / info["battery_wh"]  # battery fraction per move

    @property
    def belief(self) -> np.ndarray:
        """(K, H, W) float32 idleness in ticks, per drone."""
        return (self.now - self.last_seen).astype(np.float32)

    def merge(self, i: int, other: np.ndarray) -> None:
        """Fuse idleness by elementwise minimum (someone saw it more recently)."""
        seen = self.now - np.asarray(other, dtype=np.float64)
        np.maximum(self.last_seen[i], seen.astype(np.int32), out=self.last_seen[i])

    def _field(self, goal: int) -> np.ndarray:
        """Moves-to-`goal` (flat cell) over cells outside no-fly zones, (H, W) int32 (BFS)."""
        if goal not in self._fields:
            h, w = self.shape
            big = h * w
            dist = np.full((h, w), big, dtype=np.int32)
            front = np.zeros((h, w), dtype=bool)
            front[divmod(goal, w)] = True
            d = 0
            while front.any():
                dist[front] = d
                grown = front.copy()
                grown[1:] |= front[:-1]
                grown[:-1] |= front[1:]
                grown[:, 1:] |= grown[:, :-1]
                grown[:, :-1] |= grown[:, 1:]
                front = grown & ~self.nofly & (dist == big)
                d += 1
            self._fields[goal] = dist
        return self._fields[goal]

    def route(self, pos: np.ndarray, goal: np.ndarray) -> np.ndarray:
        """Next Moore step (K, 2) toward goal (K, 2), going around no-fly cells."""
        h, w = self.shape
        move = np.sign(goal - pos)
        nxt = pos + move
        for i in np.flatnonzero(self.nofly[nxt[:, 0], nxt[:, 1]]).tolist():
            field = self._field(int(goal[i, 0] * w + goal[i, 1]))
            cand = np.clip(pos[i] + _MOVES, 0, [h - 1, w - 1])
            move[i] = cand[np.argmin(field[cand[:, 0], cand[:, 1]])] - pos[i]
        return move

    def _act(self, obs: Observation, p: np.ndarray) -> Actions:
        self.now = obs.tick
        pos = obs.pose[:, :2].astype(np.int64)
        k, rr, cc, _ = footprints(obs.pose, self.info, self.shape)
        self.last_seen[k, rr, cc] = obs.tick
        for d, cell, _ in self._labelled_cells(obs):
            self.reported[d].pop(cell, None)
        goal = self._home_or_goal(obs, pos)
        move = self.route(pos, goal)
        return self._safe(obs, pos, move, goal, self._flags(obs, p))

    def _home_or_goal(self, obs: Observation, pos: np.ndarray) -> np.ndarray:
        d_st = np.abs(pos[:, None, :] - self.stations[None]).max(2)  # (K, S) Chebyshev
        near = d_st.argmin(1)
        need = self.p["reserve"] + self.p["home_factor"] * self.per_cell * d_st.min(1)
        battery = obs.pose[:, 3]
        self.returning |= battery < need
        self.returning &= ~((battery >= 0.99) & (d_st.min(1) == 0) & ~obs.busy)
        goal = self.goals(obs, pos)
        goal[self.returning] = self.stations[near[self.returning]]
        return goal

    def _safe(self, obs, pos, move, goal, flag) -> Actions:
        """Hold position while climbing to the next cell's zone minimum; land when home."""
        nxt = pos + move
        need = self.zone[nxt[:, 0], nxt[:, 1]]
        low = obs.pose[:, 2] < need
        move[low] = 0
        here = self.zone[pos[:, 0], pos[:, 1]]  # staying put must satisfy this cell too
        alt = np.maximum(self.p["cruise_m"], np.maximum(need, here) + self.p["margin_m"])
        home = self.returning & (pos == goal).all(1)
        alt = np.where(home, 0.0, alt).astype(np.float32)
        return Actions(move.astype(np.int8), alt, flag)

    def _flags(self, obs: Observation, p: np.ndarray) -> np.ndarray:
        """Report confident detections, once per cell until the crew's answer comes."""
        w = self.shape[1]
        flag = (p > self.p["flag_p"]) & ~obs.busy & (obs.pose[:, 2] > 0)
        for i in np.flatnonzero(flag).tolist():
            cell = int(obs.cells[i, 0] * w + obs.cells[i, 1])
            if cell in self.reported[i]:
                flag[i] = False
            else:
                self.reported[i][cell] = obs.tick
        return flag

    def goals(self, obs: Observation, pos: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class IdlenessGreedy(PatrolPolicy):
    """Head for the point of interest with the most idleness minus travel ticks; shard-mates
    claim distinct goals."""

    params: ClassVar[dict[str, float]] = {**PatrolPolicy.params, "replan_every": 10}

    def __init__(self, info: dict, drone_ids: np.ndarray, rng: np.random.Generator, **params):
        super().__init__(info, drone_ids, rng, **params)
        self.goal = np.zeros((self.k, 2), dtype=np.int64)
        self.planned = np.full(self.k, -(10**9))

    def goals(self, obs: Observation, pos: np.ndarray) -> np.ndarray:
        due = (obs.tick - self.planned >= self.p["replan_every"]) | (pos == self.goal).all(1)
        taken = np.zeros(len(self.poi), dtype=bool)
        for i in np.flatnonzero(due & ~self.returning).tolist():
            idle = obs.tick - self.last_seen[i, self.poi[:, 0], self.poi[:, 1]]
            dist = np.abs(self.poi - pos[i]).max(1)
            score = np.where(taken, -np.inf, idle - dist)
            j = int(np.argmax(score))
            self.goal[i], self.planned[i] = self.poi[j], obs.tick
            taken |= np.abs(self.poi - self.poi[j]).max(1) <= 2
        return self.goal.copy()


class CyclicTour(PatrolPolicy):
    """One closed tour over all points of interest (nearest-neighbour order from the first
    station); drones start evenly spaced along it and follow it forever."""

    def __init__(self, info: dict, drone_ids: np.ndarray, rng: np.random.Generator, **params):
        super().__init__(info, drone_ids, rng, **params)
        self.tour = self._tour()
        self.at = (np.arange(self.k) * len(self.tour)) // max(self.k, 1)

    def _tour(self) -> np.ndarray:
        left = list(range(len(self.poi)))
        here, order = self.stations[0], []
        while left:
            d = np.abs(self.poi[left] - here).max(1)
            j = left.pop(int(np.argmin(d)))
            order.append(j)
            here = self.poi[j]
        return self.poi[order]

    def goals(self, obs: Observation, pos: np.ndarray) -> np.ndarray:
        reached = (pos == self.tour[self.at]).all(1) & ~self.returning
        self.at = np.where(reached, (self.at + 1) % len(self.tour), self.at)
        return self.tour[self.at].copy()

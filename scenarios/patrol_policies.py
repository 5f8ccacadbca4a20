"""Scripted patrol policies: idleness-greedy and a cyclic tour over the points of interest.

Both keep a per-drone idleness map (ticks since the drone last saw each cell, or since the
ground crew answered a report there: a crew check is a visit too), respect the
rules of the air (never enter no-fly cells, climb to a zone's minimum altitude *before*
entering it) and fly home to a charging station when the battery only just covers the way.
The first return is staggered over the fleet (`stagger`), so the drones, launched together on
full batteries, do not all charge at once and leave the area unwatched.
Shared, the map travels as evidence (`take_evidence`): the last-seen tick of each cell a
drone saw since it last shared; a receiver keeps the later tick per cell. That max is
idempotent and order-free, so a stale or repeated report can never make a cell look less
recently seen than it was.
`IdlenessGreedy` also uses the detector: a point of interest whose last look scored high but
not high enough to report is revisited sooner (`look_ticks`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from scenarios.base import Actions, Observation
from scenarios.claims import choose_sites
from scenarios.info import PatrolInfo
from scenarios.navigation import FlightMap
from scenarios.policy_base import Evidence, Policy, footprints

__all__ = ["CyclicTour", "IdlenessGreedy", "PatrolPolicy"]


class PatrolPolicy(Policy):
    """Idleness belief, safe navigation, battery management and reporting.

    Going home is sound: each tick a drone turns back when its battery would not cover two
    more moves than its flight distance (around no-fly cells) to the nearest reachable
    station, plus the descent to land, times `home_factor`, plus `reserve` (a fraction of the
    battery); from then on it follows that station's distance field, one move nearer per tick.
    """

    params: ClassVar[dict[str, float]] = {
        "cruise_m": 20.0,
        "margin_m": 1.0,
        "flag_p": 0.9,
        "reserve": 0.05,
        "home_factor": 1.2,
        "stagger": 0.5,
    }

    info_type: ClassVar[type[PatrolInfo]] = PatrolInfo

    def __init__(self, info: PatrolInfo, drone_ids: np.ndarray, rng: np.random.Generator, **params):
        super().__init__(info, drone_ids, rng, **params)
        h, w = self.shape
        self.now = 0
        self.last_seen = np.zeros((self.k, h, w), dtype=np.int32)
        self._fresh = np.zeros((self.k, h * w), dtype=bool)  # seen since last handed out
        self.nofly = np.asarray(info.nofly, dtype=bool)
        self.zone = np.asarray(info.zone_min_alt, dtype=np.float32)
        self.stations = np.asarray(info.stations, dtype=np.int64)
        self.poi = np.argwhere(np.asarray(info.poi, dtype=bool))  # (P, 2)
        self.returning = np.zeros(self.k, dtype=bool)
        # extra battery fraction kept before the first charge, spread evenly over the fleet
        # by global drone id (golden-ratio order: any subset of drones spreads too)
        spread = (np.asarray(drone_ids, np.float64) * 0.6180339887) % 1.0
        self.first_extra = self.p["stagger"] * spread
        self.charged = np.zeros(self.k, dtype=bool)
        self.nav = FlightMap(self.nofly)
        self.station_flat = self.stations[:, 0] * w + self.stations[:, 1]
        self.nav.rows(self.station_flat)  # the home fields are needed from the first tick
        self.detour = np.zeros(self.k, dtype=bool)  # following a goal's field, not a line
        self.route_goal = np.full((self.k, 2), -1, dtype=np.int64)
        self._reported = np.zeros(0, dtype=np.int64)  # sorted drone * H*W + cell, unanswered
        self._energy(info)

    def _energy(self, info: PatrolInfo) -> None:
        """Battery fractions: per moving tick (hover + a diagonal cell) and per landing tick."""
        joules = info.battery_wh * 3600.0
        hover = info.hover_w * info.tick_s
        self.per_move = (hover + info.move_j_per_m * info.cell_m * np.sqrt(2)) / joules
        self.per_hover = hover / joules
        self.descent_m = float(info.climb_mps) * info.tick_s  # metres per tick
        self.top_m = max(self.p["cruise_m"], float(self.zone.max(initial=0)) + self.p["margin_m"])

    def _belief_rows(self, rows: np.ndarray) -> np.ndarray:
        """Idleness in ticks (len(rows), H, W) float32 of the local drones `rows`."""
        return (self.now - self.last_seen[rows]).astype(np.float32)

    def _visit(self, drones: np.ndarray, cells: np.ndarray, tick: int) -> None:
        """The drones saw (or heard the crew answer about) flat cells at `tick`: their own
        news, to be handed out; with `fused` every row is the one map."""
        self._fresh[drones, cells] = True
        drones, cells = self._spread(drones, cells)
        seen = self.last_seen.reshape(self.k, -1)
        seen[drones, cells] = np.maximum(seen[drones, cells], tick)

    def _take(self) -> list[Evidence]:
        """Each drone's fresh cells with their last-seen tick; the outboxes empty."""
        seen, out = self.last_seen.reshape(self.k, -1), []
        none = np.zeros(0, np.int64)
        for i in range(self.k):
            cells = np.flatnonzero(self._fresh[i])
            out.append(Evidence(cells, seen[i, cells].astype(np.float32), none, none.astype(bool)))
        self._fresh[:] = False
        return out

    def _fuse_items(self, rows: np.ndarray, items: Sequence[Evidence]) -> None:
        """Keep the later last-seen tick per cell (idempotent: a repeat changes nothing); a
        tick is an integer in [0, now], anything else is clipped into it."""
        seen = self.last_seen.reshape(self.k, -1)
        for i, item in zip(rows.tolist(), items, strict=True):
            tick = np.clip(np.rint(item.values), 0, self.now).astype(np.int32)
            rows_ = slice(None) if self.fused else i  # fused: one map, every row alike
            seen[rows_, item.cells] = np.maximum(seen[rows_, item.cells], tick)

    def route(self, pos: np.ndarray, goal: np.ndarray, follow: np.ndarray) -> np.ndarray:
        """Next Moore step (K, 2) toward goal (K, 2): a straight line until it would enter a
        no-fly cell, then (until the goal changes) the goal's distance field; drones in
        `follow` (K,) bool use the field from the start."""
        w = self.shape[1]
        move = np.sign(goal - pos)
        nxt = pos + move
        same = (goal == self.route_goal).all(1)
        self.detour = (self.detour & same) | self.nofly[nxt[:, 0], nxt[:, 1]]
        self.route_goal = goal.copy()
        idx = np.flatnonzero((self.detour | follow) & (pos != goal).any(1))
        if idx.size:
            move[idx] = self.nav.descend(pos[idx], goal[idx, 0] * w + goal[idx, 1])
        return move

    def _act(self, obs: Observation, p: np.ndarray) -> Actions:
        self.now = obs.tick
        pos = obs.pose[:, :2].astype(np.int64)
        k, _, _, flat = footprints(obs.pose, self.info, self.shape)
        d, cell, _ = self._labelled_cells(obs)
        self._visit(np.concatenate([k, d]), np.concatenate([flat, cell]), obs.tick)
        if d.size:  # the crew answered: that cell may be reported again
            answered = d * (self.shape[0] * self.shape[1]) + cell
            self._reported = np.setdiff1d(self._reported, answered, assume_unique=True)
        goal = self._home_or_goal(obs, pos)
        move = self.route(pos, goal, self.returning)
        return self._safe(obs, pos, move, goal, self._flags(obs, p))

    def home_need(self, pos: np.ndarray, alt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(battery fraction (K,) a drone must keep to turn back now, nearest reachable
        station (K,) by flight distance). Two extra moves: the one it may make this tick
        and the one that takes it farther before the next check."""
        w = self.shape[1]
        flat = pos[:, 0] * w + pos[:, 1]
        rows = self.nav.rows(self.station_flat)
        dist = self.nav.table[rows[:, None], flat[None, :]]  # (S, K) moves
        near = dist.argmin(0)
        moves = dist.min(0).astype(np.float64)
        land = np.ceil(np.maximum(alt, self.top_m) / self.descent_m)
        need = self.p["home_factor"] * ((moves + 2) * self.per_move + land * self.per_hover)
        return need + self.p["reserve"], near

    def _home_or_goal(self, obs: Observation, pos: np.ndarray) -> np.ndarray:
        need, near = self.home_need(pos, obs.pose[:, 2].astype(np.float64))
        home = self.stations[near]
        battery = obs.pose[:, 3]
        self.returning |= battery < need + np.where(self.charged, 0.0, self.first_extra)
        self.charged |= self.returning
        self.returning &= ~((battery >= 0.99) & (pos == home).all(1) & ~obs.busy)
        goal = self.goals(obs, pos)
        goal[self.returning] = home[self.returning]
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
        h, w = self.shape
        flag = (p > self.p["flag_p"]) & ~obs.busy & (obs.pose[:, 2] > 0)
        i = np.flatnonzero(flag)
        key = i * (h * w) + obs.cells[i, 0].astype(np.int64) * w + obs.cells[i, 1]
        again = np.isin(key, self._reported, assume_unique=True)
        flag[i[again]] = False
        self._reported = np.union1d(self._reported, key[~again])
        return flag

    def goals(self, obs: Observation, pos: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class IdlenessGreedy(PatrolPolicy):
    """Head for the point of interest with the most idleness minus travel ticks, plus
    `look_ticks` × the detector's last p on it where that p was below the report threshold
    (a suspicious cell is worth a second look sooner), skipping points within 2 cells of a
    goal a peer claimed in the last round (`scenarios.claims`). Its claim is its goal."""

    params: ClassVar[dict[str, float]] = {
        **PatrolPolicy.params,
        "replan_every": 10,
        "look_ticks": 50.0,
    }

    def __init__(self, info: PatrolInfo, drone_ids: np.ndarray, rng: np.random.Generator, **params):
        super().__init__(info, drone_ids, rng, **params)
        self.planned = np.full(self.k, -(10**9))
        self.set_claim_sites(self.poi, radius=2)  # points within 2 cells of a claimed goal
        self.suspect = np.zeros((self.k, *self.shape), dtype=np.float32)  # last p per cell

    def _act(self, obs: Observation, p: np.ndarray) -> Actions:
        cells = obs.cells.astype(np.int64)
        unreported = np.where(p > self.p["flag_p"], 0.0, p)  # a report settles the cell
        self.suspect[np.arange(self.k), cells[:, 0], cells[:, 1]] = unreported
        return super()._act(obs, p)

    def goals(self, obs: Observation, pos: np.ndarray) -> np.ndarray:
        every = max(int(self.p["replan_every"]), 1)
        due = (obs.tick - self.planned >= every) | (pos == self.goal).all(1)
        due = np.flatnonzero(due & ~self.returning)
        if due.size and len(self.poi):
            pr, pc = self.poi[None, :, 0], self.poi[None, :, 1]
            idle = obs.tick - self.last_seen[due[:, None], pr, pc]  # (D, P)
            dist = np.abs(self.poi[None] - pos[due][:, None]).max(2)
            look = self.suspect[due[:, None], pr, pc]  # (D, P)
            score = (idle - dist + self.p["look_ticks"] * look).astype(np.float32)
            pick = choose_sites(score, self.blocked()[due])
            self.goal[due], self.planned[due] = self.poi[pick], obs.tick
            self.has_goal[due] = True
        return self.goal.copy()


class CyclicTour(PatrolPolicy):
    """One closed tour over all points of interest (nearest-neighbour order from the first
    station); drones start evenly spaced along it and follow it forever."""

    def __init__(self, info: PatrolInfo, drone_ids: np.ndarray, rng: np.random.Generator, **params):
        super().__init__(info, drone_ids, rng, **params)
        self.tour = self._tour()
        # evenly spaced over the whole team by global id (planned before launch)
        self.at = (self.ids * len(self.tour)) // max(self.team_size, 1)

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

"""What every scripted policy shares: footprints from poses, moves toward goals, the contract.

A policy serves K drones (a shard). It reads only the world's public info (a
`scenarios.info.WorldInfo` of the type it names in `info_type`) and observations, never the
world: the same classes drive the standalone scripted runs and the learning brains.

Every drone decides alone: its random draws come from its own stream (`drone_rngs`, keyed by
the policy's root seed and the drone's global id), and the only thing it learns of other
drones is what it is told (`fuse_evidence` of beliefs, `hear_claims` of goals). So a drone flies the
same whichever drones share its policy (its host), which is what makes a run's results
independent of how drones are sharded over hosts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from scenarios.base import Actions, Observation
from scenarios.claims import NO_CLAIM, blocked_sites
from scenarios.config import footprint_radius
from scenarios.info import WorldInfo

__all__ = ["Evidence", "Policy", "drone_rngs", "footprints", "step_toward"]


def drone_rngs(root: np.random.Generator, ids: np.ndarray) -> list[np.random.Generator]:
    """One generator per drone, keyed by `root`'s seed and the drone's global id (numpy
    SeedSequence spawn key), so drone d draws the same numbers whichever policy holds it.

    root: a generator made by `np.random.default_rng(seed)` (its SeedSequence is the key)."""
    ss = root.bit_generator.seed_seq
    if not isinstance(ss, np.random.SeedSequence):
        raise TypeError("drone_rngs needs a generator from np.random.default_rng(seed)")
    return [
        np.random.default_rng(np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, int(d))))
        for d in np.asarray(ids, np.int64).tolist()
    ]


def footprints(
    pose: np.ndarray, info: WorldInfo, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Camera footprints of K drones from their poses (K, 4), as the world's camera sees them.

    Returns (drone (S,), row (S,), col (S,), valid-mask-free) flat lists of every in-map
    footprint cell; S = sum of footprint areas. The last item is each entry's flat index.
    """
    h, w = shape
    r = footprint_radius(pose[:, 2], info.fov_deg, info.cell_m)
    big = int(r.max(initial=0))
    off = np.arange(-big, big + 1)
    dr, dc = (g.ravel() for g in np.meshgrid(off, off, indexing="ij"))
    pos = pose[:, :2].astype(np.int32)
    rows, cols = pos[:, :1] + dr[None, :], pos[:, 1:] + dc[None, :]
    ok = (np.maximum(np.abs(dr), np.abs(dc))[None, :] <= r[:, None]) & (
        (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
    )
    k = np.broadcast_to(np.arange(len(pose))[:, None], ok.shape)[ok]
    rr, cc = rows[ok], cols[ok]
    return k, rr, cc, rr * w + cc


def step_toward(pos: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """One Moore step (K, 2) int8 from pos (K, 2) toward goal (K, 2); zero when there."""
    return np.sign(goal.astype(np.int64) - pos).astype(np.int8)


@dataclass(frozen=True)
class Evidence:
    """What one drone learned about the map since it last shared, sparse over flat cells.

    cells (M,) int64 ascending, values (M,) float32: what it adds to the map there (search:
    log-odds evidence; patrol: the tick the cell was last seen). pinned (Q,) int64 ascending,
    truth (Q,) bool: cells an inspection settled (search: the target is there or not);
    definitive, so no later evidence changes them."""

    cells: np.ndarray
    values: np.ndarray
    pinned: np.ndarray
    truth: np.ndarray

    @classmethod
    def none(cls) -> Evidence:
        """Nothing learned."""
        empty = np.zeros(0, np.int64)
        return cls(empty, np.zeros(0, np.float32), empty, np.zeros(0, bool))

    def __bool__(self) -> bool:
        return bool(self.cells.size or self.pinned.size)

    def check(self, n_cells: int) -> None:
        """ValueError unless cells and pinned are ascending, distinct and inside [0, n_cells),
        values are finite and each array matches its partner's length."""
        for name, idx, v in (
            ("cells", self.cells, self.values),
            ("pinned", self.pinned, self.truth),
        ):
            idx = np.asarray(idx)
            if idx.ndim != 1 or np.shape(v) != idx.shape:
                raise ValueError(f"evidence {name} and its values must be 1-D of one length")
            if idx.size and (idx[0] < 0 or idx[-1] >= n_cells or np.any(np.diff(idx) <= 0)):
                raise ValueError(f"evidence {name} must ascend strictly inside [0, {n_cells})")
        if not np.isfinite(self.values).all():
            raise ValueError("evidence values must be finite")


class Policy:
    """Base of scripted policies (docs/architecture.md §2).

    `belief` (K, H, W) float32 is the per-drone map; `act(obs, p_detect)` returns Actions;
    Beliefs are evidence (docs/design.md, "Beliefs"): `take_evidence()` hands out what each
    drone observed since it last shared, `fuse_evidence(rows, items)` adds other drones'
    evidence to a drone's map. With `fused` the K drones plan from one map (the `central`
    team): every drone's evidence goes into it, kept as K identical rows so that per-drone
    planning reads it as it reads separate maps.
    Parameters come as keyword arguments; unknown ones raise a TypeError naming the valid ones.
    `team_size` is the number of drones in the whole team (default: enough for the ids), for
    policies that split the map among the team by global drone id.

    Claims (goal coordination, `scenarios.claims`): `claims()` is each drone's current goal
    cell (K, 2), (-1, -1) for none; `hear_claims(rows, goals)` replaces what the drones heard
    of their peers' goals (a knowledge round's claims). A goal planner declares its sites
    (`set_claim_sites`), sets `goal`/`has_goal` when it plans and picks among the sites not
    `blocked()`; a policy without goals claims nothing and ignores what it hears.
    """

    params: ClassVar[dict[str, float]] = {}
    info_type: ClassVar[type[WorldInfo]] = WorldInfo  # the public info this policy reads

    def __init__(
        self,
        info: WorldInfo,
        drone_ids: np.ndarray,
        rng: np.random.Generator,
        *,
        team_size: int | None = None,
        fused: bool = False,
        **params,
    ):
        if not isinstance(info, self.info_type):
            raise TypeError(
                f"{type(self).__name__} reads a {self.info_type.__name__}, got "
                f"{type(info).__name__}; pass the world's public_info()"
            )
        unknown = set(params) - set(self.params)
        if unknown:
            raise TypeError(
                f"{type(self).__name__} got unknown parameters {sorted(unknown)}; "
                f"valid ones: {sorted(self.params)}"
            )
        self.p = {**self.params, **params}
        self.info = info
        self.ids = np.asarray(drone_ids, dtype=np.int64)
        self.k = len(self.ids)
        top = int(self.ids.max()) + 1 if self.ids.size else 0
        self.team_size = max(self.k, top) if team_size is None else int(team_size)
        if self.ids.size and (self.ids.min() < 0 or self.ids.max() >= self.team_size):
            raise ValueError(
                f"drone ids must lie in [0, team_size={self.team_size}), got {self.ids.tolist()}"
            )
        self.rngs = drone_rngs(rng, self.ids)  # one stream per drone (module docstring)
        # claims heard in the last round: local drone (M,) and the goal cell (M, 2) it heard
        self.heard_rows = np.zeros(0, np.int64)
        self.heard_goals = np.zeros((0, 2), np.int64)
        # goal planners (set_claim_sites) claim `goal` once `has_goal`; others claim nothing
        self.goal = np.zeros((self.k, 2), dtype=np.int64)
        self.has_goal = np.zeros(self.k, dtype=bool)
        self._sites: tuple[np.ndarray, int, int] | None = None  # sites, radius, cells per site
        self._blocked_cache: np.ndarray | None = None
        self.shape = info.shape
        self.fused = bool(fused)
        # flags awaiting their label: key tick * K + local drone (sorted) -> flat cell
        self._flag_key = np.zeros(0, dtype=np.int64)
        self._flag_cell = np.zeros(0, dtype=np.int64)
        self._cache: np.ndarray | None = None  # belief (K, H, W) until the next act()

    @property
    def belief(self) -> np.ndarray:
        """(K, H, W) float32, read-only; computed once per tick however often it is read
        (callers index it per brain), and kept current by `fuse_evidence`."""
        if self._cache is None:
            self._cache = self._belief_rows(np.arange(self.k))
        view = self._cache.view()
        view.flags.writeable = False
        return view

    def take_evidence(self) -> list[Evidence]:
        """Each local drone's evidence since its last call (K items, local drone order);
        what it returns is no longer pending, so every piece is handed out once."""
        return self._take()

    def fuse_evidence(self, rows: np.ndarray, items: Sequence[Evidence]) -> None:
        """Fuse items[m] (another drone's evidence) into local drone rows[m]'s map, in order.

        rows (M,) int in [0, K); each item's cells and pinned cells ascending, inside the
        map, values finite (ValueError otherwise, before anything changes). The exchange
        hands each item to a drone at most once: fusing is a sum, so a repeat would count
        twice. The cached `belief` rows are refreshed."""
        rows = np.asarray(rows)
        if rows.ndim != 1 or rows.size != len(items) or (rows.size and rows.dtype.kind not in "iu"):
            raise ValueError("fuse_evidence needs rows as a 1-D integer array, one per item")
        if rows.size and (rows.min() < 0 or rows.max() >= self.k):
            raise ValueError(f"fuse_evidence rows must lie in [0, {self.k})")
        hw = self.shape[0] * self.shape[1]
        for item in items:
            item.check(hw)
        if not rows.size:
            return
        self._fuse_items(rows.astype(np.int64), items)
        if self._cache is not None:
            done = np.unique(rows)
            self._cache[done] = self._belief_rows(done)

    def _spread(self, drones: np.ndarray, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The (drone, flat cell) entries a change at (drones, cells) touches: the same ones,
        or with `fused` (one map for all) every drone at each distinct cell."""
        if not self.fused:
            return drones, cells
        cells = np.unique(cells)
        return np.repeat(np.arange(self.k), cells.size), np.tile(cells, self.k)

    def _take(self) -> list[Evidence]:
        raise NotImplementedError

    # -- claims (moves side) --------------------------------------------------------------
    def set_claim_sites(self, sites: np.ndarray, radius: int, cells_per_site: int = 1) -> None:
        """Declare this policy a goal planner over `sites` (S, 2), in units of
        `cells_per_site` cells: a heard claim blocks the sites within `radius` of it."""
        self._sites = (np.asarray(sites, np.int64), int(radius), int(cells_per_site))
        self._blocked_cache = None

    def claims(self) -> np.ndarray:
        """(K, 2) int64 each drone's current goal cell, (-1, -1) where it claims none (before
        its first plan, or always for policies without goals)."""
        return np.where(self.has_goal[:, None], self.goal, NO_CLAIM)

    def blocked(self) -> np.ndarray:
        """(K, S) bool: the sites near a claim each drone heard (cached until the next
        `hear_claims`); see `set_claim_sites`."""
        if self._sites is None:
            raise RuntimeError("call set_claim_sites(...) before planning against claims")
        if self._blocked_cache is None:
            sites, radius, per = self._sites
            heard = self.heard_goals // per
            self._blocked_cache = blocked_sites(self.k, self.heard_rows, heard, sites, radius)
        return self._blocked_cache

    def hear_claims(self, rows: np.ndarray, goals: np.ndarray) -> None:
        """Replace the claims the drones heard: local drone rows (M,) heard goal cells
        goals (M, 2) (a drone may hear several; it never needs its own). They hold until
        the next call, i.e. until the next knowledge round."""
        rows, goals = np.asarray(rows, np.int64), np.asarray(goals, np.int64).reshape(-1, 2)
        if rows.shape != (len(goals),) or (rows.size and (rows.min() < 0 or rows.max() >= self.k)):
            raise ValueError(
                f"hear_claims needs rows (M,) in [0, {self.k}) and goals (M, 2), got "
                f"{rows.shape} and {goals.shape}"
            )
        self.heard_rows, self.heard_goals = rows, goals
        self._blocked_cache = None

    def inspections_under_way(self) -> tuple[np.ndarray, np.ndarray]:
        """(owners (Q,) int64 local drones, cells (Q, 2) int64): the inspections this policy's
        drones are doing, whose label has not come back; claims a planner that sees every
        drone (the `central` centre) holds for them. None for a policy whose flags are not
        inspections (the default)."""
        return np.zeros(0, np.int64), np.zeros((0, 2), np.int64)

    def _fuse_items(self, rows: np.ndarray, items: Sequence[Evidence]) -> None:
        raise NotImplementedError

    def act(self, obs: Observation, p_detect: np.ndarray) -> Actions:
        """Validate shapes, then let the subclass decide; remembers flagged cells."""
        if len(obs) != self.k or np.shape(p_detect) != (self.k,):
            raise ValueError(
                f"policy serves {self.k} drones; got an observation of {len(obs)} and "
                f"p_detect of shape {np.shape(p_detect)} (select() the shard first)"
            )
        p = np.clip(np.asarray(p_detect, dtype=np.float32), 0.0, 1.0)
        self._cache = None
        actions = self._act(obs, p)
        i = np.flatnonzero(actions.flag)
        if i.size:  # keys grow with the tick, so appending keeps them sorted
            cells = obs.cells[i, 0].astype(np.int64) * self.shape[1] + obs.cells[i, 1]
            self._flag_key = np.concatenate([self._flag_key, obs.tick * self.k + i])
            self._flag_cell = np.concatenate([self._flag_cell, cells])
        return actions

    def _labelled_cells(self, obs: Observation) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(local drone (M,), flat cell (M,), value (M,)) for the labels in obs about flags we
        made; those flags are forgotten."""
        key = obs.label_tick.astype(np.int64) * self.k + obs.label_drone.astype(np.int64)
        n = len(self._flag_key)
        if not n or not key.size:
            hit, at = np.zeros(key.size, dtype=bool), np.zeros(key.size, dtype=np.int64)
        else:
            at = np.minimum(np.searchsorted(self._flag_key, key), n - 1)
            hit = self._flag_key[at] == key
        cells = self._flag_cell[at[hit]]
        if hit.any():
            keep = np.ones(n, dtype=bool)
            keep[at[hit]] = False
            self._flag_key, self._flag_cell = self._flag_key[keep], self._flag_cell[keep]
        d = obs.label_drone[hit].astype(np.int64)
        return d, cells, np.asarray(obs.label_value, dtype=np.float32)[hit]

    def _act(self, obs: Observation, p: np.ndarray) -> Actions:
        raise NotImplementedError

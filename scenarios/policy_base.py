"""What every scripted policy shares: footprints from poses, moves toward goals, the contract.

A policy serves K drones (a shard). It reads only the world's public info (a
`scenarios.info.WorldInfo` of the type it names in `info_type`) and observations, never the
world: the same classes drive the standalone scripted runs and the learning brains.

Every drone decides alone: its random draws come from its own stream (`drone_rngs`, keyed by
the policy's root seed and the drone's global id), and the only thing it learns of other
drones is what it is told (`merge` of beliefs, `hear_claims` of goals). So a drone flies the
same whichever drones share its policy (its host), which is what makes a run's results
independent of how drones are sharded over hosts.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from scenarios.base import Actions, Observation
from scenarios.claims import NO_CLAIM, blocked_sites
from scenarios.config import footprint_radius
from scenarios.info import WorldInfo

__all__ = ["Policy", "drone_rngs", "footprints", "row_layers", "step_toward"]


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


def row_layers(rows: np.ndarray) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """Entries of rows (M,) in layers: the r-th layer holds each row's r-th occurrence.

    Returns (drones (U,) the distinct rows ascending, layers): layer r is (entries (E,),
    stack (E,)), input entry entries[e] being an occurrence of row drones[stack[e]]. Within
    a layer every row appears once, so a layer is one vectorised step, and applying the
    layers in order applies every row's entries in input order."""
    drones, inv, counts = np.unique(rows, return_inverse=True, return_counts=True)
    by_row = np.argsort(inv, kind="stable")
    rank = np.empty(rows.size, np.int64)
    rank[by_row] = np.arange(rows.size) - np.repeat(np.cumsum(counts) - counts, counts)
    by_rank = np.argsort(rank, kind="stable")
    cuts = np.cumsum(np.bincount(rank))[:-1]
    return drones, [(e, inv[e]) for e in np.split(by_rank, cuts)]


def step_toward(pos: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """One Moore step (K, 2) int8 from pos (K, 2) toward goal (K, 2); zero when there."""
    return np.sign(goal.astype(np.int64) - pos).astype(np.int8)


class Policy:
    """Base of scripted policies (docs/architecture.md §2).

    `belief` (K, H, W) float32 is the per-drone map; `act(obs, p_detect)` returns Actions;
    `merge(i, other)` fuses another brain's belief (H, W) into drone i's, elementwise;
    `merge_many(rows, others)` does many such merges at once, with the same result.
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
        # flags awaiting their label: key tick * K + local drone (sorted) -> flat cell
        self._flag_key = np.zeros(0, dtype=np.int64)
        self._flag_cell = np.zeros(0, dtype=np.int64)
        self._cache: np.ndarray | None = None  # belief (K, H, W) until the next act()

    @property
    def belief(self) -> np.ndarray:
        """(K, H, W) float32, read-only; computed once per tick however often it is read
        (callers index it per brain), and kept current by `merge`."""
        if self._cache is None:
            self._cache = self._belief_rows(np.arange(self.k))
        view = self._cache.view()
        view.flags.writeable = False
        return view

    def merge(self, i: int, other: np.ndarray) -> None:
        """Fuse `other` (H, W) into drone i's map (subclass rule), refresh the cached row."""
        if np.shape(other) != self.shape:
            got = np.shape(other)
            raise ValueError(f"merge needs a belief map of shape {self.shape}, got {got}")
        self._merge(i, np.asarray(other))
        if self._cache is not None:
            self._cache[i] = self._belief_rows(np.array([i]))[0]

    def merge_many(
        self, rows: np.ndarray, others: np.ndarray, which: np.ndarray | None = None
    ) -> None:
        """`merge(rows[m], others[m])` for m = 0..M-1 in order, in a few vectorised passes.

        rows (M,) int local drone indices (repeats allowed: applied in order, exactly as the
        sequential calls); others (M, H, W) the beliefs to fuse. With `which` (M,) int,
        others is a pool (n, H, W) and rows[m] fuses others[which[m]] (a map that several
        drones fuse is gathered and converted once). The cached `belief` rows and any
        per-row bookkeeping end exactly as after the sequential calls.
        """
        rows, others, which = self._check_many(rows, others, which)
        if rows.size == 0:
            return
        if self._cache is not None and np.may_share_memory(others, self._cache):
            # the maps are our own cached rows, which each merge rewrites: go one at a time
            for i, j in zip(rows.tolist(), which.tolist(), strict=True):
                self.merge(i, others[j])
            return
        self._merge_many(rows, others, which)
        if self._cache is not None:
            done = np.unique(rows)
            self._cache[done] = self._belief_rows(done)

    def _check_many(
        self, rows: np.ndarray, others: np.ndarray, which: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Validated (rows (M,) int64, others (n, H, W), which (M,) int64) for merge_many."""
        rows, others = np.asarray(rows), np.asarray(others)
        for name, a in (("rows", rows), ("which", which)):
            a = np.asarray(a if a is not None else rows)
            if a.ndim != 1 or a.size != rows.size or (a.size and a.dtype.kind not in "iu"):
                raise ValueError(f"merge_many needs {name} as a 1-D integer array of one length")
        n = rows.size if which is None else len(others)
        if others.shape != (n, *self.shape):
            raise ValueError(
                f"merge_many needs beliefs of shape ({n}, {self.shape[0]}, {self.shape[1]}), "
                f"got {others.shape}"
            )
        which = np.arange(n) if which is None else np.asarray(which)
        for name, a, top in (("rows", rows, self.k), ("which", which, n)):
            if a.size and (a.min() < 0 or a.max() >= top):
                got = f"{int(a.min())}..{int(a.max())}"
                raise ValueError(f"merge_many {name} must lie in [0, {top}), got {got}")
        return rows.astype(np.int64), others, which.astype(np.int64)

    def _belief_rows(self, rows: np.ndarray) -> np.ndarray:
        """Belief maps (len(rows), H, W) float32 of the local drones `rows`."""
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

    def _merge(self, i: int, other: np.ndarray) -> None:
        raise NotImplementedError

    def _merge_many(self, rows: np.ndarray, others: np.ndarray, which: np.ndarray) -> None:
        """Subclass rule for `merge_many` (validated; rows[m] fuses others[which[m]]);
        the default loops `_merge`."""
        for i, j in zip(rows.tolist(), which.tolist(), strict=True):
            self._merge(i, others[j])

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

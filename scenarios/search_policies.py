"""Scripted search policies: lawnmower sweep, Lévy walk and belief-greedy.

All three keep a per-drone belief map P(target in cell), fused from detection probabilities:
the candidate cell's log-odds rise by logit(p) (the detector read as a likelihood ratio
against even odds), and every other footprint cell falls by log(miss_prob) (had the target
been there, the camera would likely have picked it). A label from an inspection pins a cell.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from scenarios.base import Actions, Observation
from scenarios.claims import claim_sites
from scenarios.policy_base import Policy, footprints, step_toward

__all__ = ["BeliefGreedy", "Lawnmower", "LevyWalk", "SearchPolicy"]

_PIN = 20.0  # |log-odds| of a cell whose truth an inspection revealed
_CHUNK = 1 << 21  # score elements per batch of re-planning drones (8 MB of float32)
_BLOCK = 3  # side of the blocks drones claim: goals in non-touching blocks are 4+ cells apart


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


class SearchPolicy(Policy):
    """Belief fusion and flagging shared by the search policies."""

    params: ClassVar[dict[str, float]] = {
        "flag_p": 0.9,
        "miss_prob": 0.5,
        "max_lr": 4.0,
        "altitude_m": 30.0,
    }

    def __init__(self, info: dict, drone_ids: np.ndarray, rng: np.random.Generator, **params):
        super().__init__(info, drone_ids, rng, **params)
        prior = np.clip(info["prior"] * info["n_targets"], 1e-6, 1 - 1e-6)
        self.prior_lo = _logit(prior).astype(np.float32)
        self.lo = np.broadcast_to(self.prior_lo, (self.k, *self.shape)).copy()  # (K, H, W)

    def _belief_rows(self, rows: np.ndarray) -> np.ndarray:
        """P(target in cell) (len(rows), H, W) float32 of the local drones `rows`."""
        return (1.0 / (1.0 + np.exp(-self.lo[rows]))).astype(np.float32)

    def _merge(self, i: int, other: np.ndarray) -> None:
        """Keep, per cell, whichever belief carries more evidence (farther from the prior);
        idempotent, so repeated merges never double-count."""
        lo = _logit(np.asarray(other, dtype=np.float64)).astype(np.float32)
        mine = self.lo[i]
        take = np.abs(lo - self.prior_lo) > np.abs(mine - self.prior_lo)
        mine[take] = lo[take]

    def fuse(self, obs: Observation, p: np.ndarray) -> None:
        """Bayesian update of each drone's map from its own token (busy drones skip)."""
        h, w = self.shape
        k, _, _, flat = footprints(obs.pose, self.info, self.shape)
        cand = obs.cells[:, 0] * w + obs.cells[:, 1]
        look = ~obs.busy
        neg = look[k] & (flat != cand[k])
        lo = self.lo.reshape(self.k, h * w)
        kn, fn = k[neg], flat[neg]  # within one drone's footprint each cell appears once
        lo[kn, fn] = np.maximum(lo[kn, fn] + np.float32(np.log(self.p["miss_prob"])), -_PIN)
        lr = np.clip(_logit(p), -self.p["max_lr"], self.p["max_lr"]).astype(np.float32)
        idx = np.flatnonzero(look)
        lo[idx, cand[idx]] = np.clip(lo[idx, cand[idx]] + lr[idx], -_PIN, _PIN)
        d, cell, v = self._labelled_cells(obs)
        lo[d, cell] = np.where(v > 0.5, _PIN, -_PIN)

    def flags(self, obs: Observation, p: np.ndarray) -> np.ndarray:
        """Flag when the detector is confident and the cell is not known to be empty."""
        w = self.shape[1]
        cand = obs.cells[:, 0] * w + obs.cells[:, 1]
        known_empty = self.lo.reshape(self.k, -1)[np.arange(self.k), cand] <= -_PIN + 1
        return (p > self.p["flag_p"]) & ~known_empty & ~obs.busy

    def _act(self, obs: Observation, p: np.ndarray) -> Actions:
        self.fuse(obs, p)
        move = self.moves(obs)
        alt = np.full(self.k, self.p["altitude_m"], dtype=np.float32)
        return Actions(move, alt, self.flags(obs, p))

    def moves(self, obs: Observation) -> np.ndarray:
        raise NotImplementedError


class Lawnmower(SearchPolicy):
    """Boustrophedon sweep: the map is cut into K tiles (row bands, split into column slices
    when there are more drones than bands); each drone sweeps lanes one swath apart."""

    def __init__(self, info: dict, drone_ids: np.ndarray, rng: np.random.Generator, **params):
        super().__init__(info, drone_ids, rng, **params)
        h, w = self.shape
        half = self.p["altitude_m"] * np.tan(np.radians(info["fov_deg"]) / 2) / info["cell_m"]
        swath = 2 * int(np.floor(half)) + 1
        bands = max(1, min(self.k, h // swath))
        tiles = []
        for b in range(bands):
            r0, r1 = b * h // bands, (b + 1) * h // bands
            n = self.k // bands + (b < self.k % bands)
            tiles += [(r0, r1, j * w // n, (j + 1) * w // n) for j in range(n)]
        paths = [self._path(t, swath) for t in tiles]
        longest = max(len(p) for p in paths)
        self.path = np.stack([np.resize(p, (longest, 2)) for p in paths])  # (K, L, 2)
        self.length = np.array([len(p) for p in paths])
        self.at = np.zeros(self.k, dtype=np.int64)

    @staticmethod
    def _path(tile: tuple[int, int, int, int], swath: int) -> np.ndarray:
        """Lane end points of one tile, in sweep order: (L, 2) int32."""
        r0, r1, c0, c1 = tile
        lanes = np.arange(r0 + swath // 2, max(r1, r0 + 1), swath)
        lanes = np.minimum(lanes, r1 - 1) if r1 > r0 else np.array([r0])
        pts = []
        for j, r in enumerate(lanes):
            ends = (c0, max(c0, c1 - 1))
            pts += [(r, ends[j % 2]), (r, ends[1 - j % 2])]
        return np.array(pts, dtype=np.int32)

    def moves(self, obs: Observation) -> np.ndarray:
        pos = obs.pose[:, :2].astype(np.int32)
        ki = np.arange(self.k)
        goal = self.path[ki, self.at]
        reached = (pos == goal).all(1)
        self.at = np.where(reached, (self.at + 1) % self.length, self.at)
        return step_toward(pos, self.path[ki, self.at])


class LevyWalk(SearchPolicy):
    """Straight flights in random Moore directions with Pareto lengths (exponent mu)."""

    params: ClassVar[dict[str, float]] = {**SearchPolicy.params, "mu": 2.0, "min_len": 1.0}

    def __init__(self, info: dict, drone_ids: np.ndarray, rng: np.random.Generator, **params):
        super().__init__(info, drone_ids, rng, **params)
        self.heading = np.zeros((self.k, 2), dtype=np.int8)
        self.left = np.zeros(self.k, dtype=np.int64)

    def moves(self, obs: Observation) -> np.ndarray:
        h, w = self.shape
        pos = obs.pose[:, :2].astype(np.int64)
        nxt = pos + self.heading
        off = (nxt < 0).any(1) | (nxt[:, 0] >= h) | (nxt[:, 1] >= w)
        new = (self.left <= 0) | off
        n = int(new.sum())
        if n:
            dirs = np.array([(a, b) for a in (-1, 0, 1) for b in (-1, 0, 1) if a or b])
            self.heading[new] = dirs[self.rng.integers(len(dirs), size=n)]
            u = self.rng.random(n)
            cap = max(h, w)
            length = self.p["min_len"] * u ** (-1.0 / (self.p["mu"] - 1.0))
            self.left[new] = np.minimum(np.ceil(length), cap).astype(np.int64)
        self.left -= 1
        return self.heading.copy()


class BeliefGreedy(SearchPolicy):
    """Fly to the cell of highest belief, discounted by distance; drones of one shard keep
    apart. Flags when the fused belief of the candidate cell passes `flag_belief`.

    Re-planning is batched over every due drone: each scores all cells at once (log-odds −
    log1p(Chebyshev distance / dist_scale)), the scores are maxed over 3x3 blocks, and drones
    claim blocks no two of which touch (`claims.claim_sites` on the block grid), so goals
    lie at least 4 cells apart while room allows; the goal is the best cell of the block.
    """

    params: ClassVar[dict[str, float]] = {
        **SearchPolicy.params,
        "flag_belief": 0.5,
        "dist_scale": 8.0,
        "replan_every": 5,
    }

    def __init__(self, info: dict, drone_ids: np.ndarray, rng: np.random.Generator, **params):
        super().__init__(info, drone_ids, rng, **params)
        self.goal = np.zeros((self.k, 2), dtype=np.int64)
        self.planned = np.full(self.k, -np.inf)
        h, w = self.shape
        self.bshape = (-(-h // _BLOCK), -(-w // _BLOCK))  # blocks per axis, rounded up
        self.blocks = np.argwhere(np.ones(self.bshape, dtype=bool))  # (B, 2) block row, col
        off = np.arange(_BLOCK)
        r = self.blocks[:, :1, None] * _BLOCK + off[None, :, None]  # (B, 3, 1)
        c = self.blocks[:, None, 1:] * _BLOCK + off[None, None, :]  # (B, 1, 3)
        cells = np.where((r < h) & (c < w), r * w + c, -1)  # -1: padding past the map edge
        self.block_cells = cells.reshape(len(self.blocks), -1)  # (B, 9) flat cells

    def flags(self, obs: Observation, p: np.ndarray) -> np.ndarray:
        w = self.shape[1]
        cand = obs.cells[:, 0] * w + obs.cells[:, 1]
        post = self.lo.reshape(self.k, -1)[np.arange(self.k), cand]
        return (post > _logit(np.array(self.p["flag_belief"]))) & (post < _PIN - 1) & ~obs.busy

    def moves(self, obs: Observation) -> np.ndarray:
        pos = obs.pose[:, :2].astype(np.int64)
        every = max(int(self.p["replan_every"]), 1)
        due = np.flatnonzero((obs.tick - self.planned >= every) | (pos == self.goal).all(1))
        if due.size:
            score = self._block_scores(due, pos[due])  # (D, B)

            def best(rows: np.ndarray, blocked: np.ndarray) -> np.ndarray:
                s = np.where(blocked, -np.inf, score[rows])
                arg = s.argmax(1)
                return np.where(np.isfinite(s[np.arange(len(rows)), arg]), arg, -1)

            pick = claim_sites(best, due.size, self.blocks, self.bshape, radius=1, rounds=8)
            self.goal[due] = self._cell_in_block(due, pos[due], pick)
            first = np.isinf(self.planned[due])
            # stagger the first plans so that later re-plans spread over `every` ticks
            self.planned[due] = obs.tick - first * (due % every)
        return step_toward(pos, self.goal)

    def _penalty(self, pos: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """log1p(Chebyshev distance / dist_scale), float32, from pos (n, 2) to cells given by
        `rows` (n, R) and `cols` (n, C) broadcast against each other (shape (n, R, C))."""
        # log1p is monotone, so the penalty of the max axis distance is the max of the two
        scale = np.float32(self.p["dist_scale"])
        pr = np.log1p(np.abs(rows - pos[:, :1, None]).astype(np.float32) / scale)
        pc = np.log1p(np.abs(cols - pos[:, 1:, None]).astype(np.float32) / scale)
        return np.maximum(pr, pc)

    def _block_scores(self, drones: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """Best score in each 3x3 block, (n, B) float32 (-inf only for no cell), for local
        `drones` (n,) at `pos` (n, 2); in chunks of drones so that big maps stay small."""
        h, w = self.shape
        (bh, bw), b = self.bshape, _BLOCK
        out = np.empty((len(drones), bh * bw), dtype=np.float32)
        step = max(1, _CHUNK // (h * w))
        ar, ac = np.arange(h)[None, :, None], np.arange(w)[None, None, :]
        for a in range(0, len(drones), step):
            d = drones[a : a + step]
            score = self.lo[d] - self._penalty(pos[a : a + step], ar, ac)  # (n, H, W)
            if (bh * b, bw * b) != (h, w):
                padded = np.full((len(d), bh * b, bw * b), -np.inf, dtype=np.float32)
                padded[:, :h, :w] = score
                score = padded
            # strided maxima: far faster than reducing tiny axes of a 5-D reshape
            cols = score[:, :, 0::b].copy()
            for o in range(1, b):
                np.maximum(cols, score[:, :, o::b], out=cols)
            blocks = cols[:, 0::b].copy()
            for o in range(1, b):
                np.maximum(blocks, cols[:, o::b], out=blocks)
            out[a : a + step] = blocks.reshape(len(d), -1)
        return out

    def _cell_in_block(self, drones: np.ndarray, pos: np.ndarray, block: np.ndarray) -> np.ndarray:
        """Best cell (n, 2) of each drone's claimed block (n,), by the same score."""
        w = self.shape[1]
        cells = self.block_cells[block]  # (n, 9), -1 past the map edge
        flat = np.maximum(cells, 0)
        r, c = np.divmod(flat, w)
        near = self._penalty(pos, r[:, :, None], c[:, :, None])[:, :, 0]  # (n, 9)
        score = np.where(
            cells >= 0, self.lo.reshape(self.k, -1)[drones[:, None], flat] - near, -np.inf
        )
        best = flat[np.arange(len(drones)), score.argmax(1)]
        return np.column_stack(np.divmod(best, w))

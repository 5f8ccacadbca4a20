"""Scripted search policies: lawnmower sweep, Lévy walk and belief-greedy.

All three keep a per-drone belief map P(target in cell) as log-odds evidence:

    log-odds = clip(prior + Σ_drones evidence, ±_CAP)   unless an inspection pinned the cell

A drone's own looks add evidence: the candidate cell's log-odds rise by logit(p), clipped to
±max_lr (the detector read as a likelihood ratio against even odds), and every other
footprint cell falls by log(miss_prob) (had the target been there, the camera would likely
have picked it). One drone's total evidence on a cell stays within ±max_evidence: its
repeated looks at one cell share the appearance and the detector, so they are far from
independent, and a look-alike seen 70 times must not outweigh every other drone. Evidence
from other drones arrives as increments (`take_evidence` / `fuse_evidence`) that add up
exactly, whatever their order. A label from an inspection pins its cell (target / empty):
definitive, it travels to others as such, and no evidence or later report changes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from scenarios.base import Actions, Observation
from scenarios.claims import choose_sites
from scenarios.config import footprint_radius
from scenarios.info import SearchInfo
from scenarios.policy_base import Evidence, Policy, footprints, step_toward

__all__ = ["BeliefGreedy", "Lawnmower", "LevyWalk", "SearchPolicy"]

_PIN = 20.0  # |log-odds| of a cell whose truth an inspection revealed
_CAP = _PIN - 2.0  # |log-odds| evidence alone can reach: never taken for a pinned cell
_BLOCK = 3  # side of the blocks drones claim: goals in non-touching blocks are 4+ cells apart


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


class SearchPolicy(Policy):
    """Belief fusion and flagging shared by the search policies.

    State per local drone, over flat cells (K, H*W): `own` its own evidence (|·| <=
    max_evidence), `ev` all evidence fused into its map (own + heard), `pin` +1 / -1 where an
    inspection found the target / nothing (0: open), and `lo` (K, H, W) the log-odds read
    from them. With `fused` every row is the one map of all drones."""

    params: ClassVar[dict[str, float]] = {
        "flag_p": 0.9,
        "miss_prob": 0.5,
        "max_lr": 4.0,
        "max_evidence": 8.0,
        "altitude_m": 30.0,
    }

    info_type: ClassVar[type[SearchInfo]] = SearchInfo

    def __init__(self, info: SearchInfo, drone_ids: np.ndarray, rng: np.random.Generator, **params):
        super().__init__(info, drone_ids, rng, **params)
        prior = np.clip(info.prior * info.n_targets, 1e-6, 1 - 1e-6)
        self.prior_lo = _logit(prior).astype(np.float32)
        self.lo = np.broadcast_to(self.prior_lo, (self.k, *self.shape)).copy()  # (K, H, W)
        hw = self.shape[0] * self.shape[1]
        self.own = np.zeros((self.k, hw), np.float32)
        self.ev = np.zeros((self.k, hw), np.float32)
        self.pin = np.zeros((self.k, hw), np.int8)
        self._out_ev = np.zeros((self.k, hw), np.float32)  # own evidence not yet handed out
        self._out_pin = np.zeros((self.k, hw), np.int8)  # own pins not yet handed out
        self._busy: np.ndarray | None = None  # (K,) bool drones busy at the last act
        self._now = -1  # tick of the last act

    def _belief_rows(self, rows: np.ndarray) -> np.ndarray:
        """P(target in cell) (len(rows), H, W) float32 of the local drones `rows`."""
        return (1.0 / (1.0 + np.exp(-self.lo[rows]))).astype(np.float32)

    def _refresh(self, drones: np.ndarray, cells: np.ndarray) -> None:
        """Recompute `lo` at the (drone, flat cell) entries from prior, evidence and pins."""
        ev = np.clip(self.prior_lo.reshape(-1)[cells] + self.ev[drones, cells], -_CAP, _CAP)
        pin = self.pin[drones, cells]
        self.lo.reshape(self.k, -1)[drones, cells] = np.where(pin != 0, pin * _PIN, ev)
        self._on_change(drones, cells)

    def _on_change(self, drones: np.ndarray, cells: np.ndarray) -> None:
        """Hook: `lo` changed at these (drone, flat cell) entries (repeats allowed)."""

    def _add_evidence(self, drones: np.ndarray, cells: np.ndarray, delta: np.ndarray) -> None:
        """ev[drone, cell] += delta per entry (repeats add up); with `fused` into every row."""
        if self.fused:
            total = np.bincount(cells, weights=delta, minlength=self.ev.shape[1])
            nz = np.flatnonzero(total)
            self.ev[:, nz] += total[nz].astype(np.float32)
        else:
            np.add.at(self.ev, (drones, cells), delta.astype(np.float32))

    def _set_pins(self, drones: np.ndarray, cells: np.ndarray, truth: np.ndarray, own: bool):
        """Pin cells (+1 target, -1 empty). A drone's own label is the truth it saw and always
        writes; a pin heard from another drone settles only cells still open."""
        cells = np.asarray(cells, np.int64)
        value = np.where(truth, 1, -1).astype(np.int8)
        rows = np.zeros(cells.size, np.int64) if self.fused else np.asarray(drones, np.int64)
        if not own:
            keep = self.pin[rows, cells] == 0
            rows, cells, value = rows[keep], cells[keep], value[keep]
        if self.fused:  # one map: every row alike
            self.pin[:, cells] = value
        else:
            self.pin[rows, cells] = value

    def fuse(self, obs: Observation, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Bayesian update of each drone's own evidence from its own token (busy drones skip),
        and the drone's labels as pins. Returns the (drone (S,), flat cell (S,)) entries of
        `lo` it may have changed."""
        w = self.shape[1]
        k, _, _, flat = footprints(obs.pose, self.info, self.shape)
        cand = obs.cells[:, 0] * w + obs.cells[:, 1]
        look = ~obs.busy
        neg = look[k] & (flat != cand[k])  # within one drone's footprint each cell once
        idx = np.flatnonzero(look)
        lr = np.clip(_logit(p), -self.p["max_lr"], self.p["max_lr"]).astype(np.float32)
        drones = np.concatenate([k[neg], idx])
        cells = np.concatenate([flat[neg], cand[idx]]).astype(np.int64)
        raw = np.concatenate(
            [np.full(int(neg.sum()), np.log(self.p["miss_prob"]), np.float32), lr[idx]]
        )
        open_ = self.pin[drones, cells] == 0  # a settled cell needs no more evidence
        drones, cells, raw = drones[open_], cells[open_], raw[open_]
        cap = np.float32(self.p["max_evidence"])
        old = self.own[drones, cells]
        delta = np.clip(old + raw, -cap, cap) - old
        self.own[drones, cells] = old + delta
        self._out_ev[drones, cells] += delta
        self._add_evidence(drones, cells, delta)
        d, cell, v = self._labelled_cells(obs)
        truth = v > 0.5
        self._out_pin[d, cell] = np.where(truth, 1, -1)
        self._set_pins(d, cell, truth, own=True)
        changed = self._spread(np.concatenate([drones, d]), np.concatenate([cells, cell]))
        self._refresh(*changed)
        return changed

    def _take(self) -> list[Evidence]:
        """Each drone's own evidence and pins since the last call; the outboxes empty."""
        if self.k == 0:
            return []
        ev_rows, cells = np.nonzero(self._out_ev)  # row-major: each row's cells ascending
        pin_rows, pinned = np.nonzero(self._out_pin)
        values, truth = self._out_ev[ev_rows, cells], self._out_pin[pin_rows, pinned] > 0
        ev_cut = np.searchsorted(ev_rows, np.arange(1, self.k))
        pin_cut = np.searchsorted(pin_rows, np.arange(1, self.k))
        out = [
            Evidence(*parts)
            for parts in zip(
                np.split(cells, ev_cut),
                np.split(values, ev_cut),
                np.split(pinned, pin_cut),
                np.split(truth, pin_cut),
                strict=True,
            )
        ]
        self._out_ev[:] = 0.0
        self._out_pin[:] = 0
        return out

    def _fuse_items(self, rows: np.ndarray, items: Sequence[Evidence]) -> None:
        """Pins first (a pinned cell ignores evidence), then evidence: each increment clipped
        to ±2·max_evidence, the most an honest drone's own evidence can move in one go.

        All items at once (`_fuse_all`) where each drone keeps its own map; the one map of
        `fused` takes them one by one (its sums are float64 per item)."""
        if not self.fused:
            self._fuse_all(rows, items)
            return
        bound = 2.0 * self.p["max_evidence"]
        for i, item in zip(rows.tolist(), items, strict=True):
            if item.pinned.size:
                at = np.full(item.pinned.size, i)
                self._set_pins(at, item.pinned, item.truth, own=False)
            if item.cells.size:
                delta = np.clip(item.values, -bound, bound).astype(np.float32)
                self._add_evidence(np.full(item.cells.size, i), item.cells, delta)
            cells = np.concatenate([item.cells, item.pinned]).astype(np.int64)
            self._refresh(*self._spread(np.full(cells.size, i), cells))

    def _fuse_all(self, rows: np.ndarray, items: Sequence[Evidence]) -> None:
        """`_fuse_items` of per-drone maps in a few whole-array steps, exactly as the items
        one by one: a heard pin settles a cell still open before this call, the first such
        pin of a (drone, cell) winning (a later one finds it settled); evidence adds up in
        item order (`np.add.at` is sequential); `lo` is read once from the final sums."""
        bound = np.float32(2.0 * self.p["max_evidence"])
        hw = self.ev.shape[1]

        def flat(field: str, dtype: type) -> tuple[np.ndarray, np.ndarray]:
            parts = [np.asarray(getattr(item, field), dtype) for item in items]
            sizes = np.fromiter((p.size for p in parts), np.int64, len(parts))
            return np.repeat(rows, sizes), np.concatenate(parts) if parts else np.zeros(0, dtype)

        pin_rows, pinned = flat("pinned", np.int64)
        _, truth = flat("truth", bool)
        if pinned.size:
            _, first = np.unique(pin_rows * hw + pinned, return_index=True)
            first.sort()  # item order among distinct (drone, cell)
            self._set_pins(pin_rows[first], pinned[first], truth[first], own=False)
        ev_rows, cells = flat("cells", np.int64)
        _, values = flat("values", np.float32)
        if cells.size:
            np.add.at(self.ev, (ev_rows, cells), np.clip(values, -bound, bound))
        self._refresh(np.concatenate([ev_rows, pin_rows]), np.concatenate([cells, pinned]))

    def flags(self, obs: Observation, p: np.ndarray) -> np.ndarray:
        """Flag when the detector is confident and no inspection has settled the cell."""
        w = self.shape[1]
        cand = obs.cells[:, 0] * w + obs.cells[:, 1]
        settled = self.pin[np.arange(self.k), cand] != 0
        return (p > self.p["flag_p"]) & ~settled & ~obs.busy

    def _act(self, obs: Observation, p: np.ndarray) -> Actions:
        self.fuse(obs, p)
        move = self.moves(obs)
        alt = np.full(self.k, self.p["altitude_m"], dtype=np.float32)
        flags = self.flags(obs, p)
        if self.fused:  # one planner for all: it knows which inspections it has under way
            flags = self._one_inspection_per_cell(obs, flags)
        self._busy, self._now = obs.busy.copy(), obs.tick
        return Actions(move, alt, flags)

    def _pending(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(tick (F,), local drone (F,), flat cell (F,)) of the flags awaiting their label."""
        tick, drone = np.divmod(self._flag_key, max(self.k, 1))
        return tick, drone, self._flag_cell

    def _one_inspection_per_cell(self, obs: Observation, flags: np.ndarray) -> np.ndarray:
        """The centre's inspection claims: no drone flags a cell whose inspection is under way
        (flagged, label not back, its drone still busy with it), and of several drones
        flagging one cell in the same tick only the lowest id does. (K,) bool."""
        w = self.shape[1]
        cand = obs.cells[:, 0].astype(np.int64) * w + obs.cells[:, 1]
        _, drone, cell = self._pending()
        flags = flags & ~np.isin(cand, cell[obs.busy[drone]])
        i = np.flatnonzero(flags)
        _, first = np.unique(cand[i], return_index=True)  # the first of each cell, by drone
        keep = np.zeros_like(flags)
        keep[i[first]] = True
        return keep

    def inspections_under_way(self) -> tuple[np.ndarray, np.ndarray]:
        """Flags awaiting their label whose drone was commanded to inspect in the last tick or
        is still busy inspecting (a flag that started no inspection lapses after a tick)."""
        if self._busy is None:
            return super().inspections_under_way()
        tick, drone, cell = self._pending()
        live = (tick == self._now) | self._busy[drone]
        return drone[live], np.column_stack(np.divmod(cell[live], self.shape[1]))

    def moves(self, obs: Observation) -> np.ndarray:
        raise NotImplementedError


class Lawnmower(SearchPolicy):
    """Boustrophedon sweep: the map is cut into one tile per drone of the team (row bands,
    split into column slices when there are more drones than bands); drone d sweeps tile d's
    lanes one swath apart. The split is planned before launch from the team size and the
    drone's id alone (no runtime coordination), so it is the same on any host."""

    def __init__(self, info: SearchInfo, drone_ids: np.ndarray, rng: np.random.Generator, **params):
        super().__init__(info, drone_ids, rng, **params)
        h, w = self.shape
        swath = 2 * int(footprint_radius(self.p["altitude_m"], info.fov_deg, info.cell_m)) + 1
        n_team = self.team_size
        bands = max(1, min(n_team, h // swath))
        tiles = []
        for b in range(bands):
            r0, r1 = b * h // bands, (b + 1) * h // bands
            n = n_team // bands + (b < n_team % bands)
            tiles += [(r0, r1, j * w // n, (j + 1) * w // n) for j in range(n)]
        paths = [self._path(tiles[d], swath) for d in self.ids.tolist()]
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

    def __init__(self, info: SearchInfo, drone_ids: np.ndarray, rng: np.random.Generator, **params):
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
            # each drone draws from its own stream: the same flight whatever shares its host
            draws = [
                (self.rngs[i].integers(len(dirs)), self.rngs[i].random())
                for i in np.flatnonzero(new).tolist()
            ]
            self.heading[new] = dirs[np.array([d for d, _ in draws], np.int64)]
            u = np.array([v for _, v in draws])
            cap = max(h, w)
            length = self.p["min_len"] * u ** (-1.0 / (self.p["mu"] - 1.0))
            self.left[new] = np.minimum(np.ceil(length), cap).astype(np.int64)
        self.left -= 1
        return self.heading.copy()


class BeliefGreedy(SearchPolicy):
    """Fly to the cell of highest belief, discounted by distance, keeping off the goals its
    peers claimed. Flags when the fused belief of the candidate cell passes `flag_belief`.

    Re-planning is batched over every due drone on a grid of 3x3 blocks: each drone keeps the
    best log-odds of every block (updated only where its map changed), scores blocks by that
    minus log1p(Chebyshev distance to the block / dist_scale), and takes the best block that
    neither holds nor touches a block whose goal a peer claimed in the last round
    (`scenarios.claims`; a drone that heard no claim just takes its best); the goal is the
    block's best cell by the exact per-cell score. Its claim is that goal.
    """

    params: ClassVar[dict[str, float]] = {
        **SearchPolicy.params,
        "flag_belief": 0.5,
        "dist_scale": 8.0,
        "replan_every": 5,
    }

    def __init__(self, info: SearchInfo, drone_ids: np.ndarray, rng: np.random.Generator, **params):
        super().__init__(info, drone_ids, rng, **params)
        self.planned = np.full(self.k, -np.inf)
        h, w = self.shape
        top = np.arange(max(h, w) + 1, dtype=np.float32)
        self._pen_table = np.log1p(top / np.float32(self.p["dist_scale"]))  # by distance
        self.bshape = (-(-h // _BLOCK), -(-w // _BLOCK))  # blocks per axis, rounded up
        self.blocks = np.argwhere(np.ones(self.bshape, dtype=bool))  # (B, 2) block row, col
        off = np.arange(_BLOCK)
        r = self.blocks[:, :1, None] * _BLOCK + off[None, :, None]  # (B, 3, 1)
        c = self.blocks[:, None, 1:] * _BLOCK + off[None, None, :]  # (B, 1, 3)
        cells = np.where((r < h) & (c < w), r * w + c, -1)  # -1: padding past the map edge
        self.block_cells = cells.reshape(len(self.blocks), -1)  # (B, 9) flat cells
        self.set_claim_sites(self.blocks, radius=1, cells_per_site=_BLOCK)  # touching blocks
        prior = np.where(cells >= 0, self.prior_lo.ravel()[np.maximum(cells, 0)], -np.inf)
        # (K, B) best log-odds per block of each drone's map, kept in step with `lo`
        self.block_lo = np.repeat(prior.reshape(1, -1, _BLOCK * _BLOCK).max(2), self.k, 0)

    def _block_max(self, drones: np.ndarray, blocks: np.ndarray) -> np.ndarray:
        """Best log-odds (n,) float32 of block `blocks[j]` in the map of drone `drones[j]`."""
        cells = self.block_cells[blocks]  # (n, 9)
        vals = self.lo.reshape(self.k, -1)[drones[:, None], np.maximum(cells, 0)]
        return np.where(cells >= 0, vals, -np.inf).max(1)

    def _on_change(self, drones: np.ndarray, cells: np.ndarray) -> None:
        """Keep `block_lo` in step with `lo`: each changed (drone, block) recounted once."""
        w, bw = self.shape[1], self.bshape[1]
        block = (cells // w // _BLOCK) * bw + (cells % w) // _BLOCK
        key = np.unique(drones * len(self.blocks) + block)
        kk, bb = np.divmod(key, len(self.blocks))
        self.block_lo[kk, bb] = self._block_max(kk, bb)

    def flags(self, obs: Observation, p: np.ndarray) -> np.ndarray:
        w = self.shape[1]
        cand = obs.cells[:, 0] * w + obs.cells[:, 1]
        post = self.lo.reshape(self.k, -1)[np.arange(self.k), cand]
        settled = self.pin[np.arange(self.k), cand] != 0
        return (post > _logit(np.array(self.p["flag_belief"]))) & ~settled & ~obs.busy

    def moves(self, obs: Observation) -> np.ndarray:
        pos = obs.pose[:, :2].astype(np.int64)
        every = max(int(self.p["replan_every"]), 1)
        due = np.flatnonzero((obs.tick - self.planned >= every) | (pos == self.goal).all(1))
        if due.size:
            score = self.block_lo[due] - self._block_penalty(pos[due])  # (D, B)
            pick = choose_sites(score, self.blocked()[due])
            self.goal[due] = self._cell_in_block(due, pos[due], pick)
            self.has_goal[due] = True
            first = np.isinf(self.planned[due])
            # stagger the first plans (by global id: the same on any host) so that later
            # re-plans spread over `every` ticks
            self.planned[due] = obs.tick - first * (self.ids[due] % every)
        return step_toward(pos, self.goal)

    def _penalty(self, dist: np.ndarray) -> np.ndarray:
        """log1p(Chebyshev distance / dist_scale), float32, looked up per integer distance."""
        return self._pen_table[dist]

    def _block_penalty(self, pos: np.ndarray) -> np.ndarray:
        """Distance penalty (n, B) from pos (n, 2) to the nearest cell of every block; the
        penalty is monotone in distance, so it is the max of the two per-axis penalties."""
        out = []
        for axis, n_blocks in enumerate(self.bshape):
            first = np.arange(n_blocks) * _BLOCK
            last = np.minimum(first + _BLOCK - 1, self.shape[axis] - 1)
            p = pos[:, axis : axis + 1]
            out.append(self._penalty(np.maximum(np.maximum(first - p, p - last), 0)))
        return np.maximum(out[0][:, :, None], out[1][:, None, :]).reshape(len(pos), -1)

    def _cell_in_block(self, drones: np.ndarray, pos: np.ndarray, block: np.ndarray) -> np.ndarray:
        """Best cell (n, 2) of each drone's claimed block (n,), by the exact cell score."""
        w = self.shape[1]
        cells = self.block_cells[block]  # (n, 9), -1 past the map edge
        flat = np.maximum(cells, 0)
        r, c = np.divmod(flat, w)
        dist = np.maximum(np.abs(r - pos[:, :1]), np.abs(c - pos[:, 1:]))
        score = self.lo.reshape(self.k, -1)[drones[:, None], flat] - self._penalty(dist)
        best = flat[np.arange(len(drones)), np.where(cells >= 0, score, -np.inf).argmax(1)]
        return np.column_stack(np.divmod(best, w))

"""drone_search: find a missing person from a photo (docs/scenarios.md).

A seeded terrain, a public prior (people are likelier near roads and trails), hidden targets
and look-alike distractors baked into per-cell appearance. Drones look down, flag candidate
cells, and pay for each flag with an inspection (hover low for a few ticks) that reveals the
truth of that one cell as a label for the flagging drone's brain: the target is a positive
(finding every target ends the mission one tick later, once that label is delivered),
anything else is a false alarm and a hard-negative label. Time is in ticks of `tick_s`
seconds; one move is one cell.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from scenarios.base import Observation, Scenario
from scenarios.concept import Witnesses
from scenarios.config import WorldConfig, altitude_for_radius, common_problems
from scenarios.info import SearchInfo
from scenarios.probes import implanted_looks, two_classes
from scenarios.problems import Problem
from scenarios.sensors import Camera
from scenarios.terrain import (
    Lighting,
    Terrain,
    chebyshev_distance,
    generate_terrain,
    lookalike,
    random_signatures,
    terrain_appearance,
)

__all__ = ["Config", "DroneSearch"]


class Config(WorldConfig):
    """drone_search settings; the shared physical ones come from `WorldConfig`."""

    n_targets: int = Field(1, ge=1, le=64, description="missing people to find")
    n_distractors: int = Field(8, ge=0, le=4096, description="look-alike objects")
    target_strength: float = Field(1.0, gt=0, description="how far a person shifts a cell's look")
    lookalike_cos: float = Field(
        0.7, ge=-1, lt=1, description="cosine of a distractor to the photo"
    )
    prior_decay_cells: float = Field(4.0, gt=0, description="prior falls by e per this many cells")
    concept_lookalikes: int = Field(
        0, ge=0, le=4096, description="look-alikes of one new kind, all in one corner region"
    )
    concept_cos: float = Field(0.85, ge=-1, lt=1, description="cosine of that kind to the photo")
    concept_region: float = Field(
        0.5, gt=0, le=1, description="side of the concept's top-left square, × the map's side"
    )
    inspect_alt_m: float = Field(10.0, ge=0, description="hover altitude for an inspection, m")
    inspect_ticks: int = Field(5, ge=1, description="ticks an inspection takes")
    probe_size: int = Field(512, ge=6, description="tokens in the held-out probe set")


class DroneSearch(Scenario):
    """Search world; see the module docstring and `Scenario` for the contract."""

    name: ClassVar[str] = "drone_search"
    Config: ClassVar[type[Config]] = Config
    default_policy: ClassVar[str] = "belief_greedy"
    scripted_policy: ClassVar[str] = "lawnmower"

    def __init__(self, cfg: Config, n_drones: int, seed: int) -> None:
        super().__init__(cfg, n_drones, seed)
        a, shape = cfg.appearance_dim, self.shape
        terrain = generate_terrain(self.streams["terrain"], shape)
        self.terrain, self.trail = terrain.kind, terrain.trail
        self.prior = self._make_prior(terrain)
        rng = self.streams["terrain"]
        self.base_app = terrain_appearance(rng, self.terrain, a, cfg.texture)
        self.signature = random_signatures(rng, 1, a)[0]
        self.lighting = Lighting(rng, a, shape, cfg.lighting_amp)
        self.camera = Camera(cfg)
        self._place_truth()
        self._make_bodies(self._launch_cells(n_drones), cfg.start_alt_m)
        self.seen = np.zeros(shape, dtype=bool)
        self.busy_left = np.zeros(n_drones, dtype=np.int32)
        self.inspect_cell = np.zeros((n_drones, 2), dtype=np.int32)
        self.inspect_tick = np.zeros(n_drones, dtype=np.int64)
        self.found_tick = np.full(cfg.n_targets, np.nan)
        # evaluation only: drones whose brain received a label of the concept (an inspection
        # of one of its cells); no brain or policy reads it
        self.witnesses = Witnesses(n_drones)
        self.false_alarms = 0
        self.inspections = 0
        self.inspected = np.zeros(shape, dtype=bool)  # cells ever inspected (evaluation)
        self._look = None

    # -- building the world -------------------------------------------------------------
    def _make_prior(self, terrain) -> np.ndarray:
        """P(person in cell) (H, W) float64 summing to 1: decays away from roads and trails."""
        lam = self.cfg.prior_decay_cells
        cap = int(6 * lam) + 1
        d_road = chebyshev_distance(terrain.kind == Terrain.ROAD, cap)
        d_trail = chebyshev_distance(terrain.trail, cap)
        p = np.exp(-d_road / lam) + np.exp(-d_trail / lam) + 0.05
        p[terrain.kind == Terrain.WATER] = 0.0
        p[terrain.kind == Terrain.BUILDING] *= 0.3  # searched by ground teams first
        return p / p.sum()

    def _place_truth(self) -> None:
        """Targets drawn from the prior, distractors uniformly on land; implanted in `app`."""
        cfg, rng, (h, w) = self.cfg, self.streams["truth"], self.shape
        flat = rng.choice(h * w, size=cfg.n_targets, replace=False, p=self.prior.ravel())
        land = np.flatnonzero((self.terrain != Terrain.WATER).ravel())
        land = np.setdiff1d(land, flat)
        k = min(cfg.n_distractors, len(land))
        dflat = rng.choice(land, size=k, replace=False)
        self.target_flat, self.distractor_flat = flat, dflat
        self.app = self.base_app.copy()
        app = self.app.reshape(h * w, -1)
        app[flat] += cfg.target_strength * self.signature
        looks = lookalike(rng, self.signature, cfg.lookalike_cos, k)
        app[dflat] += cfg.target_strength * looks
        self.is_target = np.zeros(h * w, dtype=bool)
        self.is_target[flat] = True
        self._place_concept(rng, np.union1d(flat, dflat))

    def _place_concept(self, rng: np.random.Generator, taken: np.ndarray) -> None:
        """The knowledge-transfer concept: `concept_lookalikes` objects of one new look-alike
        kind (one direction at `concept_cos` to the photo), all on land in the top-left square
        of side `concept_region` × the map. Only drones that fly there meet it first; the
        others can learn of it only through what is shared. Drawn after the other truth, so
        the targets and distractors of a seed do not depend on it."""
        cfg, (h, w) = self.cfg, self.shape
        self.concept_sig = lookalike(rng, self.signature, cfg.concept_cos, 1)[0]
        rows, cols = np.divmod(np.arange(h * w), w)
        corner = (rows < cfg.concept_region * h) & (cols < cfg.concept_region * w)
        ok = corner & (self.terrain != Terrain.WATER).ravel()
        cells = np.setdiff1d(np.flatnonzero(ok), taken)
        k = min(cfg.concept_lookalikes, len(cells))
        self.concept_flat = rng.choice(cells, size=k, replace=False) if k else cells[:0]
        self.app.reshape(h * w, -1)[self.concept_flat] += cfg.target_strength * self.concept_sig
        self.is_concept = np.zeros(h * w, dtype=bool)
        self.is_concept[self.concept_flat] = True

    def _launch_cells(self, n: int) -> np.ndarray:
        """n distinct cells nearest a launch point on a road (ties broken by index)."""
        h, w = self.shape
        roads = np.flatnonzero((self.terrain == Terrain.ROAD).ravel())
        launch = divmod(int(self.streams["terrain"].choice(roads)), w)
        rr, cc = np.divmod(np.arange(h * w), w)
        dist = np.maximum(np.abs(rr - launch[0]), np.abs(cc - launch[1]))
        flat = np.argsort(dist, kind="stable")[:n]
        return np.column_stack([rr[flat], cc[flat]]).astype(np.int32)

    @classmethod
    def check(cls, cfg: Config, n_drones: int) -> list[Problem]:
        out = common_problems(cfg, n_drones)
        if cfg.n_targets > cfg.height * cfg.width // 4:
            msg = f"n_targets ({cfg.n_targets}) is over a quarter of the map's cells"
            out.append(Problem("n_targets", msg))
        if not cfg.min_alt_m <= cfg.inspect_alt_m <= cfg.max_alt_m:
            msg = f"inspect_alt_m ({cfg.inspect_alt_m}) must lie in [min_alt_m, max_alt_m]"
            out.append(Problem("inspect_alt_m", msg))
        if cfg.inspect_ticks >= cfg.horizon:
            msg = "inspect_ticks must be shorter than the horizon"
            out.append(Problem("inspect_ticks", msg, related=("horizon",)))
        return out

    # -- the contract --------------------------------------------------------------------
    def public_info(self) -> SearchInfo:
        """Static facts every brain may know: maps, prior, the photo, flight limits."""
        c = self.cfg
        return SearchInfo(
            height=self.shape[0],
            width=self.shape[1],
            cell_m=c.cell_m,
            tick_s=c.tick_s,
            horizon=c.horizon,
            terrain=self.terrain.copy(),
            trail=self.trail.copy(),
            prior=self.prior.astype(np.float32),
            refs=self.signature[None, :].copy(),
            n_targets=c.n_targets,
            min_alt_m=c.min_alt_m,
            max_alt_m=c.max_alt_m,
            start_alt_m=c.start_alt_m,
            inspect_alt_m=c.inspect_alt_m,
            fov_deg=c.fov_deg,
            nofly=np.zeros(self.shape, dtype=bool),
            zone_min_alt=np.zeros(self.shape, dtype=np.float32),
        )

    def observe(self) -> Observation:
        """Camera tokens for all drones (cached within a tick) plus labels now due."""
        b = self.bodies
        if self._look is None or self._look[0] != self.tick:
            gain = self.lighting.gain(self.tick, b.pos[:, 0], b.pos[:, 1])
            look = self.camera.look(
                self.app, b.pos, b.alt, gain, self.lighting.tint(self.tick),
                self.signature[None, :], self.streams["sensor"],
            )  # fmt: skip
            self.seen.ravel()[look.seen] = True
            self._look = (self.tick, look)
        look = self._look[1]
        ld, lt, lv = self._due_labels()
        return Observation(
            self.tick, look.tokens, look.cand, b.pose(), self.busy_left > 0, ld, lt, lv
        )

    def step(self, actions) -> None:
        """Apply actions: start inspections for flags, move the rest, resolve inspections."""
        if self.done:
            raise RuntimeError("the mission is over (world.done is True): build a new world")
        if self._look is None or self._look[0] != self.tick:
            raise RuntimeError("call world.observe() before world.step() in every tick")
        actions.validate(self.n_drones)
        b, cfg = self.bodies, self.cfg
        free = (self.busy_left == 0) & b.alive
        start = free & actions.flag
        idx = np.flatnonzero(start)
        metres = np.zeros(self.n_drones)
        if idx.size:
            cells = self._look[1].cand[idx]
            metres[idx] = b.jump(idx, cells)
            self.inspect_cell[idx], self.inspect_tick[idx] = cells, self.tick
            self.busy_left[idx] = cfg.inspect_ticks
        moved, _ = b.move(actions.move, free & ~start)
        metres += moved
        target = np.where(self.busy_left > 0, cfg.inspect_alt_m, actions.altitude)
        climbed = b.climb_toward(target, np.float32(cfg.min_alt_m), b.alive)
        b.drain(metres, climbed, b.alive)
        self._finish_inspections()
        self.mark_moved()
        self.tick += 1
        all_found = not np.isnan(self.found_tick).any()
        # The inspection that finds the last target queues its label for the next tick; the
        # mission ends once that label is delivered (a debrief tick), so no label is lost.
        self.done = (all_found and not self._labels) or self.tick >= cfg.horizon
        self.done = self.done or not b.alive.any()

    def _finish_inspections(self) -> None:
        busy = self.busy_left > 0
        self.busy_left[busy] -= 1
        idx = np.flatnonzero(busy & (self.busy_left == 0))
        if not idx.size:
            return
        flat = self.inspect_cell[idx, 0] * self.shape[1] + self.inspect_cell[idx, 1]
        hit = self.is_target[flat]
        self.witnesses.mark(idx, self.is_concept[flat])
        self.inspections += idx.size
        self.inspected.flat[flat] = True
        self.false_alarms += int((~hit).sum())
        for f in flat[hit]:
            k = int(np.flatnonzero(self.target_flat == f)[0])
            if np.isnan(self.found_tick[k]):
                self.found_tick[k] = self.tick + 1
        self.queue_labels(idx, self.inspect_tick[idx], hit.astype(np.float32), self.tick + 1)

    def metrics(self) -> dict[str, float]:
        """Summary so far; time_to_find is censored at the horizon when not everyone is found."""
        found = ~np.isnan(self.found_tick)
        ttf = float(np.nanmax(self.found_tick)) if found.all() else float(self.cfg.horizon)
        return {
            "time_to_find": ttf,
            "found": float(found.mean()),
            "coverage": float(self.seen.mean()),
            "prob_weighted_coverage": float(self.prior[self.seen].sum()),
            "false_alarms": float(self.false_alarms),
            "inspections": float(self.inspections),
            "inspected_cells": float(self.inspected.sum()),
            "concept_witnesses": float(self.witnesses.count),
            "distance": float(self.bodies.distance_m.sum()),
            "energy": float(self.bodies.energy_wh.sum()),
            "ticks": float(self.tick),
        }

    def tick_metrics(self) -> dict[str, float]:
        return {
            "tick": float(self.tick),
            "coverage": float(self.seen.mean()),
            "found": float((~np.isnan(self.found_tick)).mean()),
            "false_alarms": float(self.false_alarms),
            "inspections": float(self.inspections),
            "energy": float(self.bodies.energy_wh.sum()),
        }

    def concept_witnesses(self) -> np.ndarray | None:
        """(N,) bool witnesses of the concept (evaluation only); None without a concept."""
        return self.witnesses.flags.copy() if self.cfg.concept_lookalikes else None

    def candidate_truth(self, cells: np.ndarray) -> np.ndarray:
        """(N,) bool: the candidate cells (N, 2) hold a target. Simulator truth for the run's
        field AUC only (evaluation): the loop scores brains with it and never passes it on."""
        return self.is_target[cells[:, 0] * self.shape[1] + cells[:, 1]].copy()

    def probe_set(self) -> tuple[np.ndarray, np.ndarray]:
        """The *source probe*: held-out tokens (P, input_dim) float32 and labels (P,) float32,
        same every call.

        Each probe is one camera look at a random land cell, at a random altitude (from the
        lowest with a 3x3 footprint to half the ceiling) and time, on the truth-free terrain
        with a fresh target, a fresh look-alike or nothing implanted in the centre (a third
        each); the label is whether the camera's candidate is the implanted target. Most of
        these altitudes are ones no mission flies: `field_probe_set` is the matched one.
        """
        cfg = self.cfg
        # Lowest altitude whose footprint has context (3x3): below it sim is 0 by construction.
        lo_alt = min(altitude_for_radius(1, cfg.fov_deg, cfg.cell_m), cfg.max_alt_m / 2)
        kind = np.arange(cfg.probe_size) % 3  # 0 target, 1 look-alike, 2 nothing
        return self._probe(0x9E0B, kind, lambda rng: rng.uniform(lo_alt, cfg.max_alt_m / 2))

    def field_probe_set(self) -> tuple[np.ndarray, np.ndarray]:
        """The *field probe*: like `probe_set` but drawn where missions look. Altitudes are the
        search altitude (`start_alt_m`, where drones fly and the scripted policies hold) ± 10 %,
        times over the horizon (its lighting); one probe in eight implants a target, one in
        eight a look-alike, the rest nothing (still far more positives than a flight meets, so
        the AUC has support). Evaluation only; same every call."""
        kind = np.full(self.cfg.probe_size, 2)
        kind[::8], kind[1::8] = 0, 1
        return self._probe(0xF1E1D, kind, self._search_altitude)

    def concept_probe_set(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The *concept probe*: the target (label 1 where the camera picks it) against the
        concept's look-alike kind (0), half each, at the field probe's altitudes, anywhere on
        land. A brain's AUC here is how well it tells that kind from the person. Evaluation
        only; same every call; None without a concept."""
        if not self.cfg.concept_lookalikes:
            return None
        kind = np.where(np.arange(self.cfg.probe_size) % 2 == 0, 0, 3)
        return two_classes(self._probe(0xC0C0, kind, self._search_altitude))

    def _search_altitude(self, rng: np.random.Generator) -> float:
        """One probe altitude (m) where missions look: the search altitude `start_alt_m`
        ± 10 %, within the flight limits."""
        cfg, alt = self.cfg, self.cfg.start_alt_m
        return rng.uniform(max(cfg.min_alt_m, 0.9 * alt), min(cfg.max_alt_m, 1.1 * alt))

    def _probe(self, salt: int, kind: np.ndarray, altitude) -> tuple[np.ndarray, np.ndarray]:
        """Probe tokens for `kind` (P,) (0 target, 1 look-alike, 2 nothing, 3 the concept's
        look-alike), altitudes drawn by `altitude(rng)` m, from a generator seeded by (world
        seed, `salt`) (`scenarios.probes.implanted_looks`)."""
        cfg = self.cfg
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, salt]))
        land = np.flatnonzero((self.terrain != Terrain.WATER).ravel())

        def implant(i: int, rng: np.random.Generator) -> np.ndarray | None:
            k = int(kind[i])
            if k == 2:
                return None
            if k == 1:  # each look-alike its own direction
                return cfg.target_strength * lookalike(rng, self.signature, cfg.lookalike_cos, 1)[0]
            return cfg.target_strength * (self.signature if k == 0 else self.concept_sig)

        return implanted_looks(
            self.camera, self.lighting, self.base_app.copy(), self.signature[None, :], land,
            implant, kind == 0, altitude, cfg.horizon, rng,
        )  # fmt: skip


if __name__ == "__main__":
    from scenarios.scripted import main

    main(DroneSearch)

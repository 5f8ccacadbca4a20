"""litter_patrol: keep bins and a river clean (docs/scenarios.md).

Bins overflow at random, litter appears upstream and drifts down the river, and new kinds of
litter (signatures nobody was told about) start to appear mid-mission; one more new kind, the
knowledge-transfer concept (`scenarios.concept`), appears only in one area of the map. Drones
report cells; a ground crew checks each report after a delay (that answer is the late label)
and clears the litter it confirms. Some zones demand at least 10 m of altitude, some are
no-fly; batteries drain in the air and recharge at stations (land on one: altitude 0). Ticks
are `tick_s` seconds; idleness and latency are in ticks.

The concept's area has its own ground crew. It meets the first piece of the new kind on its
round `crew_delay` ticks after that piece appears and (`concept_announce`) posts a photo of it
as a notice of its area, the way drone_search's searchers get a photo of the person: every
drone over the area from then on receives it, and its camera compares against it like a known
kind. No drone passes the photo on, so drones that keep away from the area can learn the kind
only from what the swarm shares.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from scenarios.base import Observation, Scenario
from scenarios.concept import Witnesses
from scenarios.config import WorldConfig, common_problems
from scenarios.info import PatrolInfo
from scenarios.litter_events import LitterEvents
from scenarios.metrics import censored_mean, safe_ratio
from scenarios.probes import implanted_looks, two_classes
from scenarios.problems import Problem
from scenarios.sensors import Camera
from scenarios.terrain import (
    Lighting,
    Terrain,
    generate_terrain,
    random_signatures,
    terrain_appearance,
)

__all__ = ["Config", "LitterPatrol"]


class Config(WorldConfig):
    """litter_patrol settings (small patrol drones: 15 Wh, 2 s ticks, 30 min missions)."""

    tick_s: float = Field(2.0, gt=0, description="seconds per tick")
    horizon: int = Field(900, ge=1, description="ticks in the mission")
    min_alt_m: float = Field(3.0, ge=0, description="lowest flying altitude off a station, m")
    max_alt_m: float = Field(60.0, gt=0, description="ceiling, m")
    start_alt_m: float = Field(20.0, ge=0, description="altitude at mission start, m")
    battery_wh: float = Field(15.0, gt=0, description="battery capacity, Wh")
    hover_w: float = Field(100.0, ge=0, description="power to stay airborne, W")
    charge_w: float = Field(300.0, gt=0, description="charging power at a station, W")
    n_bins: int = Field(12, ge=0, le=10_000, description="litter bins")
    n_stations: int = Field(2, ge=1, le=1000, description="charging stations")
    overflow_per_tick: float = Field(1 / 300, ge=0, le=1, description="P(a bin overflows) per tick")
    river_litter_per_tick: float = Field(
        1 / 60, ge=0, le=1, description="P(new river litter) per tick"
    )
    drift_every: int = Field(3, ge=1, description="ticks per cell of river drift")
    n_kinds_known: int = Field(3, ge=1, le=32, description="litter kinds whose signature is given")
    n_kinds_new: int = Field(2, ge=0, le=32, description="kinds that appear mid-mission")
    new_kinds_from: float = Field(
        0.5, ge=0, le=1, description="fraction of horizon when they start"
    )
    litter_strength: float = Field(1.0, gt=0, description="how far litter shifts a cell's look")
    crew_delay: int = Field(30, ge=1, description="ticks until the ground crew answers a report")
    n_zones: int = Field(2, ge=0, le=100, description="rectangles with a minimum altitude")
    zone_min_alt_m: float = Field(10.0, ge=0, description="minimum altitude inside zones, m")
    n_nofly: int = Field(2, ge=0, le=100, description="no-fly rectangles")
    zone_cells: int = Field(10, ge=1, description="side of zone and no-fly rectangles, cells")
    concept_litter_per_tick: float = Field(
        0.0, ge=0, le=1, description="P(a piece of the concept kind appears) per tick, in its area"
    )
    concept_from: float = Field(
        0.5, ge=0, le=1, description="fraction of horizon when the concept kind starts"
    )
    concept_region: float = Field(
        0.5, gt=0, le=1, description="side of the concept's top-left square, × the map's side"
    )
    concept_announce: bool = Field(
        True,
        description="the ground crew of the concept's area, on meeting the new kind, sends its "
        "photo (a reference sample) to the drones over that area",
    )
    probe_size: int = Field(512, ge=2, description="tokens in the concept probe set")


class LitterPatrol(Scenario):
    """Patrol world; see the module docstring and `Scenario` for the contract."""

    name: ClassVar[str] = "litter_patrol"
    Config: ClassVar[type[Config]] = Config
    default_policy: ClassVar[str] = "idleness_greedy"
    scripted_policy: ClassVar[str] = "cyclic_tour"
    # the concept draws from its own stream: a world without it is the same world
    stream_names: ClassVar[tuple[str, ...]] = (*Scenario.stream_names, "concept")

    def __init__(self, cfg: Config, n_drones: int, seed: int) -> None:
        super().__init__(cfg, n_drones, seed)
        rng, a = self.streams["terrain"], cfg.appearance_dim
        terrain = generate_terrain(rng, self.shape)
        self.terrain, self.river = terrain.kind, terrain.river
        self.app = terrain_appearance(rng, self.terrain, a, cfg.texture)
        self.base_app = self.app.copy()  # without litter: what probes implant into
        self.sigs = random_signatures(rng, cfg.n_kinds_known + cfg.n_kinds_new, a)
        self.lighting = Lighting(rng, a, self.shape, cfg.lighting_amp)
        self.camera = Camera(cfg)
        self._layout(rng)
        self._place_concept()
        kinds = np.vstack([self.sigs, self.concept_sig[None, :]])  # the concept: the last kind
        self.events = LitterEvents(self.app, kinds, cfg.litter_strength)
        self._make_bodies(self._start_cells(n_drones), cfg.start_alt_m)
        self.charging = np.zeros(n_drones, dtype=bool)
        self.poi_flat = np.flatnonzero(self.poi.ravel())
        self.last_visit = np.zeros(len(self.poi_flat), dtype=np.int64)
        self.idle_sum, self.idle_worst = 0.0, 0.0
        self.alt_violations = self.nofly_violations = 0
        self.reports: list[tuple[int, int, int, bool]] = []  # drone, tick, cell, true
        # due tick, drones, cells, truth, about the concept (M,) each
        self._crew: list[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        # evaluation only: drones whose brain received a crew answer about the concept kind
        self.witnesses = Witnesses(n_drones)
        # drones the concept area's crew sent its photo of the new kind (a world event, not
        # evaluation truth: it changes what their cameras match); None until announced
        self.sample_holders = np.zeros(n_drones, dtype=bool)
        self._concept_first: int | None = None  # tick the first concept piece appeared
        self.announced_at: int | None = None
        self._look = None

    def _rects(self, rng: np.random.Generator, n: int, avoid: np.ndarray) -> np.ndarray:
        """n random square zones (H, W) bool of side `zone_cells`, not touching `avoid`."""
        h, w = self.shape
        s = min(self.cfg.zone_cells, h // 4, w // 4)
        out = np.zeros(self.shape, dtype=bool)
        for _ in range(n):
            for _try in range(50):
                r, c = int(rng.integers(h - s)), int(rng.integers(w - s))
                if not avoid[max(r - 1, 0) : r + s + 1, max(c - 1, 0) : c + s + 1].any():
                    out[r : r + s, c : c + s] = True
                    break
        return out

    def _layout(self, rng: np.random.Generator) -> None:
        """Stations, bins (beside roads and buildings), no-fly and min-altitude zones."""
        h, w = self.shape
        kind = self.terrain
        land = np.flatnonzero((kind == Terrain.GRASS).ravel())
        self.station_flat = rng.choice(land, size=self.cfg.n_stations, replace=False)
        built = np.flatnonzero(np.isin(kind, (Terrain.ROAD, Terrain.BUILDING)).ravel())
        built = np.setdiff1d(built, self.station_flat)
        self.bin_flat = rng.choice(built, size=min(self.cfg.n_bins, len(built)), replace=False)
        keep = np.zeros(h * w, dtype=bool)
        keep[self.station_flat] = keep[self.bin_flat] = True
        keep = keep.reshape(self.shape)
        self.nofly = self._rects(rng, self.cfg.n_nofly, keep)
        self.zone = self._rects(rng, self.cfg.n_zones, keep | self.nofly)
        keep[self.river[:, 0], self.river[:, 1]] = True
        self.poi = keep & ~self.nofly
        self.poi.ravel()[self.station_flat] = False
        self.is_station = np.zeros(self.shape, dtype=bool)
        self.is_station.ravel()[self.station_flat] = True

    def _place_concept(self) -> None:
        """The knowledge-transfer concept: a new litter kind (a signature no brain is given,
        not one of the `n_kinds_new`) that, from `concept_from` × horizon on, appears with
        probability `concept_litter_per_tick` per tick on one random patrolled cell (bins and
        river) of the top-left square of side `concept_region` × the map, and stays there until
        the crew clears it. Only the drones patrolling that area meet it first."""
        cfg, w = self.cfg, self.shape[1]
        self.concept_sig = random_signatures(self.streams["concept"], 1, cfg.appearance_dim)[0]
        self.concept_kind = cfg.n_kinds_known + cfg.n_kinds_new
        poi = np.flatnonzero(self.poi.ravel())
        self.concept_cells = poi[self.in_concept_area(np.column_stack(np.divmod(poi, w)))]

    def _start_cells(self, n: int) -> np.ndarray:
        """n distinct free cells nearest the stations, dealt round-robin over stations."""
        h, w = self.shape
        rr, cc = np.divmod(np.arange(h * w), w)
        per = []
        for f in self.station_flat:
            d = np.maximum(np.abs(rr - f // w), np.abs(cc - f % w)).astype(np.float64)
            d[self.nofly.ravel() | self.zone.ravel()] = np.inf
            per.append(np.argsort(d, kind="stable"))
        dealt = np.stack(per, axis=1).ravel()  # j-th nearest of each station, then j+1-th
        _, first = np.unique(dealt, return_index=True)  # a cell goes to its first dealing
        flat = dealt[np.sort(first)[:n]]
        return np.column_stack([flat // w, flat % w]).astype(np.int32)

    @classmethod
    def check(cls, cfg: Config, n_drones: int) -> list[Problem]:
        cells = cfg.height * cfg.width
        blocked = (cfg.n_zones + cfg.n_nofly) * min(cfg.zone_cells, cfg.height // 4) ** 2
        out = common_problems(cfg, n_drones, free_cells=cells - blocked)
        if cfg.zone_min_alt_m > cfg.max_alt_m:
            msg = f"zone_min_alt_m ({cfg.zone_min_alt_m}) is above max_alt_m"
            out.append(Problem("zone_min_alt_m", msg))
        if cfg.n_stations + cfg.n_bins > cells // 4:
            msg = "too many bins and stations for the map: use fewer or a larger map"
            out.append(Problem("n_bins", msg))
        return out

    def public_info(self) -> PatrolInfo:
        """Maps, rules of the air, stations, known litter signatures (not the new kinds)."""
        c, w = self.cfg, self.shape[1]
        copied = ("cell_m", "tick_s", "horizon", "min_alt_m", "max_alt_m", "start_alt_m",
                  "fov_deg", "battery_wh", "hover_w", "move_j_per_m", "charge_w", "crew_delay",
                  "climb_mps", "climb_j_per_m")  # fmt: skip
        return PatrolInfo(
            **{k: getattr(c, k) for k in copied},
            height=self.shape[0],
            width=w,
            terrain=self.terrain.copy(),
            refs=self.sigs[: c.n_kinds_known].copy(),
            nofly=self.nofly.copy(),
            zone_min_alt=(self.zone * c.zone_min_alt_m).astype(np.float32),
            stations=np.column_stack([self.station_flat // w, self.station_flat % w]),
            bins=np.column_stack([self.bin_flat // w, self.bin_flat % w]),
            river=self.river.copy(),
            poi=self.poi.copy(),
        )

    def observe(self) -> Observation:
        """Camera tokens (ref = nearest known signature) and crew answers now due."""
        b = self.bodies
        if self._look is None or self._look[0] != self.tick:
            gain = self.lighting.gain(self.tick, b.pos[:, 0], b.pos[:, 1])
            refs, held = self.sigs[: self.cfg.n_kinds_known], None
            if self.announced_at is not None:  # the crew's photo: one more reference, held
                refs = np.vstack([refs, self.concept_sig[None, :]])  # by its receivers only
                held = np.ones((self.n_drones, len(refs)), dtype=bool)
                held[:, -1] = self.sample_holders
            look = self.camera.look(
                self.app, b.pos, b.alt, gain, self.lighting.tint(self.tick), refs,
                self.streams["sensor"], held,
            )  # fmt: skip
            self.last_visit[np.isin(self.poi_flat, look.seen)] = self.tick
            idle = self.tick - self.last_visit
            self.idle_sum += float(idle.mean()) if idle.size else 0.0
            self.idle_worst = max(self.idle_worst, float(idle.max(initial=0)))
            self._look = (self.tick, look)
        look = self._look[1]
        ld, lt, lv = self._due_labels()
        return Observation(self.tick, look.tokens, look.cand, b.pose(), self.charging, ld, lt, lv)

    def step(self, actions) -> None:
        """Move, climb, charge, take reports, let the world change, answer due reports."""
        if self.done:
            raise RuntimeError("the mission is over (world.done is True): build a new world")
        if self._look is None or self._look[0] != self.tick:
            raise RuntimeError("call world.observe() before world.step() in every tick")
        actions.validate(self.n_drones)
        b, cfg = self.bodies, self.cfg
        free = ~self.charging & b.alive
        metres, refused = b.move(actions.move, free, blocked=self.nofly)
        self.nofly_violations += int(refused.sum())
        on_station = self.is_station[b.pos[:, 0], b.pos[:, 1]]
        floor = np.where(on_station, 0.0, cfg.min_alt_m).astype(np.float32)
        target = np.where(self.charging, 0.0, actions.altitude)
        climbed = b.climb_toward(target, floor, b.alive)
        b.drain(metres, climbed, b.alt > 0)
        self.charging = on_station & (b.alt <= 0) & (b.battery < 0.999)
        b.charge(self.charging, cfg.charge_w)
        zmin = self.zone[b.pos[:, 0], b.pos[:, 1]] * cfg.zone_min_alt_m
        self.alt_violations += int((b.alt < zmin - 1e-4).sum())
        self._take_reports(actions.flag & free & (b.alt > 0))
        self._world_events()
        self._crew_answers()
        self._announce_concept()
        self.mark_moved()
        self.tick += 1
        self.done = self.tick >= cfg.horizon

    def _take_reports(self, flag: np.ndarray) -> None:
        """Judge reports against the litter present now; the crew's answer comes later."""
        idx = np.flatnonzero(flag)
        if not idx.size:
            return
        cand = self._look[1].cand[idx]
        cells = cand[:, 0] * self.shape[1] + cand[:, 1]
        hits = self.events.at_cells(cells)
        truth = np.array([len(h) > 0 for h in hits])
        for d, c, t, h in zip(idx.tolist(), cells.tolist(), truth.tolist(), hits, strict=True):
            self.reports.append((d, self.tick, c, t))
            new = h[np.isnan(self.events.first_hit[h])]
            self.events.first_hit[new] = self.tick
        due = self.tick + self.cfg.crew_delay
        concept = np.array([bool((self.events.kind[h] == self.concept_kind).any()) for h in hits])
        self._crew.append((due, idx, cells, truth, concept))
        self.queue_labels(idx, np.full(idx.size, self.tick), truth.astype(np.float32), due)

    def _crew_answers(self) -> None:
        """The crew clears the litter it confirmed (whatever lies on those cells by now)."""
        for _due, drones, cells, truth, concept in [c for c in self._crew if c[0] <= self.tick + 1]:
            for ids in self.events.at_cells(cells[truth]):
                self.events.clear(ids)
            self.witnesses.mark(drones, concept)  # their answer is delivered next tick
        self._crew = [c for c in self._crew if c[0] > self.tick + 1]

    def _world_events(self) -> None:
        """Bins overflow, river litter appears upstream and drifts, new kinds after a while."""
        cfg, rng, ev = self.cfg, self.streams["events"], self.events
        n_kinds = cfg.n_kinds_known
        if self.tick >= cfg.new_kinds_from * cfg.horizon:
            n_kinds += cfg.n_kinds_new
        full = np.zeros(len(self.bin_flat), dtype=bool)
        full[ev.bin_id[ev.active & (ev.bin_id >= 0)]] = True
        over = np.flatnonzero(~full & (rng.random(len(self.bin_flat)) < cfg.overflow_per_tick))
        ev.spawn(self.bin_flat[over], rng.integers(n_kinds, size=over.size), self.tick, -1, over)
        if self.tick % cfg.drift_every == 0:
            ev.drift(self.river, self.shape[1])
        if rng.random() < cfg.river_litter_per_tick:
            src = self.river[0, 0] * self.shape[1] + self.river[0, 1]
            ev.spawn(np.array([src]), rng.integers(n_kinds, size=1), self.tick, 0, -1)
        crng = self.streams["concept"]
        concept_on = self.tick >= cfg.concept_from * cfg.horizon and self.concept_cells.size
        if concept_on and crng.random() < cfg.concept_litter_per_tick:
            cell = crng.choice(self.concept_cells, size=1)
            ev.spawn(cell, np.array([self.concept_kind]), self.tick, -1, -1)
            if self._concept_first is None:
                self._concept_first = self.tick

    def in_concept_area(self, pos: np.ndarray) -> np.ndarray:
        """(N,) bool: cells pos (N, 2) lie in the concept's top-left square."""
        side = self.cfg.concept_region * np.array(self.shape)
        return (pos[:, 0] < side[0]) & (pos[:, 1] < side[1])

    def _announce_concept(self) -> None:
        """The area's crew meets the first concept piece on its round `crew_delay` ticks
        after it appeared (the time it takes to answer a report) and posts its photo as a
        notice of its area: from then on every drone over the area (flying or on a station
        there) receives it, the way a geofenced airspace notice reaches whoever enters the
        airspace. From its next look a receiver's camera matches the new kind as a known one.
        No drone relays the photo: drones that never fly over the area never get it."""
        first, cfg = self._concept_first, self.cfg
        if not cfg.concept_announce or first is None:
            return
        if self.announced_at is None and self.tick >= first + cfg.crew_delay:
            self.announced_at = self.tick
        if self.announced_at is not None:
            self.sample_holders |= self.bodies.alive & self.in_concept_area(self.bodies.pos)

    def candidate_truth(self, cells: np.ndarray) -> np.ndarray:
        """(N,) bool: litter lies on the candidate cells (N, 2) now. Simulator truth for the
        run's field AUC only (evaluation): the loop scores brains with it, never passes it on."""
        flat = cells[:, 0] * self.shape[1] + cells[:, 1]
        return np.array([len(h) > 0 for h in self.events.at_cells(flat)], dtype=bool)

    def concept_witnesses(self) -> np.ndarray | None:
        """(N,) bool witnesses of the concept kind (evaluation only); None without a concept."""
        return self.witnesses.flags.copy() if self.cfg.concept_litter_per_tick > 0 else None

    def concept_probe_set(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The *concept probe*: the concept kind of litter implanted on a patrolled cell (label
        1 where the camera picks it) against the same cells clean (0), half each, anywhere on
        the patrolled cells (bins, river), at the patrol altitude (`start_alt_m` ± 10 %), times
        over the horizon. A brain's AUC here is how well it sees the kind no one was told of.
        Evaluation only; same every call; None without a concept."""
        cfg = self.cfg
        if cfg.concept_litter_per_tick <= 0:
            return None
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 0xC0C0]))
        sig = cfg.litter_strength * self.concept_sig
        lo = max(cfg.min_alt_m, 0.9 * cfg.start_alt_m)
        hi = min(cfg.max_alt_m, 1.1 * cfg.start_alt_m)
        positive = np.arange(cfg.probe_size) % 2 == 0
        return two_classes(implanted_looks(
            self.camera, self.lighting, self.base_app.copy(), self.sigs[: cfg.n_kinds_known],
            self.poi_flat, lambda i, _rng: sig if positive[i] else None, positive,
            lambda r: r.uniform(lo, hi), cfg.horizon, rng,
        ))  # fmt: skip

    def metrics(self) -> dict[str, float]:
        """Machado et al. patrolling metrics plus report quality, safety and energy."""
        ev, end = self.events, max(self.tick, 1)
        true = sum(r[3] for r in self.reports)
        hit = ~np.isnan(ev.first_hit)
        return {
            "avg_idleness": self.idle_sum / end,
            "worst_idleness": self.idle_worst,
            "detection_latency": censored_mean(ev.first_hit - ev.onset, end - ev.onset),
            "precision": safe_ratio(true, len(self.reports)),
            "recall": safe_ratio(float(hit.sum()), float(len(ev))),
            "reports": float(len(self.reports)),
            "events": float(len(ev)),
            "altitude_violations": float(self.alt_violations),
            "nofly_violations": float(self.nofly_violations),
            "energy": float(self.bodies.energy_wh.sum()),
            "distance": float(self.bodies.distance_m.sum()),
            "depleted": float((~self.bodies.alive).sum()),
            "concept_witnesses": float(self.witnesses.count),
            "concept_sample_holders": float(self.sample_holders.sum()),
        }

    def tick_metrics(self) -> dict[str, float]:
        idle = self.tick - self.last_visit
        return {
            "tick": float(self.tick),
            "idleness": float(idle.mean()) if idle.size else 0.0,
            "active_litter": float(self.events.active.sum()),
            "reports": float(len(self.reports)),
            "charging": float(self.charging.sum()),
            "energy": float(self.bodies.energy_wh.sum()),
        }


if __name__ == "__main__":
    from scenarios.scripted import main

    main(LitterPatrol)

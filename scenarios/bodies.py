"""Drone bodies as arrays: where every drone is, how high, how much battery is left.

All updates are vectorised over the N drones. Units: positions in cells (row, col), altitude
in metres, battery as a fraction of `battery_wh`, energy in Wh, distance in metres.
"""

from __future__ import annotations

import numpy as np

from scenarios.config import WorldConfig

__all__ = ["DroneBodies"]


class DroneBodies:
    """pos (N, 2) int32, alt (N,) float32 m, battery (N,) float32 fraction, plus running
    totals `distance_m` and `energy_wh` (N,) float64."""

    def __init__(
        self, pos: np.ndarray, alt: float, cfg: WorldConfig, shape: tuple[int, int]
    ) -> None:
        n = len(pos)
        self.cfg = cfg
        self.shape = shape
        self.pos = np.asarray(pos, dtype=np.int32).copy()
        self.alt = np.full(n, alt, dtype=np.float32)
        self.battery = np.ones(n, dtype=np.float32)
        self.distance_m = np.zeros(n)
        self.energy_wh = np.zeros(n)

    @property
    def alive(self) -> np.ndarray:
        """(N,) bool: drones with charge left (an empty battery grounds the drone)."""
        return self.battery > 0

    def move(
        self, move: np.ndarray, active: np.ndarray, blocked: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Apply one-cell moves (N, 2) for `active` drones, clamped to the map.

        Moves into `blocked` (H, W) cells are refused: the drone stays. Returns
        (metres flown (N,), refused (N,) bool).
        """
        step = move.astype(np.int32) * active[:, None]
        new = np.clip(self.pos + step, 0, np.array(self.shape, dtype=np.int32) - 1)
        refused = np.zeros(len(new), dtype=bool)
        if blocked is not None:
            refused = blocked[new[:, 0], new[:, 1]] & (new != self.pos).any(axis=1)
            new[refused] = self.pos[refused]
        d = np.abs(new - self.pos)
        metres = np.where(d.sum(1) == 2, np.sqrt(2.0), d.sum(1)) * self.cfg.cell_m
        self.pos = new
        self.distance_m += metres
        return metres, refused

    def jump(self, idx: np.ndarray, cells: np.ndarray) -> np.ndarray:
        """Fly drones `idx` straight to `cells` (K, 2) (e.g. an inspection); metres (K,)."""
        metres = np.linalg.norm((cells - self.pos[idx]).astype(np.float64), axis=1)
        metres *= self.cfg.cell_m
        self.pos[idx] = cells
        self.distance_m[idx] += metres
        return metres

    def climb_toward(self, target: np.ndarray, floor: np.ndarray, active: np.ndarray) -> np.ndarray:
        """Change altitude toward `target` (N,) m within [floor, max_alt_m] at the climb rate.

        Only `active` drones change. Returns metres climbed (N,), positive up.
        """
        goal = np.clip(target, floor, self.cfg.max_alt_m).astype(np.float32)
        rate = self.cfg.climb_mps * self.cfg.tick_s
        delta = np.clip(goal - self.alt, -rate, rate) * active
        self.alt = (self.alt + delta).astype(np.float32)
        return delta

    def drain(self, metres: np.ndarray, climbed: np.ndarray, airborne: np.ndarray) -> None:
        """Spend one tick of energy: hover (if airborne) + per-metre flight + climbing."""
        c = self.cfg
        joules = airborne * c.hover_w * c.tick_s + metres * c.move_j_per_m
        joules = joules + np.maximum(climbed, 0) * c.climb_j_per_m
        wh = joules / 3600.0
        self.energy_wh += wh
        self.battery = np.maximum(self.battery - wh / c.battery_wh, 0).astype(np.float32)

    def charge(self, mask: np.ndarray, watts: float) -> None:
        """Charge drones in `mask` (N,) bool for one tick at `watts`."""
        wh = watts * self.cfg.tick_s / 3600.0
        self.battery = np.minimum(self.battery + mask * (wh / self.cfg.battery_wh), 1.0)
        self.battery = self.battery.astype(np.float32)

    def pose(self) -> np.ndarray:
        """(N, 4) float32: row, col, altitude m, battery fraction."""
        return np.column_stack([self.pos, self.alt, self.battery]).astype(np.float32)

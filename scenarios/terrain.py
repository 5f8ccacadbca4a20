"""Seeded terrain maps, appearance vectors and lighting shared by both worlds.

Everything here is plain numpy over whole maps: `(H, W)` grids of terrain codes and masks,
`(H, W, A)` appearance vectors. Distances are in cells (Chebyshev, since drones move in the
Moore neighbourhood); one cell is `cell_m` metres in the worlds that use these maps.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

__all__ = [
    "Lighting",
    "Terrain",
    "TerrainMap",
    "chebyshev_distance",
    "generate_terrain",
    "lookalike",
    "random_signatures",
    "terrain_appearance",
]


class Terrain(IntEnum):
    """Terrain codes stored in `TerrainMap.kind` (int8)."""

    GRASS = 0
    FOREST = 1
    WATER = 2
    ROAD = 3
    BUILDING = 4


@dataclass(frozen=True)
class TerrainMap:
    """A generated map.

    kind: (H, W) int8 terrain codes; trail: (H, W) bool footpaths (grass-like cells through
    forest); river: (R, 2) int32 river centre line ordered upstream -> downstream.
    """

    kind: np.ndarray
    trail: np.ndarray
    river: np.ndarray


def _box_blur(field: np.ndarray, k: int) -> np.ndarray:
    """Mean over a (2k+1)² window, edges replicated: (H, W) -> (H, W)."""
    pad = np.pad(field, k, mode="edge")
    c = np.cumsum(np.cumsum(pad, axis=0), axis=1)
    c = np.pad(c, ((1, 0), (1, 0)))
    n = 2 * k + 1
    h, w = field.shape
    s = c[n : n + h, n : n + w] - c[:h, n : n + w] - c[n : n + h, :w] + c[:h, :w]
    return s / (n * n)


def _walk(rng: np.random.Generator, shape: tuple[int, int], vertical: bool) -> np.ndarray:
    """A meandering line from one edge to the opposite edge: (L, 2) int32 cells, in order.

    The heading keeps inertia (a smoothed random drift) so lines look like roads and rivers
    rather than Brownian noise.
    """
    h, w = shape
    along, across = (h, w) if vertical else (w, h)
    x = float(rng.uniform(0.2, 0.8) * (across - 1))
    drift = 0.0
    prev: int | None = None
    cells: list[tuple[int, int]] = []
    for t in range(along):
        drift = 0.85 * drift + rng.normal(0.0, 0.35)
        x = float(np.clip(x + drift, 0, across - 1))
        xi = round(x)
        if prev is not None:  # lateral run at the new row keeps the line 4-connected
            step = 1 if xi > prev else -1
            cells.extend((t, xx) for xx in range(prev, xi, step))
        cells.append((t, xi))
        prev = xi
    out = np.array(cells, dtype=np.int32)
    return out if vertical else out[:, ::-1].copy()


def chebyshev_distance(mask: np.ndarray, max_d: int) -> np.ndarray:
    """Cells to the nearest True cell of `mask` (H, W) -> (H, W) float32, capped at max_d."""
    dist = np.full(mask.shape, float(max_d), dtype=np.float32)
    front = mask.copy()
    for d in range(max_d):
        dist[front & (dist > d)] = d
        grown = front.copy()
        grown[1:] |= front[:-1]
        grown[:-1] |= front[1:]
        grown[:, 1:] |= grown[:, :-1]
        grown[:, :-1] |= grown[:, 1:]
        if grown.sum() == front.sum():
            break
        front = grown
    return dist


def generate_terrain(rng: np.random.Generator, shape: tuple[int, int]) -> TerrainMap:
    """Forest patches, one river, two roads, buildings along roads, footpaths through forest."""
    h, w = shape
    kind = np.zeros(shape, dtype=np.int8)
    noise = _box_blur(rng.normal(size=shape), max(1, min(h, w) // 16))
    kind[noise > np.quantile(noise, 0.65)] = Terrain.FOREST
    river = _walk(rng, shape, vertical=True)
    kind[river[:, 0], river[:, 1]] = Terrain.WATER
    kind[river[:, 0], np.minimum(river[:, 1] + 1, w - 1)] = Terrain.WATER
    roads = [_walk(rng, shape, vertical=False), _walk(rng, shape, vertical=True)]
    road = np.zeros(shape, dtype=bool)
    for line in roads:
        road[line[:, 0], line[:, 1]] = True
    kind[road] = Terrain.ROAD  # bridges where roads cross the river
    beside = chebyshev_distance(road, 3) == 2
    lots = np.flatnonzero(beside & (kind != Terrain.WATER))
    n_lots = min(len(lots), max(1, h * w // 200))
    for idx in rng.choice(lots, size=n_lots, replace=False):
        r, c = divmod(int(idx), w)
        block = kind[r : r + 2, c : c + 2]
        block[(block != Terrain.ROAD) & (block != Terrain.WATER)] = Terrain.BUILDING
    trail = np.zeros(shape, dtype=bool)
    for _ in range(2):
        line = _walk(rng, shape, vertical=bool(rng.integers(2)))
        keep = kind[line[:, 0], line[:, 1]] == Terrain.FOREST
        trail[line[keep, 0], line[keep, 1]] = True
    kind[trail] = Terrain.GRASS  # a footpath is a cleared strip
    return TerrainMap(kind=kind, trail=trail, river=river)


def random_signatures(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    """n unit vectors in R^dim: (n, dim) float32."""
    v = rng.normal(size=(n, dim))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def lookalike(rng: np.random.Generator, sig: np.ndarray, cos: float, n: int) -> np.ndarray:
    """n unit vectors at cosine `cos` to the unit vector `sig` (dim,): (n, dim) float32."""
    v = rng.normal(size=(n, sig.shape[0]))
    v -= np.outer(v @ sig, sig)  # orthogonal part
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    out = cos * sig[None, :] + np.sqrt(1.0 - cos**2) * v
    return out.astype(np.float32)


def terrain_appearance(
    rng: np.random.Generator, kind: np.ndarray, dim: int, texture: float
) -> np.ndarray:
    """Per-cell appearance (H, W, dim) float32: a colour per terrain type plus cell texture."""
    base = rng.normal(0.0, 0.6, size=(len(Terrain), dim)) + 1.0
    tex = rng.normal(0.0, texture, size=(*kind.shape, dim))
    return (base[kind] + tex).astype(np.float32)


class Lighting:
    """Slowly drifting light: a scalar gain over time and space and a colour tint over time.

    gain(t, r, c) = 1 + a_t sin(2π t/T_t + φ) + a_s sin(2π (k·(r, c))/L + 2π t/T_s + ψ)
    tint(t)       = a_c sin(2π t/T_c + φ_a) per appearance dimension.
    Periods are in ticks (hundreds), wavelengths in cells (about a map width).
    """

    def __init__(self, rng: np.random.Generator, dim: int, shape: tuple[int, int], amp: float):
        self.amp = amp
        self.phase = rng.uniform(0, 2 * np.pi, size=2)
        self.k = rng.normal(size=2) / max(shape)
        self.tint_phase = rng.uniform(0, 2 * np.pi, size=dim)
        self.periods = (600.0, 400.0, 500.0)

    def gain(self, tick: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Gain at cells (N,) -> (N,) float32, around 1."""
        t_part = self.amp * np.sin(2 * np.pi * tick / self.periods[0] + self.phase[0])
        s_arg = 2 * np.pi * (self.k[0] * rows + self.k[1] * cols + tick / self.periods[1])
        s_part = 0.6 * self.amp * np.sin(s_arg + self.phase[1])
        return (1.0 + t_part + s_part).astype(np.float32)

    def tint(self, tick: int) -> np.ndarray:
        """Colour tint (dim,) float32 multiplying appearance as (1 + tint)."""
        arg = 2 * np.pi * tick / self.periods[2] + self.tint_phase
        return (0.3 * self.amp * np.sin(arg)).astype(np.float32)

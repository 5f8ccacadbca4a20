"""Settings shared by every world: grid, time, camera, flight and battery.

Each scenario's `Config` subclasses `WorldConfig` and adds its own fields; unknown keys are
rejected (`extra="forbid"`) so a typo in YAML fails loudly instead of being ignored.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from scenarios.problems import Problem

__all__ = ["WorldConfig", "altitude_for_radius", "common_problems", "footprint_radius"]


class WorldConfig(BaseModel):
    """Physical defaults: 10 m cells, small multirotor drones, a 60° nadir camera."""

    model_config = ConfigDict(extra="forbid")

    height: int = Field(64, ge=4, le=4096, description="map rows (cells)")
    width: int = Field(64, ge=4, le=4096, description="map columns (cells)")
    cell_m: float = Field(10.0, ge=0.1, le=10_000, description="cell side in metres")
    tick_s: float = Field(1.0, gt=0, description="seconds per tick (a move is one cell)")
    horizon: int = Field(400, ge=1, description="ticks before the mission is cut off")
    appearance_dim: int = Field(8, ge=2, le=64, description="appearance vector size A")
    texture: float = Field(0.15, ge=0, description="per-cell appearance spread within a terrain")
    lighting_amp: float = Field(0.15, ge=0, lt=0.6, description="lighting gain drift amplitude")
    fov_deg: float = Field(60.0, gt=0, lt=170, description="camera field of view, degrees")
    noise_base: float = Field(0.02, ge=0, description="camera noise std at 0 m")
    noise_per_m: float = Field(0.004, ge=0, description="camera noise std added per metre")
    min_alt_m: float = Field(5.0, ge=0, description="lowest flying altitude, metres")
    max_alt_m: float = Field(120.0, gt=0, description="highest altitude (legal ceiling), metres")
    start_alt_m: float = Field(30.0, ge=0, description="altitude at mission start, metres")
    climb_mps: float = Field(4.0, gt=0, description="max climb / descent rate, m/s")
    battery_wh: float = Field(60.0, gt=0, description="battery capacity, Wh")
    hover_w: float = Field(120.0, ge=0, description="power to stay airborne, W")
    move_j_per_m: float = Field(5.0, ge=0, description="extra energy per metre flown, J")
    climb_j_per_m: float = Field(30.0, ge=0, description="extra energy per metre climbed, J")


def footprint_radius(alt: np.ndarray | float, fov_deg: float, cell_m: float) -> np.ndarray:
    """Half-width in cells of the square camera footprint at altitude `alt` m (any shape):
    floor(alt · tan(fov/2) / cell_m), int32. The one formula the camera, the policies and the
    config checks share."""
    half = np.asarray(alt, dtype=np.float64) * np.tan(np.radians(fov_deg) / 2)
    return np.floor(half / cell_m).astype(np.int32)


def altitude_for_radius(radius: float, fov_deg: float, cell_m: float) -> float:
    """The altitude (m) at which the footprint's half-width reaches `radius` cells:
    radius · cell_m / tan(fov/2), the inverse of `footprint_radius` before its floor."""
    return float(radius * cell_m / np.tan(np.radians(fov_deg) / 2))


def common_problems(
    cfg: WorldConfig, n_drones: int, free_cells: int | None = None
) -> list[Problem]:
    """Cross-field checks every world shares (messages say what to change)."""
    out: list[Problem] = []
    if n_drones < 1:
        out.append(Problem("n_drones", f"n_drones must be at least 1, got {n_drones}"))
    cells = free_cells if free_cells is not None else cfg.height * cfg.width
    if n_drones > cells:
        msg = f"{n_drones} drones do not fit on {cells} free cells: use fewer drones"
        out.append(Problem("n_drones", msg))
    if cfg.min_alt_m > cfg.max_alt_m:
        msg = f"min_alt_m ({cfg.min_alt_m}) is above max_alt_m ({cfg.max_alt_m})"
        out.append(Problem("min_alt_m", msg))
    if not cfg.min_alt_m <= cfg.start_alt_m <= cfg.max_alt_m:
        msg = f"start_alt_m ({cfg.start_alt_m}) must lie in [min_alt_m, max_alt_m]"
        out.append(Problem("start_alt_m", msg))
    r = int(footprint_radius(cfg.max_alt_m, cfg.fov_deg, cfg.cell_m))
    if 2 * r + 1 > min(cfg.height, cfg.width):
        out.append(
            Problem(
                "max_alt_m",
                f"camera footprint at max_alt_m ({2 * r + 1} cells wide) is larger than the map "
                f"({cfg.height}x{cfg.width}): lower max_alt_m or fov_deg, or enlarge the map",
            )
        )
    return out

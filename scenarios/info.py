"""What a world tells brains and policies: its kind and its public, static facts.

`Scenario.public_info()` returns one of these frozen dataclasses, made once per mission and
shipped to every host. They hold maps, rules of the air and flight limits a real operator
would know before take-off, never hidden truth (targets, litter, new kinds). A policy names the
info type it reads (`Policy.info_type`), and the world's `kind` decides which policies fit.
Maps are numpy arrays over the (H, W) grid of cells; lengths are metres, times are ticks of
`tick_s` seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

import numpy as np

__all__ = ["PatrolInfo", "SearchInfo", "WorldInfo", "WorldKind"]


class WorldKind(StrEnum):
    """The kind of mission, which decides which scripted policies can fly it."""

    SEARCH = "search"
    PATROL = "patrol"


@dataclass(frozen=True, kw_only=True, eq=False)  # eq on arrays is ambiguous: none
class WorldInfo:
    """Facts every world shares.

    height, width: map size in cells; cell_m: cell side (m); tick_s: seconds per tick;
    horizon: ticks before the mission is cut off; min/max/start_alt_m: flight altitudes (m);
    fov_deg: the camera's field of view; terrain (H, W) int terrain kind per cell; refs (R, A)
    float32 reference signatures the camera compares against; nofly (H, W) bool cells no drone
    may enter; zone_min_alt (H, W) float32 lowest legal altitude per cell (m, 0 = none).
    """

    kind: ClassVar[WorldKind]

    height: int
    width: int
    cell_m: float
    tick_s: float
    horizon: int
    min_alt_m: float
    max_alt_m: float
    start_alt_m: float
    fov_deg: float
    terrain: np.ndarray
    refs: np.ndarray
    nofly: np.ndarray
    zone_min_alt: np.ndarray

    def __post_init__(self) -> None:
        for name in self._maps():
            got = np.shape(getattr(self, name))
            if got != self.shape:
                raise ValueError(
                    f"{type(self).__name__}.{name} must be an (H, W) = {self.shape} map, got "
                    f"shape {got}; build it over the world's grid"
                )

    def _maps(self) -> tuple[str, ...]:
        """Names of the (H, W) map fields, checked against the grid."""
        return ("terrain", "nofly", "zone_min_alt")

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) cells."""
        return (int(self.height), int(self.width))


@dataclass(frozen=True, kw_only=True, eq=False)
class SearchInfo(WorldInfo):
    """drone_search: trail (H, W) bool trail cells; prior (H, W) float32 P(a person in cell)
    per person, summing to about 1; n_targets people to find; inspect_alt_m the hover
    altitude of an inspection (m)."""

    kind: ClassVar[WorldKind] = WorldKind.SEARCH

    trail: np.ndarray
    prior: np.ndarray
    n_targets: int
    inspect_alt_m: float

    def _maps(self) -> tuple[str, ...]:
        return (*super()._maps(), "trail", "prior")


@dataclass(frozen=True, kw_only=True, eq=False)
class PatrolInfo(WorldInfo):
    """litter_patrol: energy model (battery_wh Wh, hover_w W, move_j_per_m and climb_j_per_m J
    per metre, climb_mps m/s, charge_w W at a station), crew_delay ticks before a report is
    answered; stations (S, 2), bins (B, 2) and river (R, 2) int cells (row, col); poi (H, W)
    bool points of interest a patrol should keep visiting."""

    kind: ClassVar[WorldKind] = WorldKind.PATROL

    battery_wh: float
    hover_w: float
    move_j_per_m: float
    charge_w: float
    crew_delay: int
    climb_mps: float
    climb_j_per_m: float
    stations: np.ndarray
    bins: np.ndarray
    river: np.ndarray
    poi: np.ndarray

    def _maps(self) -> tuple[str, ...]:
        return (*super()._maps(), "poi")

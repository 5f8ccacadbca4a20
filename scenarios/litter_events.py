"""Litter events of litter_patrol: where litter is, since when, and how it changes the map.

An event is one piece of litter (an overflowing bin, or litter floating down the river). It
adds `strength * signature[kind]` to the appearance of the cell it lies on, so cameras see it
and nothing else ever reads it. Arrays grow as events appear; index = event id.
"""

from __future__ import annotations

import numpy as np

__all__ = ["LitterEvents"]


class LitterEvents:
    """cell (E,) flat index, kind (E,), onset (E,) tick, active (E,) bool, river_at (E,) index
    along the river (-1 for bins), bin_id (E,) (-1 for river litter), first_hit (E,) tick of the
    first correct report (NaN if none yet)."""

    def __init__(self, app: np.ndarray, sigs: np.ndarray, strength: float) -> None:
        self.app = app.reshape(-1, app.shape[-1])  # (H*W, A) view: updates show in the map
        self.sigs = sigs
        self.strength = strength
        self.cell = np.zeros(0, np.int64)
        self.kind = np.zeros(0, np.int64)
        self.onset = np.zeros(0, np.int64)
        self.active = np.zeros(0, bool)
        self.river_at = np.zeros(0, np.int64)
        self.bin_id = np.zeros(0, np.int64)
        self.first_hit = np.zeros(0)

    def __len__(self) -> int:
        return len(self.cell)

    def spawn(self, cells: np.ndarray, kinds: np.ndarray, tick: int, river_at, bin_id) -> None:
        """Add events at flat `cells` (n,) of `kinds` (n,), starting now."""
        n = len(cells)
        if not n:
            return
        self.cell = np.concatenate([self.cell, cells])
        self.kind = np.concatenate([self.kind, kinds])
        self.onset = np.concatenate([self.onset, np.full(n, tick)])
        self.active = np.concatenate([self.active, np.ones(n, bool)])
        self.river_at = np.concatenate([self.river_at, np.broadcast_to(river_at, (n,))])
        self.bin_id = np.concatenate([self.bin_id, np.broadcast_to(bin_id, (n,))])
        self.first_hit = np.concatenate([self.first_hit, np.full(n, np.nan)])
        np.add.at(self.app, cells, self.strength * self.sigs[kinds])

    def clear(self, ids: np.ndarray) -> None:
        """Remove active events `ids` from the map (picked up, or drifted off the map)."""
        ids = ids[self.active[ids]]
        np.subtract.at(self.app, self.cell[ids], self.strength * self.sigs[self.kind[ids]])
        self.active[ids] = False

    def drift(self, river: np.ndarray, width: int) -> None:
        """Move active river litter one cell downstream; litter leaving the river is lost."""
        ids = np.flatnonzero(self.active & (self.river_at >= 0))
        if not ids.size:
            return
        off = self.river_at[ids] + 1 >= len(river)
        self.clear(ids[off])
        ids = ids[~off]
        sig = self.strength * self.sigs[self.kind[ids]]
        np.subtract.at(self.app, self.cell[ids], sig)
        self.river_at[ids] += 1
        nxt = river[self.river_at[ids]]
        self.cell[ids] = nxt[:, 0] * width + nxt[:, 1]
        np.add.at(self.app, self.cell[ids], sig)

    def at_cells(self, cells: np.ndarray) -> list[np.ndarray]:
        """Active event ids lying on each flat cell of `cells` (n,)."""
        act = np.flatnonzero(self.active)
        return [act[self.cell[act] == c] for c in cells.tolist()]

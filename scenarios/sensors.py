"""The downward camera: footprint, noisy observation, candidate cell and detection token.

The camera never reads truth: it sees the appearance map (truth is baked into appearance the
way a person is part of a photo) through lighting and altitude noise, and picks as candidate
the footprint cell whose background-subtracted observation is most similar to a reference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scenarios.base import build_tokens
from scenarios.config import WorldConfig, footprint_radius

__all__ = ["Camera", "Look"]


@dataclass
class Look:
    """One look by N drones. tokens (N, 3A+2); cand (N, 2) int32 candidate cells; ref_idx (N,)
    which reference matched; seen (S,) int64 flat indices of all footprint cells (repeats)."""

    tokens: np.ndarray
    cand: np.ndarray
    ref_idx: np.ndarray
    seen: np.ndarray


class Camera:
    """A nadir camera model; one instance per world (holds the config only)."""

    def __init__(self, cfg: WorldConfig) -> None:
        self.cfg = cfg

    def sigma(self, alt: np.ndarray) -> np.ndarray:
        """Per-drone noise std (N,) growing linearly with altitude."""
        return (self.cfg.noise_base + self.cfg.noise_per_m * alt).astype(np.float32)

    def look(
        self,
        app: np.ndarray,
        pos: np.ndarray,
        alt: np.ndarray,
        gain: np.ndarray,
        tint: np.ndarray,
        refs: np.ndarray,
        rng: np.random.Generator,
        held: np.ndarray | None = None,
    ) -> Look:
        """Observe footprints of all drones at once.

        app (H, W, A) appearance map; pos (N, 2) cells; alt (N,) m; gain (N,) lighting;
        tint (A,); refs (K, A) reference signatures; held (N, K) bool, optional: which
        references each drone holds (None: every drone holds all), the others are never
        matched. Footprints are padded to the widest one, (N, F, .) with F = (2R+1)², and
        masked, so the work is a few array ops whatever N.
        """
        h, w, a = app.shape
        n = len(pos)
        r = footprint_radius(alt, self.cfg.fov_deg, self.cfg.cell_m)
        big = int(r.max(initial=0))
        off = np.arange(-big, big + 1)
        dr, dc = (g.ravel() for g in np.meshgrid(off, off, indexing="ij"))  # (F,)
        rows = pos[:, :1] + dr[None, :]  # (N, F)
        cols = pos[:, 1:] + dc[None, :]
        valid = (np.maximum(np.abs(dr), np.abs(dc))[None, :] <= r[:, None]) & (
            (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
        )
        rows, cols = np.clip(rows, 0, h - 1), np.clip(cols, 0, w - 1)
        scale = gain[:, None, None] * (1.0 + tint)[None, None, :]  # (N, 1, A)
        noise = rng.standard_normal((n, dr.size, a), dtype=np.float32)
        obs = app[rows, cols] * scale + noise * self.sigma(alt)[:, None, None]  # (N, F, A)
        cnt = valid.sum(1, keepdims=True).astype(np.float32)  # (N, 1)
        ctx = (obs * valid[:, :, None]).sum(1) / cnt  # (N, A)
        diff = obs - ctx[:, None, :]
        unit = refs / np.linalg.norm(refs, axis=1, keepdims=True)
        cos = (diff @ unit.T) / np.maximum(np.linalg.norm(diff, axis=2, keepdims=True), 1e-9)
        if held is not None:  # a reference a drone was never given cannot be matched
            cos = np.where(held[:, None, :], cos, -np.inf)
        best_ref = cos.argmax(2)  # (N, F)
        score = np.where(valid, np.take_along_axis(cos, best_ref[..., None], 2)[..., 0], -np.inf)
        f = score.argmax(1)  # (N,)
        ni = np.arange(n)
        ref_idx = best_ref[ni, f]
        alt_frac = np.clip(alt / self.cfg.max_alt_m, 0.0, 1.0)
        tokens = build_tokens(obs[ni, f], ctx, refs[ref_idx], alt_frac)
        cand = np.column_stack([rows[ni, f], cols[ni, f]]).astype(np.int32)
        seen = (rows * w + cols)[valid].astype(np.int64)
        return Look(tokens=tokens, cand=cand, ref_idx=ref_idx, seen=seen)

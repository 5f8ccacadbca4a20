"""Probe sets: camera looks at cells with one object implanted, labelled by whether the camera
picks it (evaluation only; the worlds' `probe_set`, `field_probe_set`, `concept_probe_set`).

`implanted_looks` is the one recipe every world's probes share: for each probe, a random cell
of `cells`, an altitude and a time, the object's signature added to that cell of a clean copy
of the map (or nothing), one camera look, label 1 when the object is a positive of the probe
and the camera's candidate is that cell. Labels come from truth: no brain ever learns from them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from scenarios.sensors import Camera
from scenarios.terrain import Lighting

__all__ = ["implanted_looks", "two_classes"]


def implanted_looks(
    camera: Camera,
    lighting: Lighting,
    app: np.ndarray,
    refs: np.ndarray,
    cells: np.ndarray,
    implant: Callable[[int, np.random.Generator], np.ndarray | None],
    positive: np.ndarray,
    altitude: Callable[[np.random.Generator], float],
    horizon: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Probe tokens (P, input_dim) float32 and labels (P,) float32.

    app (H, W, A) the map without truth (not modified: the implant is undone); refs (K, A) the
    drones' references; cells (C,) flat cells to draw from; `implant(i, rng)` the appearance
    (A,) added for probe i (already × strength; None: nothing), drawn after its cell, altitude
    and time; positive (P,) bool whether probe i's object is what the detector looks for;
    `altitude(rng)` metres; times uniform over `horizon` ticks."""
    h, w = app.shape[:2]
    flat_app = app.reshape(h * w, -1)
    tokens, labels = [], []
    for i, pos_kind in enumerate(positive):
        f = int(rng.choice(cells))
        pos = np.array([divmod(f, w)], dtype=np.int32)
        alt = np.array([altitude(rng)], dtype=np.float32)
        t = int(rng.integers(horizon))
        sig = implant(i, rng)
        saved = flat_app[f].copy()
        if sig is not None:
            flat_app[f] += sig
        gain = lighting.gain(t, pos[:, 0], pos[:, 1])
        look = camera.look(app, pos, alt, gain, lighting.tint(t), refs, rng)
        flat_app[f] = saved
        tokens.append(look.tokens[0])
        labels.append(float(pos_kind and look.cand[0, 0] * w + look.cand[0, 1] == f))
    return np.stack(tokens), np.array(labels, dtype=np.float32)


def two_classes(
    probe: tuple[np.ndarray, np.ndarray],
) -> tuple[np.ndarray, np.ndarray] | None:
    """`probe` (tokens (P, D), labels (P,)) when its labels hold both classes, else None: an
    AUC is undefined on one class (a small map may leave the camera no concept cell to pick)."""
    return probe if np.unique(probe[1]).size == 2 else None

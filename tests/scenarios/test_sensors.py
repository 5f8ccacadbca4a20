"""The camera: a drone matches only the references it holds."""

import numpy as np

from scenarios.config import WorldConfig
from scenarios.sensors import Camera


def test_a_reference_a_drone_does_not_hold_is_never_matched() -> None:
    """Two drones over the same cell, which holds an object of kind 1: the one holding both
    references picks that cell and kind 1; the one holding only kind 0 does not see kind 1.
    Holding every reference is the same as passing no `held` at all."""
    rng = np.random.default_rng(0)
    a = 8
    refs = rng.standard_normal((2, a)).astype(np.float32)
    app = 0.01 * rng.standard_normal((9, 9, a)).astype(np.float32)
    app[4, 5] += 3.0 * refs[1]
    cam = Camera(WorldConfig(height=9, width=9))
    pos = np.array([[4, 4], [4, 4]], np.int32)
    alt = np.full(2, 30.0, np.float32)  # a footprint of several cells around (4, 4)
    gain, tint = np.ones(2, np.float32), np.zeros(a, np.float32)
    held = np.array([[True, True], [True, False]])
    look = cam.look(app, pos, alt, gain, tint, refs, np.random.default_rng(1), held)
    assert look.cand[0].tolist() == [4, 5] and look.ref_idx.tolist() == [1, 0]
    np.testing.assert_array_equal(look.tokens[1, 2 * a : 3 * a], refs[0])
    every = cam.look(
        app, pos, alt, gain, tint, refs, np.random.default_rng(1), np.ones((2, 2), bool)
    )
    none = cam.look(app, pos, alt, gain, tint, refs, np.random.default_rng(1))
    np.testing.assert_array_equal(every.tokens, none.tokens)
    np.testing.assert_array_equal(every.cand, none.cand)

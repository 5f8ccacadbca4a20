"""Shared world settings: the one camera-footprint formula and the common checks."""

import numpy as np
import pytest

from scenarios.config import WorldConfig, altitude_for_radius, common_problems, footprint_radius
from scenarios.drone_search import DroneSearch
from scenarios.policy_base import footprints


def test_footprint_radius_is_floor_of_half_width():
    # 60° field of view, 10 m cells: half-width alt * tan(30°) = 0.577 alt metres
    r = footprint_radius(np.array([0.0, 17.3, 17.4, 30.0, 120.0]), 60.0, 10.0)
    np.testing.assert_array_equal(r, [0, 0, 1, 1, 6])
    assert r.dtype == np.int32


def test_camera_and_policies_see_the_same_cells(search_cfg):
    """The world's camera and a policy's footprint model cover exactly the same cells."""
    w = DroneSearch(search_cfg, 5, seed=2)
    w.bodies.pos[:] = [[0, 0], [5, 31], [16, 16], [31, 3], [20, 9]]
    w.bodies.alt[:] = [5.0, 18.0, 40.0, 75.0, 120.0]
    w.mark_moved()
    w.observe()
    seen_by_camera = np.flatnonzero(w.seen)
    _, _, _, flat = footprints(w.bodies.pose(), w.public_info(), w.shape)
    np.testing.assert_array_equal(np.unique(flat), seen_by_camera)


def test_footprint_wider_than_the_map_is_a_problem():
    cfg = WorldConfig(height=8, width=8)
    problems = common_problems(cfg, 2)
    assert any(p.field == "max_alt_m" and "camera footprint" in p.message for p in problems)
    assert common_problems(cfg.model_copy(update={"max_alt_m": 20.0, "start_alt_m": 10.0}), 2) == []


@pytest.mark.parametrize("n", [0, 65])
def test_drone_count_problems(n):
    problems = common_problems(WorldConfig(height=8, width=8, max_alt_m=20.0, start_alt_m=10.0), n)
    assert len(problems) == 1 and problems[0].field == "n_drones"


def test_altitude_for_radius_inverts_the_footprint():
    for radius in (1, 2, 5):
        alt = altitude_for_radius(radius, 60.0, 10.0)
        assert footprint_radius(alt * 1.001, 60.0, 10.0) == radius
        assert footprint_radius(alt * 0.999, 60.0, 10.0) == radius - 1

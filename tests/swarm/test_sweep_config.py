"""A study's `sweep:` section: grid x named points, and its errors."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from swarm.sweep_config import SweepSpec


def test_grid_is_a_cartesian_product_in_file_order():
    spec = SweepSpec.model_validate({"grid": {"drones": [4, 8], "protocol.sync_every": [5, 10]}})
    points = spec.expand()
    assert [p.overrides for p in points] == [
        {"drones": 4, "protocol.sync_every": 5},
        {"drones": 4, "protocol.sync_every": 10},
        {"drones": 8, "protocol.sync_every": 5},
        {"drones": 8, "protocol.sync_every": 10},
    ]
    assert points[0].name == "drones=4,protocol.sync_every=5"
    assert spec.axes() == ["drones", "protocol.sync_every"]


def test_named_points_cross_the_grid():
    spec = SweepSpec.model_validate(
        {
            "grid": {"drones": [4, 8]},
            "points": [{"name": "a", "set": {"ticks": 5}}, {"name": "b", "set": {"ticks": 9}}],
        }
    )
    points = spec.expand()
    assert [p.name for p in points] == ["a,drones=4", "a,drones=8", "b,drones=4", "b,drones=8"]
    assert points[3].overrides == {"ticks": 9, "drones": 8}
    assert spec.axes() == ["drones", "ticks"]


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ({"grid": {"drones": []}}, "at least one value"),
        ({"grid": {"bad path": [1]}}, "not a field path"),
        ({"points": [{"name": "a"}, {"name": "a"}]}, "repeated: a"),
        ({"grids": {}}, "Extra inputs"),
        ({"grid": {"sweep.grid": [1]}}, "its own `sweep` section"),
    ],
)
def test_bad_sections_are_refused(section, expected):
    with pytest.raises(ValidationError, match=expected):
        SweepSpec.model_validate(section)

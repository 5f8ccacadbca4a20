"""Search policies' belief fusion: many heard increments at once, as one by one."""

import copy

import numpy as np
import pytest

from scenarios.drone_search import DroneSearch
from scenarios.policies import make_policy
from scenarios.policy_base import Evidence


@pytest.mark.parametrize("name", ["belief_greedy", "lawnmower"])
def test_fusing_many_items_at_once_equals_fusing_them_one_by_one(search_cfg, name):
    """Same ev, pins, log-odds and block maxima, bit for bit, with repeated (drone, cell)
    entries and conflicting pins (the first heard wins, a settled cell stays settled)."""
    w = DroneSearch(search_cfg, 3, seed=0)
    pol = make_policy(name, w.public_info(), np.arange(3), np.random.default_rng(0))
    rng = np.random.default_rng(1)
    items = []
    for _ in range(3):
        obs = w.observe()
        w.step(pol.act(obs, rng.random(3).astype(np.float32)))
        items += pol.take_evidence()
    hw = pol.ev.shape[1]
    cells = np.sort(rng.choice(hw, 40, replace=False))
    pins = cells[:6]
    pol.pin[1, pins[0]] = 1  # settled before: no heard pin changes it
    for truth in (True, False):  # the same cells pinned both ways: the first pin wins
        values = rng.normal(0, 9, cells.size).astype(np.float32)  # some over the clip bound
        items.append(Evidence(cells, values, pins, np.full(pins.size, truth)))
    rows = rng.integers(0, 3, len(items))
    rows[-2] = rows[-1] = 2  # both pin items to one drone
    together, apart = copy.deepcopy(pol), copy.deepcopy(pol)
    together.fuse_evidence(rows, items)
    for r, item in zip(rows, items, strict=True):
        apart.fuse_evidence(np.array([r]), [item])
    for field in ("ev", "pin", "lo") + (("block_lo",) if name == "belief_greedy" else ()):
        np.testing.assert_array_equal(getattr(together, field), getattr(apart, field), field)
    np.testing.assert_array_equal(together.belief, apart.belief)
    assert (together.pin[2, pins] == 1).all() and together.pin[1, pins[0]] == 1


def test_taken_evidence_is_each_drones_outbox_once(search_cfg):
    w = DroneSearch(search_cfg, 3, seed=0)
    pol = make_policy("belief_greedy", w.public_info(), np.arange(3), np.random.default_rng(0))
    for _ in range(2):
        w.step(pol.act(w.observe(), np.full(3, 0.7, np.float32)))
    pol._out_pin[1, [5, 9]] = [1, -1]  # drone 1 also inspected two cells
    ev, pin = pol._out_ev.copy(), pol._out_pin.copy()
    items = pol.take_evidence()
    assert len(items) == 3
    for i, item in enumerate(items):
        np.testing.assert_array_equal(item.cells, np.flatnonzero(ev[i]))
        np.testing.assert_array_equal(item.values, ev[i][item.cells])
        np.testing.assert_array_equal(item.pinned, np.flatnonzero(pin[i]))
        np.testing.assert_array_equal(item.truth, pin[i][item.pinned] > 0)
    assert items[1].pinned.tolist() == [5, 9] and not items[0].pinned.size
    assert not any(pol.take_evidence())  # handed out once

import numpy as np
import pytest

from scenarios.base import Actions
from scenarios.drone_search import Config, DroneSearch
from scenarios.scripted import run_scripted


def test_same_seed_same_metrics_other_seed_other_world(search_cfg):
    a = run_scripted(DroneSearch(search_cfg, 4, seed=5), "levy", seed=5)
    b = run_scripted(DroneSearch(search_cfg, 4, seed=5), "levy", seed=5)
    assert a == b
    w5, w6 = DroneSearch(search_cfg, 4, seed=5), DroneSearch(search_cfg, 4, seed=6)
    assert not np.array_equal(w5.terrain, w6.terrain)
    assert not np.array_equal(w5.target_flat, w6.target_flat)


@pytest.mark.parametrize("policy", ["lawnmower", "levy", "belief_greedy"])
def test_metric_ranges(search_cfg, policy):
    m = run_scripted(DroneSearch(search_cfg, 4, seed=1), policy, seed=1)
    assert 0.0 <= m["coverage"] <= 1.0 and 0.0 <= m["prob_weighted_coverage"] <= 1.0 + 1e-9
    assert 0.0 <= m["found"] <= 1.0 and 0.0 < m["time_to_find"] <= search_cfg.horizon
    assert m["false_alarms"] <= m["inspections"]
    assert min(m["inspections"], 1) <= m["inspected_cells"] <= m["inspections"]
    assert m["distance"] > 0 and m["energy"] > 0
    assert m["detector_auc"] > 0.6  # the fixed detector beats chance on the probe set (~0.93)


def test_lawnmower_covers_the_map(search_cfg):
    m = run_scripted(DroneSearch(search_cfg, 8, seed=2), "lawnmower", seed=2)
    assert m["coverage"] > 0.9 or m["found"] == 1.0


def test_observation_holds_no_truth(search_cfg):
    """Tokens are the same whatever the truth arrays say: moving the bookkeeping of where
    targets are (not their appearance) must not change what drones observe."""
    w1, w2 = DroneSearch(search_cfg, 6, seed=3), DroneSearch(search_cfg, 6, seed=3)
    rng = np.random.default_rng(0)
    w2.is_target = rng.permutation(w2.is_target)
    w2.target_flat = np.flatnonzero(w2.is_target)
    hold = Actions.hold(6, 30.0)
    hold.move[:] = 1
    for _ in range(5):
        o1, o2 = w1.observe(), w2.observe()
        np.testing.assert_array_equal(o1.tokens, o2.tokens)
        np.testing.assert_array_equal(o1.cells, o2.cells)
        w1.step(hold)
        w2.step(hold)
    info = w1.public_info()
    for v in vars(info).values():
        if isinstance(v, np.ndarray) and v.ndim == 1 and v.dtype.kind in "iu":
            assert not np.array_equal(v, w1.target_flat)


def test_inspection_reveals_truth_and_labels(search_cfg):
    w = DroneSearch(search_cfg, 1, seed=4)
    target = divmod(int(w.target_flat[0]), w.shape[1])
    w.bodies.pos[0] = target
    obs = w.observe()
    act = Actions.hold(1, 30.0)
    act.flag[:] = True
    w._look[1].cand[0] = target  # aim the camera's candidate at the target cell
    w.step(act)
    assert w.observe().busy[0]
    delivered = []
    while not w.done:
        o = w.observe()
        delivered += list(
            zip(o.label_drone.tolist(), o.label_tick.tolist(), o.label_value.tolist(), strict=True)
        )
        w.step(Actions.hold(1, 30.0))
    assert w.metrics()["found"] == 1.0 and w.metrics()["false_alarms"] == 0
    assert w.metrics()["time_to_find"] == search_cfg.inspect_ticks
    # the label of the find reaches the brain in a debrief tick before the mission ends
    assert delivered == [(0, obs.tick, 1.0)]
    assert o.tick == obs.tick + search_cfg.inspect_ticks


def test_false_alarm_gives_negative_label(search_cfg):
    w = DroneSearch(search_cfg, 1, seed=4)
    empty = np.flatnonzero(~w.is_target)[0]
    w.observe()
    w._look[1].cand[0] = divmod(int(empty), w.shape[1])
    act = Actions.hold(1, 30.0)
    act.flag[:] = True
    w.step(act)
    labels = []
    for _ in range(search_cfg.inspect_ticks + 1):
        o = w.observe()
        labels += list(zip(o.label_drone, o.label_tick, o.label_value, strict=True))
        w.step(Actions.hold(1, 30.0))
    assert labels == [(0, 0, 0.0)]
    assert w.metrics()["false_alarms"] == 1


def test_probe_set_is_fixed_and_balanced(search_cfg):
    w = DroneSearch(search_cfg, 2, seed=1)
    t1, l1 = w.probe_set()
    t2, _ = w.probe_set()
    np.testing.assert_array_equal(t1, t2)
    assert t1.shape == (search_cfg.probe_size, w.token_spec.input_dim)
    assert 0 < l1.mean() < 0.5


def test_check_reports_cross_field_problems():
    msgs = DroneSearch.check(Config(height=8, width=8), 100)
    assert any(m.field == "n_drones" and "do not fit" in m.message for m in msgs)
    assert any(m.field == "max_alt_m" and "footprint" in m.message for m in msgs)
    with pytest.raises(ValueError, match="config rejected"):
        DroneSearch(Config(height=8, width=8), 2, seed=0)
    with pytest.raises(ValueError):
        Config(horizon=0)
    with pytest.raises(ValueError):
        Config(no_such_field=1)

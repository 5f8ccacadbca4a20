from dataclasses import replace

import numpy as np
import pytest

from scenarios.drone_search import DroneSearch
from scenarios.litter_patrol import LitterPatrol
from scenarios.policies import fixed_detector, make_policy


def test_fixed_detector_is_monotone_in_sim():
    tok = np.zeros((3, 26), np.float32)
    tok[:, -1] = [-1.0, 0.7, 1.0]
    p = fixed_detector(tok)
    assert p[0] < p[1] < p[2] and p[1] == pytest.approx(0.5)


def test_make_policy_errors(search_cfg):
    info = DroneSearch(search_cfg, 2, seed=0).public_info()
    with pytest.raises(ValueError, match="choose one of"):
        make_policy("nope", info, np.arange(2), np.random.default_rng(0))
    with pytest.raises(ValueError, match="for patrol worlds"):
        make_policy("cyclic_tour", info, np.arange(2), np.random.default_rng(0))
    with pytest.raises(TypeError, match="valid ones"):
        make_policy("lawnmower", info, np.arange(2), np.random.default_rng(0), speed=3)


def test_belief_fusion_raises_candidate_lowers_rest(search_cfg):
    w = DroneSearch(search_cfg, 1, seed=0)
    pol = make_policy("belief_greedy", w.public_info(), np.arange(1), np.random.default_rng(0))
    obs = w.observe()
    before = pol.belief[0].copy()
    pol.act(obs, np.array([0.95], np.float32))
    after = pol.belief[0]
    r, c = obs.cells[0]
    assert after[r, c] > before[r, c]
    pr, pc = obs.pose[0, :2].astype(int)
    other = (pr, pc) if (pr, pc) != (r, c) else (pr, pc + 1 if pc + 1 != c else pc - 1)
    assert after[other] < before[other]
    far = (0, 0) if max(abs(pr), abs(pc)) > 3 else (w.shape[0] - 1, w.shape[1] - 1)
    assert after[far] == before[far]


def test_search_merge_is_idempotent(search_cfg):
    w = DroneSearch(search_cfg, 2, seed=0)
    pol = make_policy("lawnmower", w.public_info(), np.arange(2), np.random.default_rng(0))
    pol.act(w.observe(), np.array([0.99, 0.01], np.float32))
    other = pol.belief[1].copy()
    pol.merge(0, other)
    once = pol.belief[0].copy()
    pol.merge(0, other)
    np.testing.assert_allclose(pol.belief[0], once, rtol=1e-5)


def test_patrol_merge_takes_min_idleness(patrol_cfg):
    w = LitterPatrol(patrol_cfg, 2, seed=0)
    pol = make_policy("idleness_greedy", w.public_info(), np.arange(2), np.random.default_rng(0))
    for _ in range(5):
        obs = w.observe()
        w.step(pol.act(obs, np.zeros(2, np.float32)))
    pol.act(w.observe(), np.zeros(2, np.float32))
    mine, theirs = pol.belief[0].copy(), pol.belief[1].copy()
    pol.merge(0, theirs)
    np.testing.assert_array_equal(pol.belief[0], np.minimum(mine, theirs))
    assert (pol.belief >= 0).all()


def test_lawnmower_tiles_for_many_drones(search_cfg):
    w = DroneSearch(search_cfg, 64, seed=0)
    pol = make_policy("lawnmower", w.public_info(), np.arange(64), np.random.default_rng(0))
    ends = pol.path[np.arange(64), 0]
    assert len({tuple(e) for e in ends.tolist()}) > 32  # drones get distinct tiles


def test_belief_greedy_shard_mates_take_goals_apart(search_cfg):
    w = DroneSearch(search_cfg, 6, seed=0)
    pol = make_policy("belief_greedy", w.public_info(), np.arange(6), np.random.default_rng(0))
    pol.act(w.observe(), np.zeros(6, np.float32))
    d = np.abs(pol.goal[:, None] - pol.goal[None]).max(-1)
    assert (d[~np.eye(6, dtype=bool)] >= 4).all()  # all start together, all plan at once


def test_belief_greedy_heads_for_strong_evidence(search_cfg):
    w = DroneSearch(search_cfg, 1, seed=0)
    pol = make_policy("belief_greedy", w.public_info(), np.arange(1), np.random.default_rng(0))
    strong = pol.belief[0].copy()
    strong[20, 25] = 0.9999
    pol.merge(0, strong)
    obs = w.observe()
    move = pol.act(obs, np.zeros(1, np.float32)).move[0]
    assert tuple(pol.goal[0]) == (20, 25)
    assert tuple(move) == tuple(np.sign(np.array([20, 25]) - obs.pose[0, :2]).astype(int))


def test_belief_is_read_only_cached_and_follows_merge(search_cfg):
    w = DroneSearch(search_cfg, 2, seed=0)
    pol = make_policy("belief_greedy", w.public_info(), np.arange(2), np.random.default_rng(0))
    pol.act(w.observe(), np.full(2, 0.7, np.float32))
    with pytest.raises(ValueError):
        pol.belief[0, 0, 0] = 1.0
    pol.merge(1, np.full(w.shape, 0.9, np.float32))
    assert pol.belief[1, 0, 0] == pytest.approx(0.9, rel=1e-4)
    np.testing.assert_allclose(pol.belief, 1 / (1 + np.exp(-pol.lo)), rtol=1e-5)
    with pytest.raises(ValueError, match="shape"):
        pol.merge(0, np.zeros((3, 3), np.float32))


def test_inspection_label_pins_the_flagged_cell(search_cfg):
    w = DroneSearch(search_cfg, 1, seed=0)
    pol = make_policy("lawnmower", w.public_info(), np.arange(1), np.random.default_rng(0))
    obs = w.observe()
    assert pol.act(obs, np.array([0.99], np.float32)).flag[0]
    r, c = obs.cells[0]
    one = np.ones(1, np.int64)
    later = replace(obs, tick=3, label_drone=0 * one, label_tick=0 * one, label_value=np.ones(1))
    pol.act(later, np.array([0.5], np.float32))
    assert pol.belief[0, r, c] > 0.999  # the inspection found the target there


def test_belief_greedy_block_maxima_track_the_maps(search_cfg):
    """The per-block best log-odds are updated incrementally; they must equal a recount."""
    cfg = search_cfg.model_copy(update={"height": 31, "width": 29})  # blocks past the edge
    w = DroneSearch(cfg, 5, seed=2)
    pol = make_policy("belief_greedy", w.public_info(), np.arange(5), np.random.default_rng(0))
    rng = np.random.default_rng(1)
    for t in range(12):
        obs = w.observe()
        w.step(pol.act(obs, rng.random(5).astype(np.float32) * 0.6))  # no inspections
        if t == 6:
            pol.merge(3, rng.random(w.shape).astype(np.float32))
    pad = np.full((5, 33, 30), -np.inf, np.float32)
    pad[:, :31, :29] = pol.lo
    recount = pad.reshape(5, 11, 3, 10, 3).max(axis=(2, 4)).reshape(5, -1)
    np.testing.assert_array_equal(pol.block_lo, recount)

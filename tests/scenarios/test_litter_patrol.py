from dataclasses import replace

import numpy as np
import pytest

from scenarios.base import Actions
from scenarios.litter_patrol import Config, LitterPatrol
from scenarios.policies import fixed_detector, make_policy
from scenarios.scripted import run_scripted


@pytest.mark.parametrize("policy", ["cyclic_tour", "idleness_greedy"])
def test_scripted_patrol_is_safe_and_in_range(patrol_cfg, policy):
    m = run_scripted(LitterPatrol(patrol_cfg, 4, seed=2), policy, seed=2)
    assert m["altitude_violations"] == 0 and m["nofly_violations"] == 0
    assert 0 <= m["avg_idleness"] <= m["worst_idleness"] <= patrol_cfg.horizon
    assert 0 <= m["precision"] <= 1 and 0 <= m["recall"] <= 1
    assert m["detection_latency"] >= 0 and m["energy"] > 0 and m["depleted"] == 0


def test_determinism_and_seeds(patrol_cfg):
    a = run_scripted(LitterPatrol(patrol_cfg, 3, seed=4), seed=4)
    b = run_scripted(LitterPatrol(patrol_cfg, 3, seed=4), seed=4)
    assert a == b
    c = LitterPatrol(patrol_cfg, 3, seed=5)
    assert not np.array_equal(LitterPatrol(patrol_cfg, 3, seed=4).terrain, c.terrain)


def test_nofly_is_counted_and_refused(patrol_cfg):
    w = LitterPatrol(patrol_cfg, 1, seed=0)
    r, c = np.argwhere(w.nofly)[0]
    assert r > 0, "this seed's first no-fly cell should have a row above it"
    w.bodies.pos[0] = (r - 1, c)
    w.observe()
    act = Actions.hold(1, 20.0)
    act.move[0] = (1, 0)
    w.step(act)
    assert tuple(w.bodies.pos[0]) == (r - 1, c)
    assert w.metrics()["nofly_violations"] == 1


def test_low_flight_in_zone_is_a_violation(patrol_cfg):
    w = LitterPatrol(patrol_cfg, 1, seed=0)
    w.bodies.pos[0] = np.argwhere(w.zone)[0]
    for _ in range(3):  # 20 m -> 12 m -> 4 m -> 3 m: the last two ticks are below 10 m
        w.observe()
        w.step(Actions.hold(1, patrol_cfg.min_alt_m))
    assert w.metrics()["altitude_violations"] == 2


def test_battery_drains_and_charges_at_station(patrol_cfg):
    w = LitterPatrol(patrol_cfg, 1, seed=0)
    w.bodies.pos[0] = divmod(int(w.station_flat[0]), w.shape[1])
    w.bodies.battery[:] = 0.5
    for _ in range(10):
        w.observe()
        w.step(Actions.hold(1, 0.0))  # land on the station
    assert w.observe().busy[0] and w.bodies.battery[0] > 0.5
    w.bodies.pos[0] = np.argwhere(~w.is_station & ~w.nofly)[0]
    w.charging[:] = False
    before = w.bodies.battery[0]
    w.observe()
    w.step(Actions.hold(1, 20.0))
    assert w.bodies.battery[0] < before


def test_crew_answer_is_a_late_label(patrol_cfg):
    w = LitterPatrol(patrol_cfg, 1, seed=3)
    w.observe()
    act = Actions.hold(1, 20.0)
    act.flag[:] = True
    w.step(act)
    got = []
    for _ in range(patrol_cfg.crew_delay + 1):
        o = w.observe()
        got += list(zip(o.label_drone.tolist(), o.label_tick.tolist(), strict=True))
        w.step(Actions.hold(1, 20.0))
    assert got == [(0, 0)]
    assert o.tick >= patrol_cfg.crew_delay


def test_new_kinds_appear_and_are_not_public(patrol_cfg):
    cfg = patrol_cfg.model_copy(update={"overflow_per_tick": 0.2, "new_kinds_from": 0.0})
    w = LitterPatrol(cfg, 1, seed=1)
    for _ in range(40):
        w.observe()
        w.step(Actions.hold(1, 20.0))
    assert (w.events.kind >= cfg.n_kinds_known).any()
    assert len(w.public_info().refs) == cfg.n_kinds_known


def test_river_litter_drifts_downstream(patrol_cfg):
    cfg = patrol_cfg.model_copy(update={"river_litter_per_tick": 1.0, "overflow_per_tick": 0.0})
    w = LitterPatrol(cfg, 1, seed=1)
    for _ in range(3 * cfg.drift_every + 1):
        w.observe()
        w.step(Actions.hold(1, 20.0))
    river = w.events.river_at[w.events.river_at >= 0]
    assert river.max() >= 2 and river.min() == 0


def test_check_messages():
    msgs = LitterPatrol.check(Config(zone_min_alt_m=100.0, max_alt_m=60.0), 4)
    assert any(m.field == "zone_min_alt_m" and "max_alt_m" in m.message for m in msgs)
    with pytest.raises(ValueError):
        Config(crew_delay=0)


@pytest.mark.parametrize("policy", ["cyclic_tour", "idleness_greedy"])
def test_scripted_patrol_never_runs_flat(policy):
    """Small batteries and walls of no-fly cells between drones and stations: every drone must
    get home in time (seeds 4 and 8 ran drones flat when routes could oscillate)."""
    cfg = Config(height=32, width=32, horizon=250, zone_cells=8, n_bins=8, n_nofly=3, n_zones=1)
    cfg = cfg.model_copy(update={"battery_wh": 4.0})
    for seed in (4, 8, 11):
        w = LitterPatrol(cfg, 6, seed=seed)
        info = w.public_info()
        pol = make_policy(policy, info, np.arange(6), np.random.default_rng(seed))
        charged = 0
        while not w.done:
            obs = w.observe()
            w.step(pol.act(obs, fixed_detector(obs.tokens)))
            charged += int(w.charging.sum())
        m = w.metrics()
        assert m["depleted"] == 0, f"seed {seed}: {m['depleted']} drones ran flat"
        assert charged > 0 and m["nofly_violations"] == 0 and m["altitude_violations"] == 0


def test_reports_once_per_cell_until_answered(patrol_cfg):
    w = LitterPatrol(patrol_cfg, 2, seed=3)
    pol = make_policy("cyclic_tour", w.public_info(), np.arange(2), np.random.default_rng(0))
    base, sure = w.observe(), np.ones(2, np.float32)

    def at(tick, drone=(), sent=()):
        lab = np.array(drone, np.int64), np.array(sent, np.int64), np.ones(len(drone), np.float32)
        return replace(base, tick=tick, label_drone=lab[0], label_tick=lab[1], label_value=lab[2])

    assert pol.act(at(0), sure).flag.all()
    assert not pol.act(at(1), sure).flag.any()  # same cells, no answer yet
    assert pol.act(at(2, [0], [0]), sure).flag.tolist() == [True, False]  # drone 0 answered


def _fly_reporting(w: LitterPatrol, ticks: int) -> None:
    """Hold every drone at 20 m and report its candidate every tick."""
    for _ in range(ticks):
        w.observe()
        act = Actions.hold(w.n_drones, 20.0)
        act.flag[:] = True
        w.step(act)


def test_concept_kind_appears_only_in_its_area_and_changes_nothing_else(patrol_cfg):
    """The transfer concept: a kind of its own, only on patrolled cells of its corner, from
    `concept_from` on; drawn from its own stream, so the rest of the world is the same."""
    on = patrol_cfg.model_copy(update={"concept_litter_per_tick": 1.0, "concept_from": 0.1})
    a, b = LitterPatrol(patrol_cfg, 4, seed=2), LitterPatrol(on, 4, seed=2)
    assert a.concept_witnesses() is None and a.concept_probe_set() is None
    _fly_reporting(a, 60)
    _fly_reporting(b, 60)
    concept = b.events.kind == b.concept_kind
    assert concept.any() and not (a.events.kind == a.concept_kind).any()
    assert np.isin(b.events.cell[concept], b.concept_cells).all()
    rows, cols = np.divmod(b.concept_cells, on.width)
    side = on.concept_region * on.height
    assert (rows < side).all() and (cols < side).all()
    assert b.events.onset[concept].min() >= on.concept_from * on.horizon
    np.testing.assert_array_equal(a.events.cell, b.events.cell[~concept])  # the rest unchanged
    assert b.concept_kind >= on.n_kinds_known + on.n_kinds_new  # not a public kind either
    assert len(b.public_info().refs) == on.n_kinds_known


def test_concept_witnesses_are_the_drones_answered_about_it(patrol_cfg):
    """Drones 0 and 1 report a cell holding the concept kind from right above it; drone 2
    reports elsewhere. Once the crew's answers are due, exactly 0 and 1 are witnesses."""
    cfg = patrol_cfg.model_copy(
        update={"concept_litter_per_tick": 1.0, "concept_from": 0.0, "overflow_per_tick": 0.0}
    )
    w = LitterPatrol(cfg, 3, seed=1)
    for _ in range(5):
        w.observe()
        w.step(Actions.hold(3, 20.0))
    cells = np.unique(w.events.cell[w.events.active & (w.events.kind == w.concept_kind)])
    assert cells.size >= 2
    far = np.setdiff1d(w.poi_flat, cells)[-1]
    w.bodies.pos[:] = np.column_stack(np.divmod(np.r_[cells[:2], far], cfg.width))
    w.bodies.alt[:] = cfg.min_alt_m  # a footprint of one cell: the candidate is that cell
    low = Actions.hold(3, cfg.min_alt_m)
    w.observe()
    flag = Actions.hold(3, cfg.min_alt_m)
    flag.flag[:] = True
    w.step(flag)
    assert not w.concept_witnesses().any()  # no answer yet
    for _ in range(cfg.crew_delay + 1):
        w.observe()
        w.step(low)
    assert w.concept_witnesses().tolist() == [True, True, False]
    assert w.metrics()["concept_witnesses"] == 2
    x, y = w.concept_probe_set()
    assert x.shape == (cfg.probe_size, w.token_spec.input_dim) and 0 < y.mean() <= 0.5
    np.testing.assert_array_equal(y, w.concept_probe_set()[1])  # the same every call


def test_the_areas_crew_sends_its_photo_of_the_concept_to_the_drones_over_its_area(patrol_cfg):
    """`crew_delay` ticks after the first concept piece appears, the drones in the concept's
    square (and only they) get its photo, and so does a drone that enters it later; from the
    next look their cameras match the new kind (the token's reference is its signature), the
    others' never do. Without `concept_announce` nobody gets it."""
    cfg = patrol_cfg.model_copy(
        update={"concept_litter_per_tick": 1.0, "concept_from": 0.0, "crew_delay": 5}
    )
    w = LitterPatrol(cfg, 4, seed=1)
    inside = np.column_stack(np.divmod(w.concept_cells[:2], cfg.width))
    far = np.array([[cfg.height - 1, cfg.width - 1], [cfg.height - 2, cfg.width - 1]])
    w.bodies.pos[:] = np.vstack([inside, far])
    assert w.in_concept_area(w.bodies.pos).tolist() == [True, True, False, False]
    hold = Actions.hold(4, cfg.min_alt_m)
    w.observe()
    w.step(hold)  # the first piece appears in this step (tick 0)
    for _ in range(cfg.crew_delay - 1):
        w.observe()
        w.step(hold)
        assert w.announced_at is None and not w.sample_holders.any()
    w.observe()
    w.step(hold)
    assert w.announced_at == cfg.crew_delay
    assert w.sample_holders.tolist() == [True, True, False, False]
    assert w.metrics()["concept_sample_holders"] == 2
    # a holder right above a concept piece sees it as the new kind; a non-holder there does not
    cell = w.events.cell[w.events.active & (w.events.kind == w.concept_kind)][0]
    w.bodies.pos[[0, 2]] = np.divmod(cell, cfg.width)  # drone 2 arrives in the area
    w.bodies.alt[:] = 20.0  # a footprint of 3 x 3 cells: the piece stands out of its context
    w.mark_moved()
    a, obs = cfg.appearance_dim, w.observe()
    refs = obs.tokens[:, 2 * a : 3 * a]
    np.testing.assert_allclose(refs[0], w.concept_sig, rtol=1e-6)
    assert obs.cells[0].tolist() == list(np.divmod(cell, cfg.width))  # its candidate
    assert not np.isclose(refs[2], w.concept_sig).all()  # not told yet
    w.step(Actions.hold(4, 20.0))
    assert w.sample_holders.tolist() == [True, True, True, False]  # told on arrival
    refs = w.observe().tokens[:, 2 * a : 3 * a]
    np.testing.assert_allclose(refs[2], w.concept_sig, rtol=1e-6)
    assert not np.isclose(refs[3], w.concept_sig).all()  # never over the area: never told
    off = LitterPatrol(cfg.model_copy(update={"concept_announce": False}), 4, seed=1)
    for _ in range(cfg.crew_delay + 3):
        off.observe()
        off.step(hold)
    assert off.announced_at is None and not off.sample_holders.any()

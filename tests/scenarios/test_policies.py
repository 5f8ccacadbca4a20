import copy
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scenarios.base import Actions
from scenarios.claims import everyone_hears
from scenarios.drone_search import DroneSearch
from scenarios.litter_patrol import LitterPatrol
from scenarios.policies import fixed_detector, make_policy
from scenarios.policy_base import Evidence


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


def test_search_evidence_adds_up_in_any_order(search_cfg):
    """Evidence is a sum: fused in any order, a map is prior + every drone's own evidence."""
    w = DroneSearch(search_cfg, 3, seed=0)
    pol = make_policy("belief_greedy", w.public_info(), np.arange(3), np.random.default_rng(0))
    rng = np.random.default_rng(1)
    items, own = [], np.zeros_like(pol.own)
    for _ in range(4):
        obs = w.observe()
        w.step(pol.act(obs, rng.random(3).astype(np.float32) * 0.8))
        items += pol.take_evidence()
    np.testing.assert_allclose(sum(e_sum(items[i::3], pol) for i in range(3)), pol.own.sum(0),
                               atol=1e-5)  # fmt: skip
    own = pol.own.copy()
    fwd, back = copy.deepcopy(pol), copy.deepcopy(pol)
    others = [(i, e) for i, e in enumerate(items) if i % 3 != 0]  # drones 1 and 2 -> drone 0
    fwd.fuse_evidence(np.zeros(len(others), np.int64), [e for _, e in others])
    back.fuse_evidence(np.zeros(len(others), np.int64), [e for _, e in others[::-1]])
    np.testing.assert_allclose(fwd.ev[0], own.sum(0), atol=1e-4)
    np.testing.assert_allclose(fwd.lo, back.lo, atol=1e-4)
    assert (fwd.lo[0] != pol.lo[0]).any()


def e_sum(items, pol) -> np.ndarray:
    """Dense (H*W,) sum of evidence items' values."""
    out = np.zeros(pol.own.shape[1], np.float64)
    for e in items:
        out[e.cells] += e.values
    return out


def test_one_drones_evidence_on_a_cell_is_bounded(search_cfg):
    """A look-alike seen confidently again and again: one drone's evidence saturates at
    max_evidence, so a few looks of its own (or other drones' looks) can bring it back."""
    w = DroneSearch(search_cfg, 1, seed=0)
    pol = make_policy("lawnmower", w.public_info(), np.arange(1), np.random.default_rng(0))
    obs = replace(w.observe(), busy=np.zeros(1, bool))
    for t in range(50):
        pol.act(replace(obs, tick=t), np.array([0.9999], np.float32))
    cell = obs.cells[0, 0] * w.shape[1] + obs.cells[0, 1]
    assert pol.own[0, cell] == pytest.approx(pol.p["max_evidence"])
    assert pol.ev[0, cell] == pytest.approx(pol.p["max_evidence"])


def _pinned_empty(search_cfg, name: str):
    """A policy of 2 drones whose drone 0 flagged a cell and learned it is empty."""
    w = DroneSearch(search_cfg, 2, seed=0)
    pol = make_policy(name, w.public_info(), np.arange(2), np.random.default_rng(0))
    obs = w.observe()
    p = np.array([0.999, 0.1], np.float32)
    if name == "belief_greedy":  # the fused belief must pass flag_belief before it flags
        cell = obs.cells[0, 0] * w.shape[1] + obs.cells[0, 1]
        none = Evidence.none()
        strong = Evidence(np.array([cell]), np.array([30.0], np.float32), none.pinned, none.truth)
        pol.fuse_evidence(np.array([0]), [strong])
    assert pol.act(obs, p).flag[0]
    one = np.ones(1, np.int64)
    label = replace(obs, tick=1, label_drone=0 * one, label_tick=0 * one, label_value=0 * one)
    pol.act(label, np.array([0.5, 0.5], np.float32))
    return w, pol, obs


@pytest.mark.parametrize("name", ["belief_greedy", "lawnmower"])
@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,  # a fixed sequence of examples: the same test on every run
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["huge", "pin_target", "look", "noise"]),
            st.floats(1.0, 1e30),
            st.integers(0, 1),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_an_inspected_empty_cell_stays_below_the_flag_threshold(search_cfg, name, steps):
    """Whatever is merged after an inspection found a cell empty (huge positive increments,
    other drones' claims that the target is there, confident looks of the drone's own), the
    cell stays below the flag threshold and is never flagged again, in the inspecting drone's
    map and in the map of a drone that heard the inspection as evidence."""
    w, pol, obs = _pinned_empty(search_cfg, name)
    r, c = obs.cells[0]
    cell = r * w.shape[1] + c
    pol.fuse_evidence(np.array([1]), [pol.take_evidence()[0]])  # drone 1 hears the pin
    threshold = pol.p.get("flag_belief", 0.5)
    none = Evidence.none()
    for t, (kind, size, drone) in enumerate(steps, start=2):
        at = np.array([cell])
        if kind == "huge":
            item = Evidence(at, np.array([size], np.float32), none.pinned, none.truth)
        elif kind == "pin_target":
            item = Evidence(none.cells, none.values, at, np.ones(1, bool))
        elif kind == "noise":
            cells = np.unique(np.r_[cell, np.arange(0, pol.own.shape[1], 7)])
            item = Evidence(cells, np.full(cells.size, size, np.float32), at, np.ones(1, bool))
        else:  # the drones look at the cell themselves, sure it is the target
            look = replace(
                obs, tick=t, busy=np.zeros(2, bool), cells=np.repeat(obs.cells[:1], 2, 0)
            )
            flags = pol.act(look, np.ones(2, np.float32)).flag
            assert not flags.any()
            continue
        pol.fuse_evidence(np.array([drone]), [item])
        assert (pol.belief[:, r, c] < threshold).all()
    look = replace(obs, tick=99, busy=np.zeros(2, bool), cells=np.repeat(obs.cells[:1], 2, 0))
    assert not pol.act(look, np.ones(2, np.float32)).flag.any()
    assert (pol.belief[:, r, c] < threshold).all()


def test_fuse_evidence_rejects_bad_input(search_cfg):
    pol = make_policy(
        "belief_greedy",
        DroneSearch(search_cfg, 2, seed=0).public_info(),
        np.arange(2),
        np.random.default_rng(0),
    )
    none = Evidence.none()
    one = Evidence(np.array([3]), np.array([1.0], np.float32), none.pinned, none.truth)
    before = pol.lo.copy()
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        pol.fuse_evidence(np.array([2]), [one])
    with pytest.raises(ValueError, match="one per item"):
        pol.fuse_evidence(np.array([0, 1]), [one])
    with pytest.raises(ValueError, match="ascend"):
        pol.fuse_evidence(np.array([0]), [replace(one, cells=np.array([32 * 32]))])
    with pytest.raises(ValueError, match="finite"):
        pol.fuse_evidence(np.array([0]), [replace(one, values=np.array([np.nan], np.float32))])
    np.testing.assert_array_equal(pol.lo, before)  # nothing changed
    pol.fuse_evidence(np.zeros(0, np.int64), [])  # a no-op


def test_patrol_evidence_keeps_the_latest_sighting(patrol_cfg):
    """Last-seen ticks fuse by max: a stale or repeated report never makes a cell look
    less recently seen; what a drone hands out is only what it saw since it last did."""
    w = LitterPatrol(patrol_cfg, 2, seed=0)
    pol = make_policy("idleness_greedy", w.public_info(), np.arange(2), np.random.default_rng(0))
    for _ in range(5):
        obs = w.observe()
        w.step(pol.act(obs, np.zeros(2, np.float32)))
    pol.act(w.observe(), np.zeros(2, np.float32))
    mine, theirs = pol.belief[0].copy(), pol.belief[1].copy()
    items = pol.take_evidence()
    assert all(e.values.max() <= pol.now for e in items)
    assert not any(pol.take_evidence())  # handed out once
    pol.fuse_evidence(np.array([0, 0]), [items[1], items[1]])  # a repeat changes nothing
    np.testing.assert_array_equal(pol.belief[0], np.minimum(mine, theirs))
    stale = replace(items[1], values=np.zeros_like(items[1].values))
    pol.fuse_evidence(np.array([0]), [stale])
    np.testing.assert_array_equal(pol.belief[0], np.minimum(mine, theirs))
    assert (pol.belief >= 0).all()


def test_patrol_crew_answer_counts_as_a_visit(patrol_cfg):
    w = LitterPatrol(patrol_cfg, 1, seed=0)
    pol = make_policy("idleness_greedy", w.public_info(), np.arange(1), np.random.default_rng(0))
    obs = w.observe()
    far = (w.shape[0] - 1, w.shape[1] - 1)
    pol._flag_key, pol._flag_cell = np.array([0]), np.array([far[0] * w.shape[1] + far[1]])
    one = np.ones(1, np.int64)
    answer = replace(obs, tick=40, label_drone=0 * one, label_tick=0 * one, label_value=0 * one)
    pol.act(answer, np.zeros(1, np.float32))
    assert pol.last_seen[0, far[0], far[1]] == 40


@pytest.mark.parametrize(("world_cls", "name"), [(DroneSearch, "belief_greedy"),
                                                 (LitterPatrol, "idleness_greedy")])  # fmt: skip
def test_a_fused_policy_plans_all_drones_from_one_map(search_cfg, patrol_cfg, world_cls, name):
    """`central`: every drone's evidence goes into one map (own evidence still bounded per
    drone), which every drone reads."""
    cfg = search_cfg if world_cls is DroneSearch else patrol_cfg
    w = world_cls(cfg, 4, seed=1)
    pol = make_policy(name, w.public_info(), np.arange(4), np.random.default_rng(0), fused=True)
    rng = np.random.default_rng(2)
    for _ in range(8):
        w.step(pol.act(w.observe(), rng.random(4).astype(np.float32) * 0.8))
    belief = np.asarray(pol.belief)
    np.testing.assert_array_equal(belief, np.broadcast_to(belief[0], belief.shape))
    if name == "belief_greedy":
        np.testing.assert_allclose(pol.ev[0], pol.own.sum(0), atol=1e-4)
        assert (pol.own != 0).any(1).all()  # every drone contributed
        np.testing.assert_array_equal(
            pol.block_lo, np.broadcast_to(pol.block_lo[0], pol.block_lo.shape)
        )
    else:
        alone = make_policy(name, w.public_info(), np.arange(4), np.random.default_rng(0))
        assert (pol.last_seen[0] > 0).sum() > (alone.last_seen[0] > 0).sum()


def test_lawnmower_tiles_for_many_drones(search_cfg):
    w = DroneSearch(search_cfg, 64, seed=0)
    pol = make_policy("lawnmower", w.public_info(), np.arange(64), np.random.default_rng(0))
    ends = pol.path[np.arange(64), 0]
    assert len({tuple(e) for e in ends.tolist()}) > 32  # drones get distinct tiles


def test_belief_greedy_keeps_off_claims_it_heard_and_only_those(search_cfg):
    w = DroneSearch(search_cfg, 6, seed=0)
    pol = make_policy("belief_greedy", w.public_info(), np.arange(6), np.random.default_rng(0))
    assert (pol.claims() == -1).all()  # nothing planned yet: no claim
    pol.act(w.observe(), np.zeros(6, np.float32))
    alone = pol.goal.copy()
    assert len({tuple(g) for g in alone.tolist()}) < 6  # no claims heard: no coordination
    np.testing.assert_array_equal(pol.claims(), alone)
    fresh = make_policy("belief_greedy", w.public_info(), np.arange(6), np.random.default_rng(0))
    heard = np.repeat(alone[:1], 5, 0)  # drones 1..5 heard drone 0 claim its goal
    fresh.hear_claims(np.arange(1, 6), heard)
    fresh.act(w.observe(), np.zeros(6, np.float32))
    assert tuple(fresh.goal[0]) == tuple(alone[0])  # drone 0 heard nothing: unchanged
    assert (np.abs(fresh.goal[1:] - alone[0]).max(1) >= 4).all()  # non-touching blocks


@pytest.mark.parametrize("name", ["belief_greedy", "levy", "lawnmower"])
def test_a_drone_flies_the_same_whichever_drones_share_its_policy(search_cfg, name):
    """Host-count invariance at the policy level: one policy for 6 drones, or 6 policies of
    one drone each, give the same actions when they hear the same claims."""
    info = DroneSearch(search_cfg, 6, seed=1).public_info()
    whole = make_policy(name, info, np.arange(6), np.random.default_rng(3), team_size=6)
    parts = [
        make_policy(name, info, np.array([d]), np.random.default_rng(3), team_size=6)
        for d in range(6)
    ]
    w = DroneSearch(search_cfg, 6, seed=1)
    rng = np.random.default_rng(4)
    for t in range(15):
        obs = w.observe()
        p = rng.random(6).astype(np.float32) * 0.8
        a = whole.act(obs, p)
        b = Actions.concat(
            [pol.act(obs.select(np.array([d])), p[d : d + 1]) for d, pol in enumerate(parts)]
        )
        np.testing.assert_array_equal(a.move, b.move)
        np.testing.assert_array_equal(a.flag, b.flag)
        w.step(a)
        if t % 5 == 4:  # a knowledge round: everyone hears everyone's claim
            goals = whole.claims()
            whole.hear_claims(*everyone_hears(goals))
            for d, pol in enumerate(parts):
                others = np.delete(goals, d, 0)
                pol.hear_claims(np.zeros(5, np.int64), others)


def test_belief_greedy_heads_for_strong_evidence(search_cfg):
    w = DroneSearch(search_cfg, 1, seed=0)
    pol = make_policy("belief_greedy", w.public_info(), np.arange(1), np.random.default_rng(0))
    none = Evidence.none()
    strong = Evidence(
        np.array([20 * w.shape[1] + 25]), np.array([16.0], np.float32), none.pinned, none.truth
    )
    pol.fuse_evidence(np.array([0]), [strong])
    obs = w.observe()
    move = pol.act(obs, np.zeros(1, np.float32)).move[0]
    assert tuple(pol.goal[0]) == (20, 25)
    assert tuple(move) == tuple(np.sign(np.array([20, 25]) - obs.pose[0, :2]).astype(int))


def test_belief_is_read_only_cached_and_follows_fused_evidence(search_cfg):
    w = DroneSearch(search_cfg, 2, seed=0)
    pol = make_policy("belief_greedy", w.public_info(), np.arange(2), np.random.default_rng(0))
    pol.act(w.observe(), np.full(2, 0.7, np.float32))
    with pytest.raises(ValueError):
        pol.belief[0, 0, 0] = 1.0
    before = pol.belief[1, 0, 0]
    none = Evidence.none()
    pol.fuse_evidence(
        np.array([1]),
        [Evidence(np.array([0]), np.array([3.0], np.float32), none.pinned, none.truth)],
    )
    assert pol.belief[1, 0, 0] > before
    np.testing.assert_allclose(pol.belief, 1 / (1 + np.exp(-pol.lo)), rtol=1e-5)


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
            cells = np.flatnonzero(rng.random(w.shape[0] * w.shape[1]) < 0.3)
            values = rng.normal(0, 4, cells.size).astype(np.float32)
            pinned = cells[::5]
            item = Evidence(cells, values, pinned, rng.random(pinned.size) < 0.5)
            pol.fuse_evidence(np.array([3]), [item])
    pad = np.full((5, 33, 30), -np.inf, np.float32)
    pad[:, :31, :29] = pol.lo
    recount = pad.reshape(5, 11, 3, 10, 3).max(axis=(2, 4)).reshape(5, -1)
    np.testing.assert_array_equal(pol.block_lo, recount)


def _max_charging(world, **params) -> int:
    pol = make_policy(
        "idleness_greedy", world.public_info(), np.arange(world.n_drones),
        np.random.default_rng(0), **params,
    )  # fmt: skip
    most = 0
    while not world.done:
        obs = world.observe()
        world.step(pol.act(obs, fixed_detector(obs.tokens)))
        most = max(most, int(world.charging.sum()))
    return most


def test_patrol_staggers_the_first_charge():
    """Launched together on full batteries, the fleet used to charge all at once (leaving the
    area unwatched); with the default stagger far fewer charge together."""
    from swarm.config import load_config

    cfg = load_config("scenarios/litter_patrol.yaml").world
    n = 16
    together = _max_charging(LitterPatrol(cfg, n, seed=0), stagger=0.0)
    staggered = _max_charging(LitterPatrol(cfg, n, seed=0))
    assert together == n and staggered <= n * 3 // 4, (together, staggered)


def test_idleness_greedy_revisits_a_suspicious_point_sooner(patrol_cfg):
    """Two equally idle points at equal distance: the one the detector found suspicious
    (p below the report threshold) wins; a reported one (p above) does not."""
    w = LitterPatrol(patrol_cfg, 1, seed=0)
    pol = make_policy("idleness_greedy", w.public_info(), np.arange(1), np.random.default_rng(0))
    obs = w.observe()
    pos = obs.pose[0, :2].astype(int)
    dist = np.abs(pol.poi - pos).max(1)
    values, counts = np.unique(dist, return_counts=True)
    same = np.flatnonzero(dist == values[np.argmax(counts >= 2)])
    assert same.size >= 2
    a, b = pol.poi[same[0]], pol.poi[same[1]]
    for p_a, want in ((0.8, a), (0.95, b)):
        pol.suspect[:] = 0
        pol.suspect[0, a[0], a[1]] = 0.0 if p_a > pol.p["flag_p"] else p_a
        pol.suspect[0, b[0], b[1]] = 0.1
        pol.last_seen[:] = 100  # only a and b are idle
        pol.last_seen[0, a[0], a[1]] = pol.last_seen[0, b[0], b[1]] = 0
        pol.planned[:] = -(10**9)
        goal = pol.goals(replace(obs, tick=100), pos[None])
        assert (goal[0] == want).all()


@pytest.mark.parametrize("fused", [True, False])
def test_a_centre_sends_one_drone_to_inspect_a_cell_and_claims_it_until_the_label(
    search_cfg, fused
):
    """`central`'s crowding: three drones see the same strong cell in the one fused map. The
    centre flags it with the lowest id only, claims that inspection for it (every other drone
    hears the claim), flags it with nobody while it is under way, and lets go at the label.
    Separate maps (the swarm's drones, each deciding alone) keep flagging independently."""
    w = DroneSearch(search_cfg, 3, seed=0)
    pol = make_policy("belief_greedy", w.public_info(), np.arange(3), np.random.default_rng(0),
                      fused=fused)  # fmt: skip
    r, c = 20, 25
    none = Evidence.none()
    strong = Evidence(np.array([r * w.shape[1] + c]), np.array([16.0], np.float32),
                      none.pinned, none.truth)  # fmt: skip
    pol.fuse_evidence(np.arange(3), [strong] * 3)
    obs = w.observe()
    same = replace(obs, cells=np.tile(np.array([[r, c]], obs.cells.dtype), (3, 1)))
    p = np.full(3, 0.95, np.float32)
    flags = pol.act(same, p).flag
    if not fused:
        assert flags.all()
        return
    assert flags.tolist() == [True, False, False]
    owners, cells = pol.inspections_under_way()
    assert owners.tolist() == [0] and cells.tolist() == [[r, c]]
    no_goals = np.full((3, 2), -1)  # the inspection claim alone (every goal is that cell too)
    rows, heard = everyone_hears(no_goals, (owners, cells))
    assert sorted(rows[(heard == [r, c]).all(1)].tolist()) == [1, 2]  # not drone 0 itself
    busy = replace(same, tick=1, busy=np.array([True, False, False]))
    assert not pol.act(busy, p).flag.any()  # under way: nobody else is sent
    assert pol.inspections_under_way()[0].tolist() == [0]
    one = np.ones(1, np.int64)
    label = replace(same, tick=6, label_drone=0 * one, label_tick=0 * one,
                    label_value=np.zeros(1, np.float32))  # fmt: skip
    assert not pol.act(label, p).flag.any()  # inspected empty: settled for everyone
    assert pol.inspections_under_way()[0].size == 0


def test_a_flag_that_started_no_inspection_lapses(search_cfg):
    """A drone that could not start its inspection (not busy the next tick) holds no claim."""
    w = DroneSearch(search_cfg, 2, seed=0)
    pol = make_policy("belief_greedy", w.public_info(), np.arange(2), np.random.default_rng(0),
                      fused=True)  # fmt: skip
    obs = w.observe()
    r, c = obs.cells[0]
    none = Evidence.none()
    strong = Evidence(np.array([r * w.shape[1] + c]), np.array([16.0], np.float32),
                      none.pinned, none.truth)  # fmt: skip
    pol.fuse_evidence(np.array([0]), [strong])
    assert pol.act(obs, np.array([0.99, 0.0], np.float32)).flag[0]
    assert pol.inspections_under_way()[0].tolist() == [0]
    elsewhere = replace(obs, tick=1, cells=np.zeros_like(obs.cells))  # not busy, flags nothing
    assert not pol.act(elsewhere, np.zeros(2, np.float32)).flag.any()
    assert pol.inspections_under_way()[0].size == 0

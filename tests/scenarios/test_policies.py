import copy
from dataclasses import replace

import numpy as np
import pytest

from scenarios.base import Actions
from scenarios.claims import everyone_hears
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


def _flown(world, name: str, k: int, ticks: int):
    """A policy of k drones after `ticks` ticks in `world` (random detector outputs)."""
    pol = make_policy(name, world.public_info(), np.arange(k), np.random.default_rng(0))
    rng = np.random.default_rng(5)
    for _ in range(ticks):
        world.step(pol.act(world.observe(), rng.random(k).astype(np.float32) * 0.6))
    pol.act(world.observe(), rng.random(k).astype(np.float32))
    return pol


def _incoming(pol, rng: np.random.Generator, m: int) -> tuple[np.ndarray, np.ndarray]:
    """m (row, map) pairs with repeated rows and many exactly tied cells: the drones' own
    maps, coarse random maps (few distinct values) and near-prior ones, shuffled."""
    k, (h, w) = pol.k, pol.shape
    rows = rng.integers(0, k, size=m)
    rows[: min(m, 4)] = 1  # one drone hears several maps in a row
    base = np.asarray(pol.belief)[rng.integers(0, k, size=m)].copy()
    coarse = rng.choice(np.array([0.001, 0.02, 0.5, 0.97, 0.999], np.float32), (m, h, w))
    which = rng.integers(0, 3, size=(m, 1, 1))
    near = base * np.float32(1.001)
    return rows, np.where(which == 0, base, np.where(which == 1, coarse, near))


@pytest.mark.parametrize("name", ["belief_greedy", "lawnmower", "levy"])
def test_search_merge_many_equals_sequential_merges(search_cfg, name):
    cfg = search_cfg.model_copy(update={"height": 31, "width": 29})  # blocks past the edge
    pol = _flown(DroneSearch(cfg, 5, seed=2), name, 5, 6)
    rng = np.random.default_rng(3)
    for cached in (True, False):
        rows, maps = _incoming(pol, rng, 13)
        one, many = copy.deepcopy(pol), copy.deepcopy(pol)
        if not cached:
            one._cache = many._cache = None
        for i, other in zip(rows, maps, strict=True):
            one.merge(int(i), other)
        many.merge_many(rows, maps)
        np.testing.assert_array_equal(many.lo, one.lo)
        np.testing.assert_array_equal(many.belief, one.belief)
        if name == "belief_greedy":
            np.testing.assert_array_equal(many.block_lo, one.block_lo)
        assert (many.lo != pol.lo).any()  # the merges changed something


@pytest.mark.parametrize("name", ["belief_greedy", "lawnmower"])
def test_search_merge_many_breaks_ties_as_sequential_merges(search_cfg, name):
    """Cells as far from the prior on either side: the first in order (own map, then the
    incoming maps as they come) must win, as the strict `>` of sequential merges decides."""
    pol = make_policy(
        name,
        DroneSearch(search_cfg, 3, seed=0).public_info(),
        np.arange(3),
        np.random.default_rng(0),
    )
    rng = np.random.default_rng(6)
    pair = np.array([0.25, 0.75, 0.3, 0.7], np.float32)  # logits exactly +-L in float32
    pol.prior_lo = np.zeros_like(pol.prior_lo)
    pol.lo[:] = _logit_of(rng.choice(pair, pol.lo.shape))
    rows = np.array([0, 2, 0, 0, 1, 2])
    maps = rng.choice(pair, (6, *pol.shape))
    one, many = copy.deepcopy(pol), copy.deepcopy(pol)
    for i, other in zip(rows, maps, strict=True):
        one.merge(int(i), other)
    many.merge_many(rows, maps)
    np.testing.assert_array_equal(many.lo, one.lo)
    assert (many.lo != pol.lo).any()


def _logit_of(p: np.ndarray) -> np.ndarray:
    """float32 log-odds of probabilities p, as the search policies compute them."""
    p = p.astype(np.float64)
    return np.log(p / (1 - p)).astype(np.float32)


@pytest.mark.parametrize(
    ("world_cls", "name"), [(DroneSearch, "belief_greedy"), (LitterPatrol, "idleness_greedy")]
)
def test_merge_many_from_a_pool_of_maps(search_cfg, patrol_cfg, world_cls, name):
    """`which` picks each merge's map from a pool, shared by several drones, repeats too."""
    cfg = search_cfg if world_cls is DroneSearch else patrol_cfg
    pol = _flown(world_cls(cfg, 5, seed=2), name, 5, 6)
    rng = np.random.default_rng(8)
    _, pool = _incoming(pol, rng, 4)
    pool = np.abs(pool)
    rows, which = np.array([2, 0, 2, 4, 2, 1, 0]), np.array([3, 1, 0, 3, 3, 2, 0])
    one, many = copy.deepcopy(pol), copy.deepcopy(pol)
    for i, j in zip(rows, which, strict=True):
        one.merge(int(i), pool[j])
    many.merge_many(rows, pool, which)
    np.testing.assert_array_equal(many.belief, one.belief)
    if name == "belief_greedy":
        np.testing.assert_array_equal(many.block_lo, one.block_lo)
    with pytest.raises(ValueError, match=r"which must lie in \[0, 4\)"):
        many.merge_many(rows, pool, which + 1)


def test_merge_many_of_one_broadcast_map(search_cfg, patrol_cfg):
    """The hub's broadcast: one map for every row, passed as a broadcast view."""
    for world, name in (
        (DroneSearch(search_cfg, 4, seed=1), "belief_greedy"),
        (LitterPatrol(patrol_cfg, 4, seed=1), "idleness_greedy"),
    ):
        pol = _flown(world, name, 4, 5)
        hub = np.asarray(pol.belief[2]).copy()
        rows = np.array([0, 1, 3])
        one, many = copy.deepcopy(pol), copy.deepcopy(pol)
        for i in rows:
            one.merge(int(i), hub)
        many.merge_many(rows, np.broadcast_to(hub, (3, *hub.shape)))
        np.testing.assert_array_equal(many.belief, one.belief)


@pytest.mark.parametrize("name", ["idleness_greedy", "cyclic_tour"])
def test_patrol_merge_many_equals_sequential_merges(patrol_cfg, name):
    pol = _flown(LitterPatrol(patrol_cfg, 4, seed=0), name, 4, 8)
    rng = np.random.default_rng(4)
    rows = np.array([1, 1, 0, 3, 1, 2, 0])
    maps = np.asarray(pol.belief)[rng.integers(0, 4, size=7)] + rng.integers(-3, 4, (7, 32, 32))
    maps = np.maximum(maps, 0).astype(np.float32)
    one, many = copy.deepcopy(pol), copy.deepcopy(pol)
    for i, other in zip(rows, maps, strict=True):
        one.merge(int(i), other)
    many.merge_many(rows, maps)
    np.testing.assert_array_equal(many.last_seen, one.last_seen)
    np.testing.assert_array_equal(many.belief, one.belief)
    assert (many.last_seen != pol.last_seen).any()


def test_merge_many_of_own_cached_rows_is_sequential(search_cfg):
    """Maps that are views of the policy's own belief change as merges go: still sequential."""
    pol = _flown(DroneSearch(search_cfg, 3, seed=0), "lawnmower", 3, 4)
    one, many = copy.deepcopy(pol), copy.deepcopy(pol)
    rows = np.array([1, 2, 0])  # drone 1 takes 0's map, 2 takes 1's (merged), 0 takes 2's
    for m, i in enumerate(rows):
        one.merge(int(i), one.belief[m])
    many.merge_many(rows, many.belief)
    np.testing.assert_array_equal(many.lo, one.lo)
    np.testing.assert_array_equal(many.belief, one.belief)


def test_merge_many_rejects_bad_input(search_cfg):
    pol = make_policy(
        "belief_greedy",
        DroneSearch(search_cfg, 2, seed=0).public_info(),
        np.arange(2),
        np.random.default_rng(0),
    )
    maps = np.full((2, *pol.shape), 0.5, np.float32)
    with pytest.raises(ValueError, match="shape"):
        pol.merge_many(np.array([0]), maps)
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        pol.merge_many(np.array([0, 2]), maps)
    with pytest.raises(ValueError, match="integer"):
        pol.merge_many(np.array([0.0, 1.0]), maps)
    pol.merge_many(np.zeros(0, np.int64), np.zeros((0, *pol.shape), np.float32))  # a no-op


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

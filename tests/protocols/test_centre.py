"""Hub election with terms, as every host of a `dynamic` team runs it."""

import numpy as np
import pytest

from protocols.centre import Election, Quorum, elect


def test_a_healthy_hub_stays_against_a_near_equal_and_a_silent_one_is_replaced():
    comp = np.array([0.60, 0.63, 0.80], np.float32)
    alive = np.array([True, True, True])
    assert elect(comp[:2], alive[:2], hub=0, hysteresis=0.05) == 0  # 0.63 is not enough
    assert elect(comp, alive, hub=0, hysteresis=0.05) == 2  # 0.80 is
    assert elect(comp, np.array([False, True, False]), hub=0, hysteresis=0.05) == 1  # failover
    with pytest.raises(RuntimeError, match="no brain sent a heartbeat"):
        elect(comp, np.zeros(3, bool), hub=0, hysteresis=0.05)


def test_ties_go_to_the_lowest_id():
    comp = np.array([0.5, 0.9, 0.9], np.float32)
    assert elect(comp, np.ones(3, bool), hub=0, hysteresis=0.0) == 1


def test_the_term_rises_only_when_the_hub_changes():
    e = Election(3, timeout=2, hysteresis=0.05)
    e.hear([0, 1, 2], [0.5, 0.5, 0.5], term=0)
    assert e.close_round() == 0 and e.term == 0
    e.hear([0, 1, 2], [0.5, 0.9, 0.5], term=0)
    assert e.close_round() == 1 and e.term == 1


def test_heartbeats_of_an_older_term_are_ignored():
    e = Election(2, timeout=3, hysteresis=0.0)
    e.hear([0, 1], [0.2, 0.9], term=0)
    e.close_round()
    assert (e.hub, e.term) == (1, 1)
    e.hear([0, 1], [0.99, 0.1], term=0)  # stale: sent before the term changed
    e.hear([1], [0.9], term=1)
    assert e.close_round() == 1 and e.competence[0] == pytest.approx(0.2)


def test_a_hub_silent_for_timeout_rounds_is_replaced_and_hosts_agree():
    hosts = [Election(3, timeout=2, hysteresis=0.05) for _ in range(2)]
    for e in hosts:
        e.hear([0, 1, 2], [0.9, 0.6, 0.5], term=0)
        e.close_round()
    history = []
    for _ in range(2):  # the hub (brain 0) falls silent
        for e in hosts:
            e.hear([1, 2], [0.6, 0.5], term=hosts[0].term)
            e.close_round()
        history.append({(e.hub, e.term) for e in hosts})
    assert history == [{(0, 0)}, {(1, 1)}]  # replaced after `timeout` silent rounds, by all


# -- the quorum: every drone's own view, under loss, partitions and a hub crash --------------
def random_plan(rng: np.random.Generator) -> dict:
    """A random fault plan: n drones, loss 0-0.5, maybe a partition window, maybe a hub crash."""
    n = int(rng.integers(4, 13))
    rounds = 30
    plan = {
        "n": n,
        "rounds": rounds,
        "loss": float(rng.uniform(0, 0.5)),
        "seed": rng.integers(1 << 30),
    }
    plan["groups"] = rng.integers(0, 2, n) if rng.random() < 0.5 else np.zeros(n, np.int64)
    start = int(rng.integers(0, rounds))
    plan["window"] = (start, int(rng.integers(start, rounds + 1)))
    plan["crash"] = int(rng.integers(0, rounds)) if rng.random() < 0.7 else None
    return plan


def heard_in(plan: dict, r: int, rng: np.random.Generator) -> np.ndarray:
    """(n, n) bool [j, d]: d hears j in round r (loss, the partition while it is on)."""
    n = plan["n"]
    heard = rng.random((n, n)) >= plan["loss"]
    lo, hi = plan["window"]
    if lo <= r < hi:
        g = plan["groups"]
        heard &= g[:, None] == g[None, :]
    return heard


def fly_quorum(plan: dict) -> tuple[list[tuple[int, int, int]], Quorum]:
    """Every round of `plan` with the quorum; returns every drone's (round, term, hub) and it."""
    n, rng = plan["n"], np.random.default_rng(plan["seed"])
    q = Quorum(n, timeout=plan.get("timeout", 3), hysteresis=plan.get("hysteresis", 0.05))
    alive, seen = np.ones(n, bool), []
    comp = rng.uniform(0.3, 0.9, n)
    for r in range(plan["rounds"]):
        if plan["crash"] == r:
            alive[q.leader[0]] = False  # the hub of the time crashes
        comp = np.clip(comp + rng.normal(0, 0.05, n), 0, 1)
        heard = heard_in(plan, r, rng)
        q.hear(heard, comp, alive)
        for hub, term in q.tally(q.vote(q.proposals(alive), heard, alive), heard, alive):
            q.announce(hub, term, heard, alive)
        seen += [(r, int(q.term[d]), int(q.hub[d])) for d in range(n)]
    return seen, q


def fly_alone(plan: dict) -> list[tuple[int, int, int]]:
    """The same rounds with every drone electing alone from what it heard (the election of a
    fault-free run, where all hear the same): (round, term, hub) of every drone."""
    n, rng = plan["n"], np.random.default_rng(plan["seed"])
    own, alive, seen = [Election(n, 3, 0.05) for _ in range(n)], np.ones(n, bool), []
    comp = rng.uniform(0.3, 0.9, n)
    for r in range(plan["rounds"]):
        if plan["crash"] == r:
            alive[own[0].hub] = False  # drone 0's hub, as good as any
        comp = np.clip(comp + rng.normal(0, 0.05, n), 0, 1)
        heard = heard_in(plan, r, rng)
        terms = [e.term for e in own]
        for d, e in enumerate(own):
            if alive[d]:
                for j in np.flatnonzero(alive & (heard[:, d] | (np.arange(n) == d))).tolist():
                    e.hear([j], [comp[j]], terms[j])
                e.close_round()
        seen += [(r, e.term, e.hub) for d, e in enumerate(own) if alive[d]]
    return seen


def hubs_per_term(seen: list[tuple[int, int, int]]) -> dict[int, set[int]]:
    out: dict[int, set[int]] = {}
    for _, term, hub in seen:
        out.setdefault(term, set()).add(hub)
    return out


PLANS = 300


def test_one_hub_per_term_under_any_random_fault_plan():
    rng = np.random.default_rng(12)
    elected = 0
    for _ in range(PLANS):
        plan = random_plan(rng)
        seen, q = fly_quorum(plan)
        for term, hubs in hubs_per_term(seen).items():
            assert len(hubs) == 1, (plan, term, hubs)  # on every drone, every round
            assert q.terms[term] in hubs
        elected += len(q.terms) > 1
    assert elected > PLANS // 4  # the plans do elect new hubs, often


def test_drones_electing_alone_split_a_term_when_heartbeats_are_lost():
    """Why the quorum: the same plans with each drone electing from what it alone heard give
    some term two hubs (what the runtime did before, had its heartbeats been lossy)."""
    rng = np.random.default_rng(12)
    split = 0
    for _ in range(PLANS):
        plan = random_plan(rng)
        split += any(len(h) > 1 for h in hubs_per_term(fly_alone(plan)).values())
    assert split > PLANS // 4


@pytest.mark.parametrize("loss", [0.0, 0.1, 0.3])
def test_a_crashed_hub_is_replaced_under_loss(loss):
    """Liveness: the hub crashes at round 0; without loss the new hub leads from the round
    its silence reaches the timeout (rounds 0..timeout-1 silent); with loss up to 30 % a new
    hub is elected, within a few more rounds, on every seed."""
    timeout = 3
    for seed in range(40):
        n = 9
        plan = {"n": n, "rounds": 25, "loss": loss, "seed": seed, "crash": 0}
        plan |= {"timeout": timeout, "hysteresis": 1.0}  # only a silent hub is replaced
        plan |= {"groups": np.zeros(n, np.int64), "window": (0, 0)}
        seen, q = fly_quorum(plan)
        assert len(q.terms) >= 2, (seed, q.terms)
        first = min(r for r, term, _ in seen if term >= 1)
        if loss == 0.0:
            assert first == timeout - 1
        else:
            assert first < timeout - 1 + 10


def test_the_minority_side_of_a_partition_never_elects():
    n = 9
    groups = np.array([0] * 4 + [1] * 5)  # hub 0 sits in the minority of 4
    for seed in range(20):
        plan = {"n": n, "rounds": 20, "loss": 0.1, "seed": seed, "crash": None}
        plan |= {"groups": groups, "window": (0, 20)}
        seen, q = fly_quorum(plan)
        minority = {hub for _, term, hub in seen if term >= 1} & set(range(4))
        assert not minority  # no hub of a new term on the minority side
        assert all(q.hub[d] == 0 and q.term[d] == 0 for d in range(4))  # it keeps the old one
        assert {q.hub[d] for d in range(4, n)} - {0}  # the majority elected its own


def test_quorum_counts_silence_in_place_up_to_the_timeout():
    """`Quorum.silent` is a bounded count in the smallest unsigned type: over 300 rounds of
    random loss and crashes (one drone silent longer than a uint8 counts) every drone's view
    of who is live, and the competence it last heard, equal those of an unbounded count."""
    n, timeout, rng = 6, 3, np.random.default_rng(4)
    q = Quorum(n, timeout=timeout, hysteresis=0.05)
    since, last = np.zeros((n, n), np.int64), np.zeros((n, n), np.float32)
    for _ in range(300):
        heard, alive = rng.random((n, n)) < 0.4, rng.random(n) < 0.9
        alive[-1] = False  # crashed for good: silent longer than a uint8 counts
        comp = rng.random(n).astype(np.float32)
        q.hear(heard, comp, alive)
        got = (heard & alive[:, None] & alive[None, :]).T
        got[np.diag_indices(n)] = alive
        since = np.where(got, 0, since + 1)
        last = np.where(got, comp[None], last)
        assert q.silent.dtype == np.uint8 and q.silent.max() <= timeout
        np.testing.assert_array_equal(q.silent < timeout, since < timeout)
        np.testing.assert_array_equal(q.competence, last)
    assert since.max() > 255  # the count did outgrow the type

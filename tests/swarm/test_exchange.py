"""Knowledge rounds over real sockets (local backend): gossip, hub, beliefs, determinism."""

import numpy as np
import pytest

from protocols.compression import decode_tensor
from scenarios.policy_base import Policy
from swarm.exchange import BeliefCopies, row_index
from swarm.loop import make_world
from swarm.pool import HostPool


def fly(pool, cfg, team, ticks, seed=0, rounds=True):
    """Configure `team` on a fresh world and fly `ticks` ticks; returns (world, actions list)."""
    n = 1 if team == "single_large" else cfg.drones
    world = make_world(cfg, n, seed)
    pool.configure(team, seed, world.public_info(), world.token_spec, n)
    acts = []
    for t in range(ticks):
        a = pool.act(world.observe())
        world.step(a)
        acts.append(a)
        if rounds and (t + 1) % cfg.protocol.sync_every == 0:
            pool.exchange((t + 1) // cfg.protocol.sync_every - 1)
    return world, acts


def weights(pool):
    """(N, P) every brain's flattened weights, in brain order."""
    rows = []
    for host in pool.calls.hosts:
        bank = host.shard.bank if host.shard is not None else None
        for i in range(bank.n_sets if bank else 0):
            named = bank.export_weights(i)
            rows.append(np.concatenate([named[k].ravel() for k in sorted(named)]))
    return np.stack(rows)


@pytest.mark.parametrize("gossip", ["exact", "choco"])
def test_gossip_round_keeps_the_mean_and_moves_every_brain(tiny_cfg, gossip):
    cfg = tiny_cfg(drones=6, protocol={"gossip": gossip, "sync_every": 100})
    with HostPool(cfg, n_hosts=2, backend="local") as pool:
        fly(pool, cfg, "swarm", 8, rounds=False)  # brains learn apart
        before = weights(pool)
        assert np.abs(before - before.mean(0)).max() > 0  # they do differ
        pool.exchange(0)
        after = weights(pool)
        np.testing.assert_allclose(after.mean(0), before.mean(0), atol=1e-5)
        assert (np.abs(after - before).max(axis=1) > 0).all()
        spread = lambda w: np.abs(w - w.mean(0)).sum()  # noqa: E731
        assert spread(after) < spread(before)  # closer to consensus
        assert pool.stats()["wire_bytes"] > 0


@pytest.mark.parametrize("topology", ["star", "dynamic"])
def test_hub_round_leaves_every_brain_on_the_common_model(tiny_cfg, topology):
    cfg = tiny_cfg(drones=5, protocol={"topology": {"kind": topology}, "sync_every": 100,
                                       "codec": {"kind": "none"}})  # fmt: skip
    with HostPool(cfg, n_hosts=2, backend="local") as pool:
        fly(pool, cfg, "swarm", 6, rounds=False)
        before = weights(pool)
        pool.exchange(0)
        after = weights(pool)
        np.testing.assert_allclose(after, np.broadcast_to(after[0], after.shape), atol=1e-6)
        # mean aggregation of uncompressed deltas from a common start = the mean of the brains
        np.testing.assert_allclose(after[0], before.mean(0), atol=1e-5)


def test_dynamic_hub_is_the_most_competent_brain(tiny_cfg):
    cfg = tiny_cfg(drones=4, protocol={"topology": {"kind": "dynamic"}, "sync_every": 100})
    with HostPool(cfg, n_hosts=2, backend="local") as pool:
        fly(pool, cfg, "swarm", 3, rounds=False)
        shard = pool.calls.hosts[1].shard  # brains 2, 3
        shard._hits[1], shard._seen[1] = 5.0, 5.0  # brain 3: five confirmed detections
        pool.exchange(0)
        hubs = {(h.exchange.hub, h.exchange.term) for h in pool.calls.hosts}
        assert hubs == {(3, 1)}


def test_isolated_and_single_large_send_nothing_swarm_sends_bytes(tiny_cfg):
    cfg = tiny_cfg()
    with HostPool(cfg, n_hosts=2, backend="local") as pool:
        for team in ("isolated", "single_large"):
            fly(pool, cfg, team, 10)
            assert pool.stats()["wire_bytes"] == 0
        fly(pool, cfg, "swarm", 10)
        stats = pool.stats()
        assert stats["wire_bytes"] > 0 and stats["messages_sent"] > 0
        assert stats["rejected_messages"] == 0


@pytest.mark.parametrize("topology", ["ring", "star"])
def test_share_weights_off_sends_no_delta_and_leaves_weights_alone(tiny_cfg, topology):
    """The ablation switch: no DELTA leaves a host, each brain keeps exactly the weights it
    learned, while beliefs still travel (the switches are independent)."""
    cfg = tiny_cfg(drones=4, protocol={"topology": {"kind": topology}, "sync_every": 100,
                                       "share_weights": False})  # fmt: skip
    with HostPool(cfg, n_hosts=2, backend="local") as pool:
        fly(pool, cfg, "swarm", 6, rounds=False)
        before, sent = weights(pool), pool.stats()["messages_sent"]
        pool.exchange(0)
        np.testing.assert_array_equal(weights(pool), before)
        assert pool.stats()["messages_sent"] > sent  # beliefs (and hub heartbeats) still go
        assert all(h.receiver.rejects == {} or not sum(h.receiver.rejects.values())
                   for h in pool.calls.hosts)  # fmt: skip


def test_beliefs_travel_as_sparse_updates_of_public_copies():
    sender, receiver = (
        BeliefCopies(np.zeros((2, 4, 4), np.float32)),
        BeliefCopies(np.zeros((2, 4, 4), np.float32)),
    )
    belief = np.zeros((4, 4), np.float32)
    belief[1, 2] = 0.5
    tensors = sender.update_tensors(1, belief)
    for copies in (sender, receiver):
        copies.apply(1, tensors)
    np.testing.assert_array_equal(receiver.maps[1], belief)
    assert sender.update_tensors(1, belief) == ()  # nothing changed since: nothing to send
    assert receiver.known.tolist() == [False, True]


def test_same_seed_gives_the_same_actions_and_counters(tiny_cfg):
    cfg = tiny_cfg(protocol={"topology": {"kind": "radio"}})
    runs = []
    for _ in range(2):
        with HostPool(cfg, n_hosts=2, backend="local") as pool:
            world, acts = fly(pool, cfg, "swarm", 12, seed=3)
            stats = pool.stats()
            runs.append((acts, world.metrics(), stats["wire_bytes"], stats["messages_sent"]))
    (a1, m1, b1, n1), (a2, m2, b2, n2) = runs
    for x, y in zip(a1, a2, strict=True):
        assert np.array_equal(x.move, y.move) and np.array_equal(x.flag, y.flag)
        np.testing.assert_array_equal(x.altitude, y.altitude)
    assert m1 == m2 and b1 == b2 and n1 == n2


def test_election_keeps_a_healthy_hub_against_a_near_equal_and_replaces_a_silent_one():
    from swarm.exchange_hub import elect

    comp = np.array([0.60, 0.63, 0.80], np.float32)
    alive = np.array([True, True, True])
    assert elect(comp[:2], alive[:2], hub=0, hysteresis=0.05) == 0  # 0.63 is not enough
    assert elect(comp, alive, hub=0, hysteresis=0.05) == 2  # 0.80 is
    assert elect(comp, np.array([False, True, False]), hub=0, hysteresis=0.05) == 1  # failover
    with pytest.raises(RuntimeError, match="no brain sent a heartbeat"):
        elect(comp, np.zeros(3, bool), hub=0, hysteresis=0.05)


def _one_by_one(policy, rows, others, which=None):
    """The reference: `merge` per (row, map), in order."""
    which = np.arange(len(rows)) if which is None else which
    for i, j in zip(np.asarray(rows).tolist(), np.asarray(which).tolist(), strict=True):
        policy.merge(i, others[j])


@pytest.mark.parametrize("topology", ["ring", "complete", "star"])
def test_batched_belief_merges_equal_one_merge_at_a_time(tiny_cfg, monkeypatch, topology):
    cfg = tiny_cfg(drones=6, protocol={"topology": {"kind": topology}, "sync_every": 3})
    runs = []
    for batched in (True, False):
        with monkeypatch.context() as m:
            if not batched:
                m.setattr(Policy, "merge_many", _one_by_one)
            with HostPool(cfg, n_hosts=2, backend="local") as pool:
                _, acts = fly(pool, cfg, "swarm", 9)
                beliefs = np.concatenate(
                    [np.asarray(h.shard.policy.belief) for h in pool.calls.hosts]
                )
                runs.append((acts, beliefs))
    (a1, b1), (a2, b2) = runs
    np.testing.assert_array_equal(b1, b2)
    for x, y in zip(a1, a2, strict=True):
        assert np.array_equal(x.move, y.move) and np.array_equal(x.flag, y.flag)


def test_update_rows_applied_in_place_equals_adding_the_decoded_updates():
    rng = np.random.default_rng(0)
    start = rng.random((3, 5, 4)).astype(np.float32)
    direct, decoded = BeliefCopies(start.copy()), BeliefCopies(start.copy())
    beliefs = start[[2, 0]].copy()
    beliefs[0, 1, 3] += 0.5
    beliefs[1, 4, 0] -= 0.25
    beliefs[1, 0, 0] += 1e-5  # below tol: not sent, not applied
    sent = direct.update_rows([2, 0], beliefs, apply=True)
    assert decoded.update_rows([2, 0], beliefs) == sent
    for b, t in sent.items():
        decoded.add(b, {"cells": decode_tensor(t)})
    decoded.known[[2, 0]] = True
    np.testing.assert_array_equal(direct.maps, decoded.maps)
    assert direct.known.tolist() == [True, False, True]
    assert direct.update_rows([2, 0], beliefs) == {}  # the copies are current now


def test_row_index_is_a_slice_for_a_run_of_ids_and_the_ids_otherwise():
    team = np.arange(40.0).reshape(10, 4)
    for ids in ([3, 4, 5, 6], [0, 2, 3], [7], [1, 9]):
        idx = row_index(np.array(ids))
        assert isinstance(idx, slice) == (ids == list(range(ids[0], ids[-1] + 1)))
        np.testing.assert_array_equal(team[idx], team[ids])
    assert row_index(np.zeros(0, np.int64)).size == 0

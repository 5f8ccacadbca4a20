"""Knowledge rounds over real sockets (local backend): gossip, hub, beliefs, determinism."""

import numpy as np
import pytest

from swarm.loop import make_world
from swarm.pool import HostPool
from tests.conftest import drift_apart


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
    return np.concatenate([h.bank.read_flat() for h in pool.hosts.hosts if h.bank is not None])


@pytest.mark.parametrize("gossip", ["exact", "choco"])
def test_gossip_round_keeps_the_mean_and_moves_every_brain(tiny_cfg, gossip):
    cfg = tiny_cfg(drones=6, protocol={"gossip": gossip, "sync_every": 100})
    with HostPool(cfg, n_hosts=2, backend="local") as pool:
        fly(pool, cfg, "swarm", 8, rounds=False)
        drift_apart(pool)  # brains apart, as field learning would make them
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
        host = pool.hosts.hosts[1]  # brains 2, 3
        host._hits[1], host._seen[1] = 5.0, 5.0  # brain 3: five confirmed detections
        pool.exchange(0)
        hubs = {(h.exchange.hub, h.exchange.term) for h in pool.hosts.hosts}
        assert hubs == {(3, 1)}


def test_isolated_and_single_large_send_nothing_swarm_sends_bytes(tiny_cfg):
    cfg = tiny_cfg()
    with HostPool(cfg, n_hosts=2, backend="local") as pool:
        for team in ("isolated", "single_large"):
            fly(pool, cfg, team, 10)
            assert pool.stats()["wire_bytes"] == 0
        fly(pool, cfg, "swarm", 10)
        stats = pool.stats()
        assert stats["wire_bytes"] > 0 and stats["wire_messages"] > 0
        assert stats["rejected_messages"] == 0


@pytest.mark.parametrize("topology", ["ring", "star"])
def test_share_weights_off_sends_no_delta_and_leaves_weights_alone(tiny_cfg, topology):
    """The ablation switch: no DELTA leaves a host, each brain keeps exactly the weights it
    learned, while beliefs still travel (the switches are independent)."""
    cfg = tiny_cfg(drones=4, protocol={"topology": {"kind": topology}, "sync_every": 100,
                                       "share_weights": False})  # fmt: skip
    with HostPool(cfg, n_hosts=2, backend="local") as pool:
        fly(pool, cfg, "swarm", 6, rounds=False)
        before, sent = weights(pool), pool.stats()["wire_messages"]
        pool.exchange(0)
        np.testing.assert_array_equal(weights(pool), before)
        assert pool.stats()["wire_messages"] > sent  # beliefs (and hub heartbeats) still go
        assert all(h.receiver.rejects == {} or not sum(h.receiver.rejects.values())
                   for h in pool.hosts.hosts)  # fmt: skip


def test_same_seed_gives_the_same_actions_and_counters(tiny_cfg):
    cfg = tiny_cfg(protocol={"topology": {"kind": "radio"}})
    runs = []
    for _ in range(2):
        with HostPool(cfg, n_hosts=2, backend="local") as pool:
            world, acts = fly(pool, cfg, "swarm", 12, seed=3)
            stats = pool.stats()
            runs.append((acts, world.metrics(), stats["wire_bytes"], stats["wire_messages"]))
    (a1, m1, b1, n1), (a2, m2, b2, n2) = runs
    for x, y in zip(a1, a2, strict=True):
        assert np.array_equal(x.move, y.move) and np.array_equal(x.flag, y.flag)
        np.testing.assert_array_equal(x.altitude, y.altitude)
    assert m1 == m2 and b1 == b2 and n1 == n2


def policies(pool):
    """The hosts' policies that fly drones, in host order."""
    return [h.policy for h in pool.hosts.hosts if h.policy is not None]


@pytest.mark.parametrize(
    ("topology", "extra"), [("ring", 3), ("complete", 1), ("star", 1), ("dynamic", 1)]
)
def test_every_brains_evidence_counts_exactly_once_everywhere(tiny_cfg, topology, extra):
    """After the drones stop and the relays drain (a ring of 6 is 3 hops across), every
    brain's map holds every drone's own evidence exactly once: gossip relays that arrive from
    both sides of the ring, and the hub's relay, are each fused once."""
    cfg = tiny_cfg(drones=6, protocol={"topology": {"kind": topology}, "sync_every": 3})
    with HostPool(cfg, n_hosts=2, backend="local") as pool:
        fly(pool, cfg, "swarm", 9)
        for r in range(3, 3 + extra):
            pool.exchange(r)
        pols = policies(pool)
        own = np.concatenate([p.own for p in pols])  # (N, H*W) each drone's own evidence
        ev = np.concatenate([p.ev for p in pols])
        assert (own != 0).any(1).all()
        np.testing.assert_allclose(ev, np.broadcast_to(own.sum(0), ev.shape), atol=1e-4)
        pins = np.concatenate([p.pin for p in pols])
        np.testing.assert_array_equal(pins, np.broadcast_to(pins.max(0), pins.shape))
        assert pool.stats()["rejected_messages"] == 0


def test_a_ring_relays_evidence_one_hop_per_round(tiny_cfg):
    """Brain 0's evidence of round 0 reaches its neighbours in round 0, the next ones in
    round 1 and the brain three hops away (across a ring of 6) in round 2."""
    cfg = tiny_cfg(drones=6, protocol={"sync_every": 3})
    with HostPool(cfg, n_hosts=2, backend="local") as pool:
        fly(pool, cfg, "swarm", 3, rounds=False)
        reached = []
        for r in range(3):
            pool.exchange(r)
            reached.append({b for h in pool.hosts.hosts for b in h.exchange.ctx.local.tolist()
                            if h.exchange.ledger.has(b, (0, 0))})  # fmt: skip
        assert reached == [{1, 5}, {1, 2, 4, 5}, {1, 2, 3, 4, 5}]

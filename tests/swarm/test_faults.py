"""Injected faults: the plan's decisions, and each fault kind observably happening in real
rounds over sockets (local backend): loss at the asked rate, no traffic across a partition,
a crashed drone silent and still, Byzantine messages rejected or clipped, hub failover; and a
host actor killed mid-mission (Ray): restarted, restored, flying on."""

import os
import signal

import numpy as np
import pytest

from swarm.fault_config import FaultsConfig
from swarm.faults import CUT, DEAD, LOST, NOW, FaultPlan
from swarm.host import HostDied
from swarm.loop import Episode, make_world
from swarm.pool import HostPool
from swarm.teams import make_plan


def fly(pool, cfg, ticks, seed=0, each_round=None):
    """Fly team swarm `ticks` ticks with rounds every sync_every (the brains go on once the
    tiny world is done, so every test gets its rounds); returns the world."""
    world = make_world(cfg, cfg.drones, seed)
    pool.configure("swarm", seed, world.public_info(), world.token_spec, cfg.drones)
    every = cfg.protocol.sync_every
    for t in range(ticks):
        actions = pool.act(world.observe())
        if not world.done:
            world.step(actions)
        if (t + 1) % every == 0:
            pool.exchange((t + 1) // every - 1)
            if each_round is not None:
                each_round((t + 1) // every - 1)
    return world


def binomial_ok(hits: int, trials: int, p: float, z: float = 4.0) -> bool:
    return abs(hits - p * trials) <= z * np.sqrt(trials * p * (1 - p)) + 1


# -- the plan (pure) ---------------------------------------------------------------------
def test_link_loss_has_the_asked_rate_and_depends_only_on_the_seed():
    plan = FaultPlan(FaultsConfig(loss=0.2, delay=0.1, delay_rounds=2), seed=7, n=16, sync_every=5)
    fates = np.stack([plan.fates(r) for r in range(50)])
    off = ~np.eye(16, dtype=bool)
    trials = 50 * int(off.sum())
    assert binomial_ok(int((fates[:, off] == LOST).sum()), trials, 0.2)
    assert binomial_ok(int((fates[:, off] == 2).sum()), trials, 0.1)
    assert (fates[:, ~off] == NOW).all()
    again = FaultPlan(FaultsConfig(loss=0.2, delay=0.1, delay_rounds=2), 7, 16, 5)
    np.testing.assert_array_equal(again.fates(3), fates[3])
    other = FaultPlan(FaultsConfig(loss=0.2, delay=0.1, delay_rounds=2), 8, 16, 5)
    assert not np.array_equal(other.fates(3), fates[3])


def test_partition_window_crash_and_byzantine_draw():
    cfg = FaultsConfig(
        partitions=[{"start": 10, "end": 30, "groups": [[0, 1]]}],
        crashes=[{"drone": 3, "tick": 20}],
        byzantine={"fraction": 0.25, "attack": "sign_flip"},
    )
    plan = FaultPlan(cfg, seed=1, n=8, sync_every=10)  # round r is held at tick 10(r+1)
    assert plan.fates(0)[0, 1] == NOW and plan.fates(0)[0, 2] == CUT  # tick 10: cut
    assert plan.fates(2)[0, 2] == NOW  # tick 30: healed
    assert not plan.crashed(0)[3] and plan.crashed(1)[3]  # silent from tick 20 on
    assert plan.fates(1)[3, 4] == DEAD and plan.fates(1)[4, 3] == DEAD
    assert plan.byzantine.sum() == 2  # round(0.25 * 8)
    np.testing.assert_array_equal(FaultPlan(cfg, 1, 8, 10).byzantine, plan.byzantine)


# -- in real rounds -----------------------------------------------------------------------
def ring_neighbours(b: int, n: int) -> tuple[int, int]:
    return (b - 1) % n, (b + 1) % n


def test_lost_messages_are_not_sent_at_the_asked_rate(tiny_cfg):
    """A lost link carries nothing across the host sockets: a host sends a brain's DELTA to
    another host only while some neighbour there hears it (`plan.brain_owner` says who is
    where), while each device still transmits once per neighbour (device-level counts)."""
    n, hosts, rounds = 8, 4, 30
    protocol = {"share_beliefs": False, "share_claims": False, "sync_every": 1}
    cfg = tiny_cfg(drones=n, faults={"loss": 0.3}, protocol=protocol)
    with HostPool(cfg, n_hosts=hosts, backend="local") as pool:
        fly(pool, cfg, rounds * cfg.protocol.sync_every)
        stats = pool.stats()
        owner = pool.plan.brain_owner
    links = 2 * n * rounds  # a ring: two neighbours each
    lost = int(stats["fault_lost"])
    assert binomial_ok(lost, links, 0.3)
    plan = FaultPlan(cfg.faults, seed=0, n=n, sync_every=1)
    crossing = 0  # socket messages host -> other host: one per brain heard there
    for r in range(rounds):
        fates = plan.fates(r)
        for b in range(n):
            for d in set(int(owner[j]) for j in ring_neighbours(b, n)) - {int(owner[b])}:
                heard = [j for j in ring_neighbours(b, n) if owner[j] == d and fates[b, j] == NOW]
                crossing += bool(heard)
    used = len(set(owner.tolist()))  # hosts holding brains
    assert used == hosts and all((owner == h).sum() == 2 for h in range(hosts))
    # one batched DELTA per round from each host to itself, one per crossing brain (with
    # two brains per host on a ring of eight, no brain has two neighbours on another host)
    assert stats["host_socket_messages"] == used * rounds + crossing
    assert crossing < rounds * 2 * hosts  # some crossings were lost, not sent
    assert stats["wire_messages"] == links  # a device transmits to both neighbours anyway


def test_partition_carries_no_traffic_across_until_it_heals(tiny_cfg):
    n = 6
    part = {"start": 0, "end": 25, "groups": [[0, 1, 2]]}  # rounds 0-3 cut (ticks 5..20)
    cfg = tiny_cfg(drones=n, faults={"partitions": [part]})
    owner = make_plan("swarm", n, 3, "ring").brain_owner  # what the pool will place
    there = int(owner[5])  # brain 0's only neighbour on brain 5's host is 5, across the cut
    assert int(owner[0]) != there
    assert [j for j in ring_neighbours(0, n) if owner[j] == there] == [5]
    with HostPool(cfg, n_hosts=3, backend="local") as pool:
        copies = []  # that host's copy of brain 0 after each round

        def watch(r):
            copies.append(pool.hosts.hosts[there].exchange.xhat[0].copy())

        fly(pool, cfg, 40, each_round=watch)
        stats = pool.stats()
        np.testing.assert_array_equal(pool.plan.brain_owner, owner)
    start = copies[0]
    assert all(np.array_equal(c, start) for c in copies[:4])  # nothing crossed while cut
    assert not np.array_equal(copies[-1], start)  # healed: brain 0's updates arrive
    assert stats["fault_partitioned"] == 4 * 4  # links 2<->3 and 5<->0, both ways, 4 rounds


def test_delayed_belief_increments_arrive_late_not_never(tiny_cfg):
    """Every link late by 2 rounds: a brain fuses its neighbours' evidence of round r at
    round r + 2, never sooner, and does fuse it (it is not dropped)."""
    faults = {"delay": 1.0, "delay_rounds": 2}
    cfg = tiny_cfg(drones=6, faults=faults, protocol={"share_weights": False})
    fused = []  # per round: the (origin, stamp) increments brain 0 has fused so far

    with HostPool(cfg, n_hosts=2, backend="local") as pool:

        def watch(r):
            fused.append(set(pool.hosts.hosts[0].exchange.ledger._seen.get(0, ())))

        fly(pool, cfg, 40, each_round=watch)
        stats = pool.stats()
    for r, keys in enumerate(fused):
        assert all(stamp <= r - 2 for _, stamp in keys), (r, keys)
    assert {origin for origin, _ in fused[-1]} >= {1, 5}  # both ring neighbours, late
    assert stats["fault_delayed"] > 0 and stats["fault_lost"] == 0


def test_crashed_drone_goes_silent_and_stops(tiny_cfg):
    cfg = tiny_cfg(drones=6, faults={"crashes": [{"drone": 2, "tick": 5}]})
    with HostPool(cfg, n_hosts=3, backend="local") as pool:
        seen = []

        def watch(r):
            seen.append(pool.hosts.hosts[2].exchange.xhat[2].copy())  # a neighbour's host

        world = make_world(cfg, 6, 0)
        pool.configure("swarm", 0, world.public_info(), world.token_spec, 6)
        poses = []
        for t in range(30):
            actions = pool.act(world.observe())
            if not world.done:
                world.step(actions)
            poses.append(world.observe().pose[2, :2].copy())
            if (t + 1) % 5 == 0:
                pool.exchange((t + 1) // 5 - 1)
                watch(t)
        stats = pool.stats()
    assert all(np.array_equal(s, seen[0]) for s in seen)  # brain 2 never heard from
    assert all(np.array_equal(p, poses[5]) for p in poses[5:])  # still from tick 5 on
    assert stats["crashed_drones"] == 1


def test_nan_attacker_is_rejected_and_poisons_nobody(tiny_cfg):
    cfg = tiny_cfg(drones=6, faults={"byzantine": {"drones": [1], "attack": "nan"}})
    with HostPool(cfg, n_hosts=2, backend="local") as pool:
        fly(pool, cfg, 25)
        stats = pool.stats()
        rows = [h.bank.read_flat() for h in pool.hosts.hosts]
    assert all(np.isfinite(r).all() for r in rows)
    assert stats["byzantine_sent"] == 5  # one per round
    assert stats["rejected_messages"] >= 5  # every copy of its DELTA, at every receiver


@pytest.mark.filterwarnings("ignore:overflow encountered")  # the unprotected brains' logits
@pytest.mark.parametrize("topology", ["ring", "star"])
def test_robust_rules_bound_a_loud_attacker(tiny_cfg, topology):
    """Gaussian noise of sigma 100 from one of 6 brains: plain mixing carries it into every
    honest brain; self-centred clipping (ring) and centered clipping (star) do not."""
    attack = {"byzantine": {"drones": [3], "attack": "gaussian", "sigma": 100.0}}
    robust = {"gossip_clip": True} if topology == "ring" else {"aggregation": "centered_clipping"}
    drift = {}
    for name, extra in (("plain", {}), ("robust", robust)):
        cfg = tiny_cfg(drones=6, faults=attack, protocol={"topology": {"kind": topology}, **extra})
        with HostPool(cfg, n_hosts=2, backend="local") as pool:
            fly(pool, cfg, 20)
            w = np.concatenate([h.bank.read_flat() for h in pool.hosts.hosts])
        honest = np.delete(w, 3, axis=0)  # pretrained weights are O(1)
        drift[name] = float(np.abs(honest).max())
    assert drift["plain"] > 10.0
    assert drift["robust"] < 10.0


def test_dynamic_hub_fails_over_within_three_heartbeats_one_hub_per_term(tiny_cfg):
    dynamic = {"kind": "dynamic", "hysteresis": 1.0}  # only a silent hub is ever replaced
    cfg = tiny_cfg(drones=6, faults={"hub_crash": 5}, protocol={"topology": dynamic})
    history = []  # per round: every host's (hub, term)
    with HostPool(cfg, n_hosts=3, backend="local") as pool:

        def watch(r):
            history.append({(h.exchange.hub, h.exchange.term) for h in pool.hosts.hosts})

        fly(pool, cfg, 40, each_round=watch)
        terms = [h.exchange.terms for h in pool.hosts.hosts]
        stats = pool.stats()
    assert all(len(s) == 1 for s in history)  # every host agrees every round
    hubs = [next(iter(s)) for s in history]
    assert hubs[0] == (0, 0)  # the hub crashed at round 0 (tick 5)
    changed = next(r for r, (hub, _) in enumerate(hubs) if hub != 0)
    # silent in rounds 0 .. timeout-1; the vote of that round's last three phases elects
    assert changed == cfg.protocol.topology.heartbeat_timeout - 1 == 2
    assert hubs[-1][1] == 1 and terms[0] == terms[1] == terms[2] == {0: 0, 1: hubs[-1][0]}
    assert stats["crashed_drones"] == 1
    assert stats["rejected_messages"] == 0  # every ELECT matched every host's copy


def test_fault_counts_do_not_depend_on_the_host_count(tiny_cfg):
    faults = {"loss": 0.2, "delay": 0.2, "byzantine": {"drones": [4], "attack": "ipm"}}
    cfg = tiny_cfg(drones=6, faults=faults)
    counts = []
    for hosts in (1, 3):
        with HostPool(cfg, n_hosts=hosts, backend="local") as pool:
            fly(pool, cfg, 20, seed=2)
            s = pool.stats()
            counts.append({k: s[k] for k in ("fault_lost", "fault_delayed", "byzantine_sent")})
    assert counts[0] == counts[1] and counts[0]["fault_lost"] > 0


# -- a host actor killed mid-mission (Ray) ---------------------------------------------------
def test_a_run_records_its_restarts_and_only_when_there_were_any():
    restart = {"host": 1, "call": "act", "tick": 14, "restored_round": 1}
    ep = Episode("swarm", 0, 40, 40, {}, {}, restarts=[restart])
    assert ep.record()["restarts"] == [restart]
    assert "restarts" not in Episode("swarm", 0, 40, 40, {}, {}).record()  # results unchanged


@pytest.mark.ray
@pytest.mark.parametrize("max_restarts", [1, 0])
def test_a_killed_host_actor_is_restarted_restored_and_flies_on(
    ray_session, tiny_cfg, max_restarts
):
    """Host 1's real process is killed (SIGKILL by its pid) 3 ticks after round 1 (tick 13).
    With a restart left, Ray restarts it, the pool restores its state after round 1, and the
    mission goes on with its drones flying and its brains in every knowledge round. (That a
    host restored from its state goes on exactly as the unbroken run: test_hoststate.py.)
    Without,
    the mission ends with HostDied (the run loop keeps what completed; `--resume`)."""
    cfg = tiny_cfg(drones=6, hosts={"max_restarts": max_restarts})
    every, ticks = cfg.protocol.sync_every, 40
    with HostPool(cfg, n_hosts=2, backend="ray") as pool:
        world = make_world(cfg, 6, 0)
        pool.configure("swarm", 0, world.public_info(), world.token_spec, 6)
        mine = pool.plan.drone_shards[1]
        poses = []
        for tick in range(1, ticks + 1):
            if max_restarts == 0 and tick == 14:
                with pytest.raises(HostDied, match=r"host actor died \(host 1\) during act"):
                    pool.act(world.observe())
                assert pool.restarts() == []
                return
            world.step(pool.act(world.observe()))  # flies on after the world is done
            poses.append(world.observe().pose[mine, :2].copy())
            if tick % every == 0:
                pool.exchange(tick // every - 1)
            if tick == 13:
                heard = pool.hosts.stats()[1]["host_socket_received"]
                pid = pool.hosts.pids()[1]
                os.kill(pid, signal.SIGKILL)
        assert pool.hosts.pids()[1] != pid  # a new process
        after = pool.hosts.stats()[1]["host_socket_received"]
        stats = pool.stats()
        (r,) = pool.restarts()
    assert (r["host"], r["call"], r["tick"]) == (1, "act", 14)  # found dead at the next tick
    assert (r["restored_round"], r["restored_tick"], r["lost_ticks"]) == (1, 10, 3)
    # its brains take part in every round after the restart (5 more rounds of messages: the
    # tiny world brings these brains no label to learn from, so mixing is what they do)
    assert after > heard
    moved = np.abs(np.diff(np.stack(poses[13:]), axis=0)).sum(axis=(0, 2))
    assert (moved > 0).all()  # and each of its drones flies on
    assert stats["rejected_messages"] == 0  # no replayed sequence number

"""HostPool on Ray (the session's embedded 2-CPU Ray): same results as in-process, faults.

One pool serves the module, as in a run (hosts start once, then configure per team × seed):
a host actor imports torch, which takes seconds on a busy machine.
"""

import numpy as np
import pytest
import ray

from swarm.host import HostDied, HostTimeout, RayHosts
from swarm.loop import make_world
from swarm.pool import HostPool
from tests.conftest import make_tiny_cfg

CFG = make_tiny_cfg(drones=4)  # the same large model as the other tests: pretrained once

pytestmark = pytest.mark.ray  # every test here runs on the session's embedded Ray


@pytest.fixture(scope="module")
def pool(ray_session):
    p = HostPool(CFG, backend="ray")  # agents_per_host: auto
    yield p
    p.close()


def fly(pool, team, ticks, seed=0):
    n = 1 if team == "single_large" else CFG.drones
    world = make_world(CFG, n, seed)
    pool.configure(team, seed, world.public_info(), world.token_spec, n)
    acts = []
    for t in range(ticks):
        acts.append(pool.act(world.observe()))
        world.step(acts[-1])
        if (t + 1) % CFG.protocol.sync_every == 0:
            pool.exchange((t + 1) // CFG.protocol.sync_every - 1)
    return world, acts


def test_auto_starts_one_host_per_cpu_on_the_one_node(pool):
    info = pool.ray_info()
    assert (info["nodes"], info["hosts"]) == (1, 2)
    # each host on the one node, its ROUTER bound on the node's loopback address
    assert [(p["host"], p["node_address"]) for p in info["placement"]] == [
        (0, "127.0.0.1"),
        (1, "127.0.0.1"),
    ]
    assert all(p["endpoint"].startswith("tcp://127.0.0.1:") for p in info["placement"])


def test_ray_hosts_match_in_process_hosts_exactly(pool):
    before = pool.stats()["wire_bytes"]
    world_r, acts_r = fly(pool, "swarm", 10, seed=1)
    bytes_r = pool.stats()["wire_bytes"] - before
    with HostPool(CFG, n_hosts=2, backend="local") as local:
        world_l, acts_l = fly(local, "swarm", 10, seed=1)
        bytes_l = local.stats()["wire_bytes"]
    for x, y in zip(acts_r, acts_l, strict=True):
        assert np.array_equal(x.move, y.move) and np.array_equal(x.flag, y.flag)
        np.testing.assert_array_equal(x.altitude, y.altitude)
    assert world_r.metrics() == world_l.metrics()
    assert bytes_r == bytes_l > 0


@pytest.mark.parametrize("team", ["central", "single_large"])
def test_every_team_runs_over_ray(pool, team):
    world, acts = fly(pool, team, 5)
    acts[-1].validate(1 if team == "single_large" else CFG.drones)
    assert pool.probe_auc(*world.probe_set()) > 0.5  # pretrained: better than chance
    per = pool.brain_aucs(*world.probe_set())  # one per drone, in drone order
    assert per.shape == (len(acts[-1].flag),) and np.isfinite(per).all()
    if team == "central":  # one shared model: every drone has its AUC
        assert np.all(per == per[0]) and per[0] == pool.probe_auc(*world.probe_set())


@ray.remote
class _Stuck:
    """Stands where a host's recv() gave up: raises what HostCore raises then."""

    def recv(self):
        raise HostTimeout("host 0 waited 60 s in phase mix of round 0 for 1 message(s)", (1,))


def test_a_round_that_cannot_complete_says_which_host_and_what_ray_knows(pool):
    hosts = RayHosts.__new__(RayHosts)  # the real error path, over real actors
    hosts.actors, hosts.n_hosts = [_Stuck.remote(), pool.hosts.actors[0]], 2
    with pytest.raises(HostDied, match="host 1: ALIVE") as err:
        hosts._get([hosts.actors[0].recv.remote()], "recv")
    text = str(err.value)
    assert "round 0" in text and "/logs" in text and "session_latest" not in text
    ray.kill(hosts.actors[0])


def test_a_dead_host_raises_host_died(pool):  # last: it leaves the pool unusable
    world, _ = fly(pool, "isolated", 1)
    ray.kill(pool.hosts.actors[1])
    with pytest.raises(HostDied, match=r"host actor died \(host 1\) during act"):
        pool.act(world.observe())

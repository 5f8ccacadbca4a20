"""Three Ray nodes on this machine: hosts pinned to different nodes talk over ZeroMQ.

Uses its own `ray.cluster_utils.Cluster` (so the session's embedded Ray is shut down first by
`no_ray`; the next test that needs it starts it again). Every node binds 127.0.0.1.
"""

import pytest
import ray
from ray.cluster_utils import Cluster

from swarm.loop import make_world
from swarm.pool import HostPool
from tests.conftest import make_tiny_cfg

N_NODES = 3

pytestmark = pytest.mark.ray  # a three-node Ray cluster on loopback


@pytest.fixture
def cluster(no_ray):
    c = Cluster()
    for i in range(N_NODES):
        c.add_node(num_cpus=1, resources={f"node{i}": 1}, node_ip_address="127.0.0.1",
                   include_dashboard=False)  # fmt: skip
    yield c
    ray.shutdown()  # the driver leaves first: Cluster refuses to remove a node it is on
    c.shutdown()


def test_pinned_hosts_on_three_nodes_exchange_over_zeromq(cluster):
    cfg = make_tiny_cfg(
        drones=6,
        protocol={"topology": {"kind": "complete"}, "sync_every": 2},
        hosts={"resources": [{f"node{i}": 1} for i in range(N_NODES)]},
        ray={"address": cluster.address},
    )
    with HostPool(cfg, n_hosts=N_NODES, backend="ray") as pool:
        info = pool.ray_info()
        assert (info["nodes"], info["hosts"]) == (N_NODES, N_NODES)
        # Ray's own per-actor hook: the node each host actor was placed on
        ask = [a.__ray_call__.remote(lambda _: ray.get_runtime_context().get_node_id())
               for a in pool.hosts.actors]  # fmt: skip
        nodes = ray.get(ask)
        assert len(set(nodes)) == N_NODES  # one host per node
        assert [p["node_id"] for p in info["placement"]] == nodes  # recorded where they ran
        world = make_world(cfg, cfg.drones, 0)
        pool.configure("swarm", 0, world.public_info(), world.token_spec, cfg.drones)
        for t in range(4):
            world.step(pool.act(world.observe()))
            if t % 2 == 1:
                pool.exchange(t // 2)
        rows = pool.hosts.stats()
    # complete graph: every round each host sends one batched DELTA, BELIEF and CLAIM message
    # to each of the 3 hosts (itself included), so over 2 rounds it hears 3 x 3 x 2 = 18
    # messages, 12 of them from the hosts on the other two nodes
    for row in rows:
        assert row["host_socket_received"] == 3 * N_NODES * 2
        assert row["wire_bytes"] > 0

"""Ray lifecycle helpers: how many hosts, what each asks of a node, and placement checks."""

import os
import subprocess
import sys

import pytest

from swarm.raylife import (
    HostNode,
    NodeResources,
    PlacementError,
    host_count,
    host_requests,
    logs_hint,
    placement_problems,
    reserve,
)


def test_auto_is_one_host_per_cpu_never_more_than_brains():
    assert host_count("auto", 1024, 2.0) == 2
    assert host_count("auto", 1, 16.0) == 1
    assert host_count(256, 1024, 2.0) == 4
    assert host_count(300, 1024, 2.0) == 4  # ceil


def test_bad_agents_per_host_says_what_is_allowed():
    with pytest.raises(ValueError, match="'auto' or a positive integer"):
        host_count(0, 16, 2.0)


def test_hosts_ask_one_cpu_and_their_resources_cycled():
    pinned = host_requests(3, 8.0, [{"node0": 1}, {"node1": 1}])
    assert pinned == [{"CPU": 1, "node0": 1}, {"CPU": 1, "node1": 1}, {"CPU": 1, "node0": 1}]
    assert host_requests(2, 8.0, None) == [{"CPU": 1.0}, {"CPU": 1.0}]
    # unpinned hosts beyond the CPUs share them rather than wait for CPUs that never come
    assert host_requests(4, 2.0, None) == [{"CPU": 0.5}] * 4


def _node(name, **total):
    return NodeResources(node_id=f"id-{name}", address=name, total=total)


NODES = [_node("10.0.0.1", CPU=2.0, rack_a=1.0), _node("10.0.0.2", CPU=2.0, rack_b=1.0)]


def test_pinning_more_hosts_than_the_resource_allows_is_named():
    problems = placement_problems(host_requests(3, 4.0, [{"rack_b": 1}]), NODES)
    assert problems == ["3 hosts each need rack_b: 1; the cluster has 1"]


def test_a_resource_no_node_has_and_too_many_cpus_are_named():
    assert placement_problems(host_requests(1, 4.0, [{"gpu0": 1}]), NODES) == [
        "1 host needs gpu0: 1; the cluster has 0"
    ]
    assert placement_problems(host_requests(5, 4.0, [{"x": 0}]), NODES) == [
        "5 hosts each need CPU: 1; the cluster has 4"
    ]


def test_a_request_split_over_two_nodes_never_fits():
    problems = placement_problems([{"CPU": 1.0, "rack_a": 1.0, "rack_b": 1.0}], NODES)
    assert len(problems) == 1
    assert problems[0].startswith("host 0 needs {CPU: 1, rack_a: 1, rack_b: 1} on one node")
    assert "10.0.0.1: CPU: 2, rack_a: 1, rack_b: 0" in problems[0]


def test_requests_the_cluster_can_hold_have_no_problem():
    pins = [{"rack_a": 1}, {"rack_b": 1}]
    assert placement_problems(host_requests(2, 4.0, pins), NODES) == []
    assert placement_problems(host_requests(6, 4.0, None), NODES) == []  # shared CPUs


@pytest.mark.ray
def test_embedded_ray_stays_on_loopback_without_any_ray_variable_exported():
    # Ray reads RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER at import; without it, it would replace
    # 127.0.0.1 by the machine's routable address and listen on every interface
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    code = (
        "import os; from swarm.raylife import start_ray, stop_ray; info = start_ray(num_cpus=1); "
        "print(info.address, info.embedded, os.environ.get('RAY_AUTH_MODE')); stop_ray()"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    address, embedded, auth = proc.stdout.split()[-3:]
    assert address.startswith("127.0.0.1:") and embedded == "True"
    assert auth == "None"  # the embedded Ray's environment is not left behind


@pytest.mark.ray
def test_a_reservation_not_granted_in_time_fails_instead_of_waiting(ray_session):
    import ray
    from ray.util.placement_group import placement_group, remove_placement_group

    hog = placement_group([{"CPU": ray.cluster_resources()["CPU"]}])  # all CPUs, held
    assert hog.wait(60)
    try:
        with pytest.raises(PlacementError, match=r"did not place the 1 host\(s\) within hosts"):
            reserve([{"CPU": 1.0}], timeout_s=0.5)
    finally:
        remove_placement_group(hog)


@pytest.mark.ray
def test_hosts_are_reserved_on_nodes_and_ports_must_cover_them(ray_session):
    res = reserve([{"CPU": 0.5}] * 2, timeout_s=60, ports=(7000, 7001))
    try:
        assert [n.address for n in res.nodes] == ["127.0.0.1"] * 2
        assert res.options(1)["num_cpus"] == 0.5
    finally:
        res.release()
    with pytest.raises(PlacementError, match=r"holds 1 port.* placed 2 hosts on 127\.0\.0\.1"):
        reserve([{"CPU": 0.5}] * 2, timeout_s=60, ports=(7000, 7000))


@pytest.mark.ray
def test_logs_of_a_host_on_another_node_are_sent_to_that_device(ray_session):
    import ray

    here = logs_hint(HostNode(ray.get_runtime_context().get_node_id(), "127.0.0.1"))
    assert here.startswith("Ray logs: ") and here.endswith("/logs")  # this machine's folder
    there = logs_hint(HostNode("ab" * 28, "10.9.9.9"))
    assert there.startswith("Ray reports its node 10.9.9.9 (node id abababababab) not in the")
    assert "on its own device, under its `ray start --temp-dir`" in there

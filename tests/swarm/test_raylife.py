"""Ray lifecycle helpers: how many hosts, what each asks of a node, and placement checks."""

import pytest

from swarm.raylife import NodeResources, host_count, host_requests, placement_problems


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

"""Ray lifecycle helpers: how many hosts, where they go, and clear errors."""

import pytest

from swarm.raylife import host_count, host_options


def test_auto_is_one_host_per_cpu_never_more_than_brains():
    assert host_count("auto", 1024, 2.0) == 2
    assert host_count("auto", 1, 16.0) == 1
    assert host_count(256, 1024, 2.0) == 4
    assert host_count(300, 1024, 2.0) == 4  # ceil


def test_bad_agents_per_host_says_what_is_allowed():
    with pytest.raises(ValueError, match="'auto' or a positive integer"):
        host_count(0, 16, 2.0)


def test_hosts_pin_to_custom_resources_cycled_else_spread():
    pinned = [host_options(i, [{"node0": 1}, {"node1": 1}]) for i in range(3)]
    assert [o["resources"] for o in pinned] == [{"node0": 1}, {"node1": 1}, {"node0": 1}]
    assert all(o["num_cpus"] == 1 for o in pinned)
    assert host_options(0, None) == {"num_cpus": 1, "scheduling_strategy": "SPREAD"}

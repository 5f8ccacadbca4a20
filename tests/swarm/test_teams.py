"""Team plans: shards, owners and sharing modes are a pure function of team, N and hosts."""

import numpy as np
import pytest

from swarm.teams import TEAMS, budget_factor, make_plan, split_even, team_drones


def test_split_even_covers_every_id_once_with_sizes_within_one():
    shards = split_even(10, 3)
    assert [s.size for s in shards] == [4, 3, 3]
    assert np.array_equal(np.concatenate(shards), np.arange(10))


def test_swarm_shards_brains_with_their_drones():
    plan = make_plan("swarm", 5, 2, "ring")
    assert plan.sharing == "gossip" and plan.model == "small" and not plan.shared
    assert plan.brains_on(0).tolist() == [0, 1, 2] and plan.brains_on(1).tolist() == [3, 4]
    assert make_plan("swarm", 5, 2, "dynamic").sharing == "hub"


def test_no_host_holds_a_lone_brain_of_a_larger_team():
    plan = make_plan("isolated", 5, 4)
    assert [s.size for s in plan.drone_shards] == [3, 2, 0, 0]
    assert [s.size for s in make_plan("swarm", 2, 3).drone_shards] == [2, 0, 0]
    assert np.array_equal(np.concatenate(plan.drone_shards), np.arange(5))


def test_central_puts_one_shared_large_model_on_the_centre_host():
    plan = make_plan("central", 6, 3)
    assert plan.shared and plan.model == "large" and plan.sharing == "central"
    assert plan.brains_on(0).size == 6 and plan.brains_on(1).size == 0
    assert [s.size for s in plan.drone_shards] == [2, 2, 2]


def test_single_large_flies_one_drone_and_rejects_more():
    assert team_drones("single_large", 16) == 1 and team_drones("swarm", 16) == 16
    plan = make_plan("single_large", 1, 2)
    assert plan.n_brains == 1 and plan.drone_shards[1].size == 0
    with pytest.raises(ValueError, match="1 for single_large"):
        make_plan("single_large", 4, 2)
    with pytest.raises(ValueError, match="unknown team"):
        make_plan("hive", 4, 2)


def test_budget_preset_flies_one_large_drone_with_n_drones_budget():
    assert team_drones("single_large_budget", 16) == 1
    assert budget_factor("single_large_budget", 16) == 16
    assert all(budget_factor(t, 16) == 1 for t in TEAMS if t != "single_large_budget")
    plan = make_plan("single_large_budget", 1, 3)
    assert plan.model == "large" and plan.sharing == "none" and plan.n_brains == 1
    assert [s.size for s in plan.drone_shards] == [1, 0, 0]


def test_scripted_preset_flies_every_drone_with_the_fixed_detector_and_shares_nothing():
    assert team_drones("scripted", 6) == 6
    plan = make_plan("scripted", 6, 2, "star")  # the topology is the swarm's, not its own
    assert plan.model == "fixed" and plan.sharing == "none" and not plan.shared
    assert [s.size for s in plan.drone_shards] == [3, 3]

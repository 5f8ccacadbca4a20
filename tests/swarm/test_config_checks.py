"""Cross-section checks as pure functions: where each problem points, and what it says."""

from __future__ import annotations

import pytest

from agents.config import YanConfig
from protocols.config import TopologyConfig
from scenarios import REGISTRY
from scenarios.problems import Problem
from swarm.config_checks import (
    ConfigProblem,
    policy_problems,
    size_problems,
    topology_problems,
    world_problems,
)

SEARCH = REGISTRY["drone_search"]
PATROL = REGISTRY["litter_patrol"]


def locs(problems: list[ConfigProblem]) -> list[tuple]:
    return [p.loc for p in problems]


def test_consistent_world_has_no_problem() -> None:
    assert world_problems(SEARCH, SEARCH.Config(height=16, width=16), 4, None) == []


def test_world_problems_point_at_the_field_the_check_names() -> None:
    small = SEARCH.Config(height=8, width=8, max_alt_m=120.0)
    problems = world_problems(SEARCH, small, 100, None)
    assert ("drones",) in locs(problems)  # "n_drones" is the run's `drones`
    assert ("world", "max_alt_m") in locs(problems)  # the footprint at the ceiling
    by_loc = {p.loc: p.message for p in problems}
    assert by_loc[("drones",)].startswith("100 drones do not fit")


def test_ticks_replace_the_horizon_before_the_check() -> None:
    cfg = SEARCH.Config(height=16, width=16, inspect_ticks=5)
    assert world_problems(SEARCH, cfg, 4, 6) == []
    (problem,) = world_problems(SEARCH, cfg, 4, 3)
    assert problem.loc == ("ticks",) and "horizon" in problem.message  # ticks is the horizon
    (problem,) = world_problems(SEARCH, cfg.model_copy(update={"horizon": 3}), 4, None)
    assert problem.loc == ("world", "inspect_ticks")  # without ticks: the world's own field


class _HorizonWorld:
    """A world whose check names the horizon and a field its Config does not have."""

    Config = SEARCH.Config

    @classmethod
    def check(cls, cfg, n_drones: int) -> list[Problem]:
        return [Problem("horizon", "too short"), Problem("elsewhere", "whole section")]


def test_horizon_points_at_ticks_when_set_and_unknown_fields_at_world() -> None:
    cfg = SEARCH.Config()
    assert locs(world_problems(_HorizonWorld, cfg, 4, None)) == [("world", "horizon"), ("world",)]
    assert locs(world_problems(_HorizonWorld, cfg, 4, 50)) == [("ticks",), ("world",)]


@pytest.mark.parametrize(
    ("topo", "n", "where"),
    [
        ({"kind": "edges"}, 4, [("protocol", "topology", "edges")]),
        (
            {"kind": "edges", "edges": [(0, 1), (1, 1), (2, 9)]},
            4,
            [("protocol", "topology", "edges", 1), ("protocol", "topology", "edges", 2)],
        ),
        ({"kind": "random_regular", "degree": 3}, 5, [("protocol", "topology", "degree")]),
        ({"kind": "random_regular", "degree": 5}, 5, [("protocol", "topology", "degree")]),
        ({"kind": "small_world", "degree": 6}, 6, [("protocol", "topology", "degree")]),
        ({"kind": "random_regular", "degree": 2}, 5, []),
        ({"kind": "ring"}, 1, []),
    ],
)
def test_topology_problems(topo: dict, n: int, where: list[tuple]) -> None:
    assert locs(topology_problems(TopologyConfig(**topo), n)) == where


def test_policy_problems() -> None:
    assert policy_problems(SEARCH, "lawnmower", {}) == []
    (typo,) = policy_problems(SEARCH, "belief_gredy", {})
    assert typo.loc == ("policy", "name") and "did you mean 'belief_greedy'?" in typo.message
    (wrong_world,) = policy_problems(PATROL, "levy", {})
    assert "search worlds" in wrong_world.message and "idleness_greedy" in wrong_world.message
    bad = policy_problems(SEARCH, "belief_greedy", {"flg_p": 0.8, "flag_p": "high"})
    assert locs(bad) == [("policy", "params", "flg_p"), ("policy", "params", "flag_p")]
    assert "did you mean 'flag_p'?" in bad[0].message and "number" in bad[1].message


def test_every_world_names_a_default_policy_of_its_own_kind() -> None:
    for cls in REGISTRY.values():
        assert policy_problems(cls, cls.default_policy, {}) == []


def test_size_problems_refuse_what_cannot_be_built() -> None:
    small, world = YanConfig(), SEARCH.Config()  # 64 x 64 cells
    assert size_problems(world, 16, ["swarm"], small, None) == []
    (cells,) = size_problems(world, 40_000, ["swarm"], small, None)
    assert cells.loc == ("drones",) and "belief cells" in cells.message
    wide = YanConfig(d_model=1024)
    (brains,) = size_problems(world, 400, ["isolated"], wide, None)
    assert brains.loc == ("drones",) and "brains x" in brains.message
    assert size_problems(world, 400, ["single_large"], YanConfig(), None) == []
    huge = small.model_copy(update={"d_model": 4096, "n_layers": 8})  # as `auto` can scale
    (large,) = size_problems(world, 4, ["single_large"], small, huge)
    assert large.loc == ("model", "large") and "limit" in large.message

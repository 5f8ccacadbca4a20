"""Smoke test: every registered world runs a few ticks under the contract."""

import numpy as np
import pytest

from scenarios import POLICIES, REGISTRY, Observation, TokenSpec, make_policy


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_registered_world_runs(name):
    cls = REGISTRY[name]
    cfg = cls.Config(height=24, width=24, horizon=12)
    world = cls(cfg, n_drones=5, seed=0)
    assert isinstance(world.token_spec, TokenSpec)
    assert world.token_spec.input_dim == 3 * world.appearance_dim + 2
    info = world.public_info()
    pol = make_policy(cls.scripted_policy, info, np.arange(5), np.random.default_rng(0))
    while not world.done:
        obs = world.observe()
        assert isinstance(obs, Observation)
        assert obs.tokens.shape == (5, world.token_spec.input_dim)
        assert obs.tokens.dtype == np.float32 and np.isfinite(obs.tokens).all()
        assert obs.cells.shape == (5, 2) and obs.pose.shape == (5, 4) and obs.busy.shape == (5,)
        sim = obs.tokens[:, -1]
        assert (np.abs(sim) <= 1).all()
        world.step(pol.act(obs, np.full(5, 0.1, np.float32)))
        assert set(world.tick_metrics()) and all(np.isfinite(list(world.metrics().values())))
    assert world.tick == 12
    assert sorted(world.grid.all_cells.agents, key=lambda a: a.i)[0].i == 0


def test_mesa_agents_follow_the_arrays():
    cls = REGISTRY["drone_search"]
    world = cls(cls.Config(height=24, width=24, horizon=12), n_drones=6, seed=1)
    info = world.public_info()
    pol = make_policy("levy", info, np.arange(6), np.random.default_rng(0))
    for _ in range(6):
        obs = world.observe()
        world.step(pol.act(obs, np.zeros(6, np.float32)))
    for d in world.drones:
        assert d.cell.coordinate == tuple(world.bodies.pos[d.i].tolist())
        assert d in world.grid[d.cell.coordinate].agents
    assert sum(len(c.agents) for c in world.grid.all_cells) == 6


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_world_names_policies_that_fly_it(name):
    cls = REGISTRY[name]
    info = cls(cls.Config(height=24, width=24, horizon=12), n_drones=2, seed=0).public_info()
    for policy in (cls.default_policy, cls.scripted_policy):
        kind, _ = POLICIES[policy]
        assert kind == info.kind, f"{name}.{policy} is a {kind} policy"

"""Team variants: overrides resolved per team, and every mistake reported at its file line."""

from __future__ import annotations

import textwrap

import pytest

from swarm.config import ConfigError, load_config
from swarm.teams import TEAMS
from swarm.variants import OVERRIDES, resolve

GOOD = """\
scenario: drone_search
drones: 4
world: {height: 16, width: 16}
teams: [swarm, swarm_no_beliefs, frozen_swarm, big_battery, small_swarm]
reference: swarm_no_beliefs
model:
  small: {d_model: 16, n_layers: 1}
variants:
  - name: swarm_no_beliefs
    base: swarm
    protocol: {share_beliefs: false}
  - name: frozen_swarm
    base: swarm
    learner: {enabled: false}
  - name: big_battery
    base: single_large
    world: {battery_wh: 240.0}
  - name: small_swarm
    base: isolated
    drones: 3
    model:
      small: {d_model: 8}
"""


def _load(tmp_path, text):
    path = tmp_path / "run.yaml"
    path.write_text(textwrap.dedent(text))
    return path, load_config(path)


def _errors(tmp_path, text) -> tuple[str, list[str]]:
    path = tmp_path / "bad.yaml"
    path.write_text(textwrap.dedent(text))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(path), info.value.errors


def test_presets_fly_the_run_config_itself(tmp_path):
    _, cfg = _load(tmp_path, GOOD)
    assert resolve(cfg, "swarm") == ("swarm", cfg)
    with pytest.raises(KeyError, match="unknown team"):
        resolve(cfg, "nobody")


def test_variants_override_only_what_they_write(tmp_path):
    _, cfg = _load(tmp_path, GOOD)
    base, nb = cfg.team_config("swarm_no_beliefs")
    assert base == "swarm" and nb.protocol.share_beliefs is False
    assert nb.protocol.sync_every == cfg.protocol.sync_every  # not written: the run's
    assert nb.learner == cfg.learner and cfg.protocol.share_beliefs is True
    base, frozen = cfg.team_config("frozen_swarm")
    assert base == "swarm" and frozen.learner.enabled is False
    assert frozen.learner.lr == cfg.learner.lr
    base, budget = cfg.team_config("big_battery")
    assert base == "single_large" and budget.world.battery_wh == 240.0
    assert budget.world.height == 16 and cfg.world.battery_wh != 240.0
    base, small = cfg.team_config("small_swarm")
    assert base == "isolated" and small.drones == 3
    assert small.model.small.d_model == 8 and small.model.small.n_layers == 1
    assert cfg.reference == "swarm_no_beliefs"


def test_unknown_base_and_field_say_where_and_what(tmp_path):
    path, errs = _errors(
        tmp_path,
        """\
        scenario: drone_search
        variants:
          - name: nb
            base: swarn
          - name: other
            base: swarm
            protocol: {share_belief: false}
            colour: red
        """,
    )
    text = "\n".join(errs)
    assert f"{path}:4: variants.0.base: unknown base team 'swarn'; did you mean 'swarm'?" in text
    assert f"{path}:7: variants.1.protocol.share_belief: unknown field" in text
    assert "did you mean 'share_beliefs'?" in text
    assert f"{path}:8: variants.1.colour: unknown field 'colour'" in text


def test_names_teams_reference_and_overrides_are_checked(tmp_path):
    path, errs = _errors(
        tmp_path,
        """\
        scenario: drone_search
        teams: [swarm, nb_swarm, isolated]
        reference: central
        variants:
          - name: nb
            base: swarm
          - name: nb
            base: single_large
            drones: 3
            world: {battery_wh: -1, colour: 3}
          - name: isolated
            base: isolated
            protocol: {security: curve}
        """,
    )
    assert f"{path}:2: teams.1: unknown team 'nb_swarm'" in errs[0] and errs[0].endswith(", nb")
    assert errs[1].startswith(f"{path}:3: reference: unknown reference team 'central'")
    assert f"{path}:7: variants.1.name: duplicate variant name 'nb'" in errs
    assert any(e.startswith(f"{path}:9: variants.1.drones: single_large flies one") for e in errs)
    assert any(f"{path}:10: variants.1.world.battery_wh: " in e and "(got -1)" in e for e in errs)
    assert any(f"{path}:10: variants.1.world.colour: unknown field 'colour'" in e for e in errs)
    assert any(e.startswith(f"{path}:11: variants.2.name: 'isolated' is a built-in") for e in errs)
    assert (
        f"{path}:13: variants.2.protocol.security: protocol.security holds for the whole run"
        in errs[-1]
    )


def test_docs_example_loads_and_names_every_preset(tmp_path):
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "scenarios.md").read_text()
    section = doc.split("## Team variants", 1)[1].split("\n## ", 1)[0]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    _, cfg = _load(tmp_path, "scenario: drone_search\n" + example)
    assert [v.name for v in cfg.variants] == cfg.teams[2:]
    for name in cfg.teams:
        cfg.team_config(name)
    for team in TEAMS:
        assert f"`{team}`" in section
    for field in OVERRIDES:
        assert f"`{field}`" in section


def test_resolved_config_reruns_with_the_same_variants(tmp_path):
    import yaml

    _, cfg = _load(tmp_path, GOOD.replace("drones: 4", "drones: 4\nprotocol: {sync_every: 3}"))
    dumped = tmp_path / "resolved.yaml"
    dumped.write_text(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))
    again = load_config(dumped)
    for team in cfg.teams:
        assert again.team_config(team) == cfg.team_config(team)
    assert again.team_config("swarm_no_beliefs")[1].protocol.sync_every == 3  # the run's


def test_a_variants_own_drone_count_is_checked_against_the_topology(tmp_path):
    path, errs = _errors(
        tmp_path,
        """\
        scenario: drone_search
        drones: 8
        protocol: {topology: {kind: random_regular, degree: 3}}
        teams: [isolated, few]
        variants:
          - name: few
            base: swarm
            drones: 3
        """,
    )
    assert errs == [
        f"{path}:6: variants.0: protocol.topology.degree: random_regular degree 3 must be "
        "below the drone count 3"
    ]


def test_single_large_budget_carries_n_drones_battery_and_flight_time(tmp_path):
    _, cfg = _load(
        tmp_path,
        GOOD.replace(
            "world: {height: 16, width: 16}", "world: {height: 16, width: 16, horizon: 50}"
        ),
    )
    base, budget = cfg.team_config("single_large_budget")
    assert base == "single_large_budget" and budget.drones == cfg.drones == 4
    assert budget.world.battery_wh == 4 * cfg.world.battery_wh
    assert budget.world.horizon == 4 * 50 and budget.ticks is None
    assert budget.model == cfg.model and budget.learner == cfg.learner
    with_ticks = cfg.model_copy(update={"ticks": 30})
    assert with_ticks.team_config("single_large_budget")[1].ticks == 120
    assert cfg.team_config("single_large") == ("single_large", cfg)  # the god model: as is


def test_a_variant_of_the_budget_preset_starts_from_its_budget(tmp_path):
    _, cfg = _load(
        tmp_path,
        """\
        scenario: drone_search
        drones: 4
        world: {height: 16, width: 16}
        teams: [swarm, budget_frozen]
        variants:
          - {name: budget_frozen, base: single_large_budget, learner: {enabled: false}}
          - {name: scripted_too, base: scripted}
        """,
    )
    base, team = cfg.team_config("budget_frozen")
    assert base == "single_large_budget" and team.learner.enabled is False
    assert team.world.battery_wh == 4 * cfg.world.battery_wh


def test_new_presets_cannot_be_shadowed_and_take_no_drone_count(tmp_path):
    path, errs = _errors(
        tmp_path,
        """\
        scenario: drone_search
        variants:
          - name: scripted
            base: swarm
          - name: big
            base: single_large_budget
            drones: 3
        """,
    )
    assert any(e.startswith(f"{path}:3: variants.0.name: 'scripted' is a built-in") for e in errs)
    assert any(
        e.startswith(f"{path}:7: variants.1.drones: single_large_budget flies one") for e in errs
    )


def test_the_budget_drone_holds_n_batteries_and_drains_n_times_slower(tmp_path):
    import numpy as np

    from swarm.loop import make_world

    _, cfg = _load(tmp_path, GOOD)
    worlds = {
        t: make_world(cfg.team_config(t)[1], 1, 0) for t in ("single_large", "single_large_budget")
    }
    one, budget = worlds["single_large"].bodies, worlds["single_large_budget"].bodies
    assert budget.cfg.battery_wh == 4 * one.cfg.battery_wh
    for body in (one, budget):  # one hovering tick flying 10 m and climbing 2 m
        body.drain(np.array([10.0]), np.array([2.0]), np.array([True]))
    assert budget.energy_wh[0] == one.energy_wh[0] > 0  # the same drone spends the same
    # battery is float32: its fraction spent is good to about 1e-7 / 3e-4 of itself
    assert 1 - budget.battery[0] == pytest.approx((1 - one.battery[0]) / 4, rel=1e-3)
    assert worlds["single_large_budget"].cfg.horizon == 4 * worlds["single_large"].cfg.horizon

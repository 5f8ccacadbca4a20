"""RunConfig composition and load_config: shipped files, errors with lines, overrides."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from agents.config import YanConfig, count_params
from scenarios import REGISTRY
from swarm.config import ConfigError, RunConfig, load_config

SCENARIO_DIR = Path(__file__).resolve().parents[2] / "scenarios"
SHIPPED = sorted(SCENARIO_DIR.glob("*.yaml"))

# A small valid drone_search file; tests append or edit lines of it.
BASE = """\
name: t
scenario: drone_search
seeds: 2
drones: 4
world:
  height: 16
  width: 16
  max_alt_m: 60.0
"""


def write(tmp_path: Path, text: str, name: str = "run.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def errors_of(path: Path, overrides: dict | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path, overrides)
    assert info.value.errors, "ConfigError without error lines"
    return info.value.errors


def test_shipped_files_exist() -> None:
    names = {p.name for p in SHIPPED}
    assert {"drone_search.yaml", "litter_patrol.yaml", "smoke.yaml"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_file_validates(path: Path) -> None:
    cfg = load_config(path)
    assert isinstance(cfg.world, REGISTRY[cfg.scenario].Config)
    assert cfg.seeds and cfg.teams and cfg.policy.name


def test_defaults_and_world_type(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "scenario: drone_search\nworld: {max_alt_m: 60.0}\n"))
    assert cfg.name == "drone_search" and cfg.seeds == [0, 1, 2] and cfg.drones == 16
    assert cfg.teams == [
        "swarm",
        "isolated",
        "single_large",
        "central",
        "single_large_budget",
        "scripted",
    ]
    assert cfg.policy.name == "belief_greedy"
    assert type(cfg.world) is REGISTRY["drone_search"].Config
    assert cfg.world.max_alt_m == 60.0


def test_misspelled_key_reports_file_line_and_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, BASE + "  widht: 5\n")
    (line,) = errors_of(path)
    assert line.startswith(f"{path}:9: world.widht: unknown field 'widht'")
    assert "did you mean 'width'?" in line


def test_misspelled_top_level_and_nested_section(tmp_path: Path) -> None:
    path = write(tmp_path, BASE + "leaner:\n  lr: 0.1\nprotocol:\n  topology: {knd: ring}\n")
    lines = errors_of(path)
    assert lines[0].startswith(f"{path}:9: leaner: unknown field") and "'learner'" in lines[0]
    assert lines[1].startswith(f"{path}:12: protocol.topology.knd:") and "'kind'" in lines[1]


def test_negative_size_and_out_of_range(tmp_path: Path) -> None:
    path = write(tmp_path, BASE.replace("height: 16", "height: -3") + "  lookalike_cos: 1.5\n")
    lines = errors_of(path)
    assert lines[0].startswith(f"{path}:6: world.height:") and "-3" in lines[0]
    assert lines[1].startswith(f"{path}:9: world.lookalike_cos:") and "1.5" in lines[1]


def test_more_drones_than_cells_points_at_drones(tmp_path: Path) -> None:
    path = write(tmp_path, BASE.replace("drones: 4", "drones: 300"))
    lines = errors_of(path)
    assert any(x.startswith(f"{path}:4: drones:") and "300 drones" in x for x in lines), lines


def test_footprint_larger_than_map_points_at_field(tmp_path: Path) -> None:
    text = BASE.replace("max_alt_m: 60.0", "max_alt_m: 120.0").replace(": 16", ": 10")
    path = write(tmp_path, text)
    (line,) = errors_of(path)
    assert line.startswith(f"{path}:8: world.max_alt_m:") and "footprint" in line


def test_exponent_is_a_float(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, BASE + "learner:\n  lr: 1e-4\n"))
    assert cfg.learner.lr == pytest.approx(1e-4) and isinstance(cfg.learner.lr, float)


@pytest.mark.parametrize(("given", "seeds"), [("3", [0, 1, 2]), ("[5, 0, 42]", [5, 0, 42])])
def test_seeds_as_count_or_list(tmp_path: Path, given: str, seeds: list[int]) -> None:
    cfg = load_config(write(tmp_path, BASE.replace("seeds: 2", f"seeds: {given}")))
    assert cfg.seeds == seeds


@pytest.mark.parametrize("given", ["0", "[1, 1]", "[]", "[-1]", "true"])
def test_bad_seeds_point_at_seeds(tmp_path: Path, given: str) -> None:
    path = write(tmp_path, BASE.replace("seeds: 2", f"seeds: {given}"))
    (line,) = errors_of(path)
    assert line.startswith(f"{path}:3: seeds"), line


def test_teams_subset_unique_and_known(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, BASE + "teams: [central, swarm]\n"))
    assert cfg.teams == ["central", "swarm"]
    lines = errors_of(write(tmp_path, BASE + "teams:\n  - swarm\n  - swarm\n", "dup.yaml"))
    assert lines[0].startswith(f"{tmp_path / 'dup.yaml'}:9: teams:") and "repeated" in lines[0]
    lines = errors_of(write(tmp_path, BASE + "teams:\n  - swarm\n  - hive\n", "bad.yaml"))
    assert lines[0].startswith(f"{tmp_path / 'bad.yaml'}:11: teams.1:")


def test_unknown_scenario_lists_registered(tmp_path: Path) -> None:
    path = write(tmp_path, BASE.replace("scenario: drone_search", "scenario: drone_serch"))
    lines = errors_of(path)
    assert lines[0].startswith(f"{path}:2: scenario: unknown scenario 'drone_serch'")
    assert "did you mean 'drone_search'?" in lines[0]


def test_missing_scenario(tmp_path: Path) -> None:
    path = write(tmp_path, "drones: 4\n")
    (line,) = errors_of(path)
    assert line.startswith(f"{path}:1: scenario: required field is missing")


def test_large_auto_scales_small(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, BASE))
    assert cfg.model.large == "auto"
    ratio = count_params(cfg.large_model()) / count_params(cfg.model.small)
    assert 0.7 * cfg.drones <= ratio <= 1.3 * cfg.drones
    text = BASE + "model:\n  large: {d_model: 48}\n"
    cfg = load_config(write(tmp_path, text, "explicit.yaml"))
    assert isinstance(cfg.model.large, YanConfig) and cfg.large_model().d_model == 48


def test_bad_large_reports_one_error(tmp_path: Path) -> None:
    path = write(tmp_path, BASE + "model:\n  large: automatic\n")
    (line,) = errors_of(path)
    assert line.startswith(f"{path}:10: model.large:") and "'auto'" in line
    path = write(tmp_path, BASE + "model:\n  large:\n    d_model: 30\n", "shape.yaml")
    (line,) = errors_of(path)
    assert line.startswith(f"{path}:10: model.large:") and "divisible" in line


def test_agents_per_host_and_resources(tmp_path: Path) -> None:
    text = BASE + "hosts:\n  agents_per_host: 8\n  resources: {gpu0: 1}\n"
    cfg = load_config(write(tmp_path, text))
    assert cfg.hosts.agents_per_host == 8 and cfg.hosts.resources == [{"gpu0": 1.0}]
    path = write(tmp_path, BASE + "hosts:\n  agents_per_host: 0\n", "zero.yaml")
    (line,) = errors_of(path)
    assert line.startswith(f"{path}:10: hosts.agents_per_host:")


def test_snapshot_dir_is_absolute_or_the_nodes_temporary_folder(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, BASE)).hosts.snapshot_dir is None
    text = BASE + f"hosts:\n  snapshot_dir: {tmp_path}\n"
    assert load_config(write(tmp_path, text)).hosts.snapshot_dir == str(tmp_path)
    path = write(tmp_path, BASE + "hosts:\n  snapshot_dir: snaps\n", "relative.yaml")
    (line,) = errors_of(path)
    assert "hosts.snapshot_dir" in line and "absolute" in line


def test_topology_cross_check(tmp_path: Path) -> None:
    text = BASE.replace("drones: 4", "drones: 5") + "protocol:\n  topology:\n"
    path = write(tmp_path, text + "    kind: random_regular\n    degree: 3\n")
    (line,) = errors_of(path)
    assert line.startswith(f"{path}:12: protocol.topology.degree:") and "odd" in line
    path = write(tmp_path, text + "    kind: edges\n    edges: [[0, 1], [1, 9]]\n", "e.yaml")
    (line,) = errors_of(path)
    assert line.startswith(f"{path}:12: protocol.topology.edges.1:")


def test_overrides(tmp_path: Path) -> None:
    path = write(tmp_path, BASE)
    cfg = load_config(path, {"seeds": 5, "ticks": 40, "teams": ["swarm"], "learner.lr": 0.01})
    assert cfg.seeds == [0, 1, 2, 3, 4] and cfg.ticks == 40 and cfg.teams == ["swarm"]
    assert cfg.learner.lr == 0.01
    assert load_config(path, {"ticks": None}).ticks is None
    (line,) = errors_of(path, {"ticks": 0})
    assert line.startswith(f"{path}: ticks:") and "command line" in line


def test_ticks_override_is_checked_against_world(tmp_path: Path) -> None:
    path = write(tmp_path, BASE + "  inspect_ticks: 5\n")
    (line,) = errors_of(path, {"ticks": 3})
    # the horizon checked is `ticks`: the error blames the override, not the world's line
    assert line.startswith(f"{path}: ticks:") and "horizon" in line and "command line" in line
    assert load_config(path, {"ticks": 6}).ticks == 6


def test_duplicate_key_malformed_empty_and_missing(tmp_path: Path) -> None:
    (line,) = errors_of(write(tmp_path, BASE + "drones: 5\n", "dup.yaml"))
    assert line.startswith(f"{tmp_path / 'dup.yaml'}:9: drones: duplicate key")
    (line,) = errors_of(write(tmp_path, "scenario: [drone_search\n", "bad.yaml"))
    assert line.startswith(f"{tmp_path / 'bad.yaml'}:") and "YAML syntax error" in line
    (line,) = errors_of(write(tmp_path, "# nothing\n", "empty.yaml"))
    assert "empty" in line
    (line,) = errors_of(write(tmp_path, "- scenario\n", "list.yaml"))
    assert "expected `field: value`" in line
    (line,) = errors_of(tmp_path / "absent.yaml")
    assert line.startswith(f"{tmp_path / 'absent.yaml'}: file not found")


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_model_dump_round_trips(path: Path) -> None:
    cfg = load_config(path)
    assert RunConfig.model_validate(cfg.model_dump()) == cfg
    assert RunConfig.model_validate(cfg.model_dump(mode="json")) == cfg


def test_policy_default_name_and_params(tmp_path: Path) -> None:
    text = "scenario: litter_patrol\ndrones: 4\n"
    assert load_config(write(tmp_path, text)).policy.name == "idleness_greedy"
    path = write(tmp_path, BASE + "policy:\n  name: belief_gredy\n", "typo.yaml")
    (line,) = errors_of(path)
    assert line.startswith(f"{path}:10: policy.name:") and "'belief_greedy'" in line
    path = write(tmp_path, BASE + "policy:\n  name: cyclic_tour\n", "mode.yaml")
    (line,) = errors_of(path)
    assert line.startswith(f"{path}:10: policy.name:") and "patrol worlds" in line
    text = BASE + "policy:\n  params:\n    flag_p: 0.8\n    flg_p: 0.8\n"
    path = write(tmp_path, text, "param.yaml")
    (line,) = errors_of(path)
    assert line.startswith(f"{path}:12: policy.params.flg_p:") and "'flag_p'" in line

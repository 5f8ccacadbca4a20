"""`--set PATH=VALUE` and `--grid PATH=A,B`: YAML 1.2 values, validated like the file, errors
that name the flag."""

from __future__ import annotations

from pathlib import Path

import pytest

from swarm.config import ConfigError
from swarm.overrides import OverrideError, parse_grid, parse_set
from swarm.run import EXIT_INVALID, load_run_config, main

SMOKE = Path(__file__).resolve().parents[2] / "scenarios" / "smoke.yaml"


def test_values_are_yaml_1_2():
    assert parse_set("model.small.d_model=32").value == 32
    assert parse_set("learner.lr=1e-4").value == 1e-4  # a float in YAML 1.2, a string in 1.1
    assert parse_set("output.plots=yes").value == "yes"  # not a boolean in YAML 1.2
    assert parse_set("teams=[swarm, isolated]").value == ["swarm", "isolated"]
    assert parse_set("protocol.codec={kind: topk_int8, fraction: 0.1}").value == {
        "kind": "topk_int8",
        "fraction": 0.1,
    }
    assert parse_grid("drones=4,8,16") == ("drones", [4, 8, 16])
    assert parse_grid("teams=[[swarm],[swarm,isolated]]") == (
        "teams",
        [["swarm"], ["swarm", "isolated"]],
    )


def test_nested_and_list_fields_reach_the_config():
    sets = ["protocol.topology.kind=star", "model.small.d_model=32", "teams=[swarm,isolated]"]
    cfg = load_run_config(SMOKE, [parse_set(s) for s in sets])
    assert cfg.protocol.topology.kind == "star"
    assert cfg.model.small.d_model == 32
    assert cfg.teams == ["swarm", "isolated"]


@pytest.mark.parametrize(
    ("arg", "expected"),
    [
        ("protocol.topolgy.kind=star", "unknown field 'topolgy'; did you mean 'topology'?"),
        ("model.small.d_model=abc", "Input should be a valid integer"),
        ("teams=[swarm,isolatd]", "teams.1: unknown team 'isolatd'; did you mean 'isolated'?"),
        ("output.plots=yes", "expected a bool, got the string 'yes'"),
        ("seeds.first=3", "'seeds' is not a section"),
        ("drones=0", "Input should be greater than 0"),
        # a list of sections, and a list whose entries must differ
        ("hosts.resources=[{CPU: -1}]", "hosts.resources.0.CPU: Input should be greater than"),
        ("hosts.resources=[{CPU: x}]", "hosts.resources.0.CPU: Input should be a valid number"),
        ("seeds=[0, 0]", "each entry may appear once; repeated: 0"),
        ("model.small=[1, 2]", "Input should be a valid dictionary or instance of YanConfig"),
    ],
)
def test_bad_path_or_value_names_the_flag(arg, expected):
    with pytest.raises(ConfigError) as err:
        load_run_config(SMOKE, [parse_set(arg)])
    assert any(line.startswith(f"--set {arg}: ") and expected in line for line in err.value.errors)


@pytest.mark.parametrize(
    ("arg", "expected"),
    [
        ("drones", "write PATH=VALUE"),
        ("drones=", "give a value after '='"),
        ("world.height=[1", "YAML syntax error"),
        ("9lives=1", "is not a field path"),
        ("teams.0=swarm", r"a list is set whole, e.g. teams=\[swarm, isolated\]"),
    ],
)
def test_malformed_set_is_refused(arg, expected):
    with pytest.raises(OverrideError, match=expected) as err:
        parse_set(arg)
    assert str(err.value).startswith("--set ")


def test_cli_exits_1_with_the_flag_in_the_message(tmp_path, capsys):
    code = main([str(SMOKE), "--set", "protocol.topolgy.kind=star", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == EXIT_INVALID
    assert "--set protocol.topolgy.kind=star: " in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()  # nothing started, nothing written

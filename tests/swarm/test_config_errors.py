"""From pydantic errors to `FILE:LINE: field.path: message`: locs, suggestions, line order."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agents.config import YanConfig
from swarm.config import RunConfig, run_config_class
from swarm.config_errors import (
    AUTO_TAG,
    VALUE_TAG,
    clean_loc,
    fields_at,
    format_errors,
    model_in,
    suggest,
)
from swarm.yaml_lines import parse_yaml


def test_clean_loc_drops_union_tags_and_validator_steps() -> None:
    data = {"model": {"large": {"d_model": 30}}, "teams": ["swarm", "hive"]}
    assert clean_loc(("model", "large", VALUE_TAG, "d_model"), data) == (
        "model",
        "large",
        "d_model",
    )
    assert clean_loc(("model", "large", AUTO_TAG), {"model": {"large": "x"}}) == ("model", "large")
    assert clean_loc(("teams", "function-after[_unique()]", 1), data) == ("teams", 1)
    # a missing or unknown key names itself, whatever follows it
    assert clean_loc(("world", "widht"), {"world": {}}) == ("world", "widht")


def test_model_in_and_fields_at_follow_nested_sections() -> None:
    assert model_in(YanConfig | None) is YanConfig
    assert model_in(list[int]) is None
    cls = run_config_class("drone_search")
    assert "max_alt_m" in fields_at(cls, ("world", "widht"))
    assert "d_model" in fields_at(cls, ("model", "small", "dmodel"))
    assert "drones" in fields_at(cls, ("dornes",))


@pytest.mark.parametrize(
    ("key", "allowed", "expected"),
    [
        ("widht", ["width", "height"], "did you mean 'width'?"),
        ("zzz", ["width", "height"], "allowed: width, height"),
        ("zzz", [], "remove it"),
    ],
)
def test_suggest(key: str, allowed: list[str], expected: str) -> None:
    assert suggest(key, allowed) == expected


def test_format_errors_sorts_by_line_and_marks_command_line_values() -> None:
    text = "scenario: drone_search\ndrones: 0\nworld:\n  widht: 3\n"
    doc = parse_yaml(text, "f.yaml")
    data = dict(doc.data, ticks=0)  # as if `--ticks 0` had been given
    with pytest.raises(ValidationError) as info:
        RunConfig.model_validate(data)
    lines = format_errors(info.value, doc, run_config_class("drone_search"), {("ticks",)})
    assert lines[0].startswith("f.yaml: ticks: ") and lines[0].endswith("(set on the command line)")
    assert lines[1].startswith("f.yaml:2: drones: ") and "(got 0)" in lines[1]
    assert lines[2] == "f.yaml:4: world.widht: unknown field 'widht'; did you mean 'width'?"

"""YAML loading with line numbers: floats, duplicates, syntax errors, missing files."""

from __future__ import annotations

from pathlib import Path

import pytest

from swarm.yaml_lines import YamlLoadError, load_yaml, parse_yaml

TEXT = """\
name: demo
learner:
  lr: 1e-4
  window: 1E5
teams:
  - swarm
  - isolated
"""


def test_exponent_floats_are_numbers() -> None:
    doc = parse_yaml("a: 1e-4\nb: 1E5\nc: -2.5e+3\nd: .5e2\ne: 1.0\nf: 3\ng: 1e\n")
    assert doc.data == {"a": 1e-4, "b": 1e5, "c": -2500.0, "d": 50.0, "e": 1.0, "f": 3, "g": "1e"}
    assert isinstance(doc.data["a"], float) and isinstance(doc.data["f"], int)


def test_lines_of_keys_and_items() -> None:
    doc = parse_yaml(TEXT, "demo.yaml")
    assert doc.lines[("name",)] == 1
    assert doc.lines[("learner", "lr")] == 3
    assert doc.lines[("learner", "window")] == 4
    assert doc.lines[("teams", 1)] == 7


def test_line_of_missing_field_is_its_parent() -> None:
    doc = parse_yaml(TEXT, "demo.yaml")
    assert doc.line_of(("learner", "ewc_weight")) == 2
    assert doc.line_of(("ray", "address")) == 1  # nothing of it in the file: first line


def test_merge_keys_keep_local_lines() -> None:
    doc = parse_yaml("base: &b\n  x: 1\n  y: 2\nuse:\n  <<: *b\n  y: 3\n")
    assert doc.data["use"] == {"x": 1, "y": 3}
    assert doc.lines[("use", "y")] == 6


def test_duplicate_key_is_an_error_with_both_lines() -> None:
    with pytest.raises(YamlLoadError) as info:
        parse_yaml("world:\n  width: 4\n  width: 5\n", "dup.yaml")
    (line,) = info.value.errors
    assert line.startswith("dup.yaml:3: world.width: duplicate key 'width'")
    assert "line 2" in line


def test_syntax_error_names_file_and_line() -> None:
    with pytest.raises(YamlLoadError) as info:
        parse_yaml("a: 1\nb: [1, 2\nc: 3\n", "bad.yaml")
    (line,) = info.value.errors
    assert line.startswith("bad.yaml:") and "YAML syntax error" in line
    assert int(line.split(":")[1]) >= 2


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(YamlLoadError, match="file not found"):
        load_yaml(tmp_path / "nope.yaml")
    with pytest.raises(YamlLoadError, match="is a directory"):
        load_yaml(tmp_path)


def test_empty_document_is_none() -> None:
    assert parse_yaml("# only a comment\n").data is None

"""YAML loading with line numbers: floats, duplicates, syntax errors, missing files."""

from __future__ import annotations

from pathlib import Path

import pytest

from swarm.yaml_lines import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_NODES,
    YamlLoadError,
    load_yaml,
    parse_yaml,
)

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


def test_yaml_12_scalars() -> None:
    doc = parse_yaml(
        "a: 1:20\nb: yes\nc: no\nd: on\ne: true\nf: False\ng: 010\nh: 0x1F\ni: 0o17\n"
        "j: 2024-05-06\nk: .inf\nl: -3\nm: 1_000\nn: +5\n"
    )
    assert doc.data == {
        "a": "1:20", "b": "yes", "c": "no", "d": "on", "e": True, "f": False, "g": 10,
        "h": 31, "i": 15, "j": "2024-05-06", "k": float("inf"), "l": -3, "m": "1_000", "n": 5,
    }  # fmt: skip


def _bomb(levels: int = 7, fan: int = 10) -> str:
    lines = ["a0: &a0 [" + ",".join("x" * fan) + "]"]
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * fan) + "]")
    return "scenario: drone_search\n" + "\n".join(lines) + "\n"


def test_alias_bomb_is_an_error_with_a_line_and_bounded_memory() -> None:
    import tracemalloc

    text = _bomb()
    assert len(text) < 500  # ten million values when expanded
    tracemalloc.start()
    try:
        with pytest.raises(YamlLoadError) as info:
            parse_yaml(text, "bomb.yaml")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    (line,) = info.value.errors
    assert line.startswith("bomb.yaml:") and f"more than {MAX_NODES} values" in line
    assert peak < 200 * 2**20  # the walk stops at the budget, it never expands the bomb


def test_small_aliases_still_work() -> None:
    doc = parse_yaml("base: &b [1, 2]\nuse: *b\nmore: *b\n")
    assert doc.data == {"base": [1, 2], "use": [1, 2], "more": [1, 2]}


@pytest.mark.parametrize("text", ["a: " + "[" * 500 + "]" * 500, "a:\n" + "".join(
    f"{' ' * (2 * i)}k{i}:\n" for i in range(1, 60)) + " " * 120 + "v: 1\n"])  # fmt: skip
def test_deep_nesting_is_an_error_with_a_line(text: str) -> None:
    with pytest.raises(YamlLoadError) as info:
        parse_yaml(text, "deep.yaml")
    (line,) = info.value.errors
    assert line.startswith("deep.yaml:") and f"more than {MAX_DEPTH} levels" in line


def test_nesting_through_aliases_counts_expanded() -> None:
    inner = "[" * 20 + "1" + "]" * 20
    text = f"a: &a {inner}\nb: &b [*a]\nc: [[[[[[[[[[[[[[[*b]]]]]]]]]]]]]]]\n"
    with pytest.raises(YamlLoadError, match=f"more than {MAX_DEPTH} levels deep"):
        parse_yaml(text, "x.yaml")


def test_oversized_file_is_an_error_naming_the_line(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("scenario: drone_search\n" + "# padding\n" * (MAX_FILE_BYTES // 10 + 10))
    with pytest.raises(YamlLoadError) as info:
        load_yaml(big)
    (line,) = info.value.errors
    assert line.startswith(f"{big}:") and f"longer than {MAX_FILE_BYTES}" in line

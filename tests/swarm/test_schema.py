"""JSON Schema of scenario files and the field reference in docs/scenarios.md."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from swarm.config import RunConfig, load_config
from swarm.schema import markdown_tables, run_config_schema
from swarm.yaml_lines import load_yaml

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = run_config_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_schema_accepts_shipped_files(validator: jsonschema.Validator, path: Path) -> None:
    errors = [e.message for e in validator.iter_errors(load_yaml(path).data)]
    assert errors == []


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_schema_accepts_resolved_config(validator: jsonschema.Validator, path: Path) -> None:
    """What a run writes as config.yaml (every default filled in) is a valid file too."""
    data = load_config(path).model_dump(mode="json")
    assert [e.message for e in validator.iter_errors(data)] == []
    assert RunConfig.model_validate(data) == load_config(path)


@pytest.mark.parametrize(
    "data",
    [
        {"scenario": "drone_search", "drones": 0},
        {"scenario": "drone_search", "world": {"widht": 5}},
        {"scenario": "drone_search", "world": {"n_bins": 3}},  # a litter_patrol field
        {"scenario": "nowhere"},
        {"scenario": "drone_search", "teams": []},
        {"scenario": "drone_search", "variants": [{"name": "v", "base": "swarm", "colour": 1}]},
        {"scenario": "drone_search", "seeds": 0},
    ],
)
def test_schema_rejects_bad_data(validator: jsonschema.Validator, data: dict) -> None:
    assert not validator.is_valid(data)


def test_schema_is_discriminated_by_scenario() -> None:
    schema = run_config_schema()
    assert set(schema["discriminator"]["mapping"]) >= {"drone_search", "litter_patrol"}


def test_schema_cli_prints_json() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "swarm.schema"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["title"] == "swarm scenario file"


def _tables(text: str) -> dict[str, list[tuple[str, str, str]]]:
    """Markdown with model markers -> model path -> (field, type, default) per table row."""
    out: dict[str, list[tuple[str, str, str]]] = {}
    for block in re.split(r"<!-- model: ", text)[1:]:
        path, _, rest = block.partition(" -->")
        table = rest.split("\n\n", 2)[1] if rest.startswith("\n\n") else rest
        cell = r"((?:[^|\\]|\\.)*)"  # a cell may hold escaped pipes: `int \| null`
        rows = re.findall(rf"^\| `([^`]+)` \| {cell} \| {cell} \|", table, flags=re.MULTILINE)
        out[path] = [(n, t.strip(), d.strip()) for n, t, d in rows]
    return out


def test_docs_list_every_field_of_every_model() -> None:
    documented = _tables((ROOT / "docs" / "scenarios.md").read_text())
    generated = _tables(markdown_tables())
    assert set(documented) == set(generated), "rerun `python -m swarm.schema --markdown`"
    for path, rows in documented.items():
        module, _, cls = path.rpartition(".")
        model = getattr(importlib.import_module(module), cls)
        names = [name for name, _, _ in rows]
        assert names == list(model.model_fields), f"{path}: fields in docs/scenarios.md differ"
        # types and defaults must be the models' own (the meaning column may be hand-written)
        assert rows == generated[path], f"{path}: types or defaults in docs/scenarios.md differ"


def test_metric_directions_in_the_docs_match_the_scorecard():
    """docs/scenarios.md "Metrics" says which way each metric is better as METRICS does."""
    from swarm.scorecard import METRICS
    from swarm.stats import Better

    arrow = {"↑": Better.HIGHER, "↓": Better.LOWER, "—": Better.NEITHER}
    text = (ROOT / "docs" / "scenarios.md").read_text().split("## Metrics", 1)[1]
    documented = {}
    for line in text.split("\n## ", 1)[0].splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 5 and cells[4] in arrow:
            for name in cells[0].replace("`", "").split(","):
                documented[name.strip()] = arrow[cells[4]]
    assert set(METRICS) <= set(documented), "a scorecard metric is missing from the docs"
    assert {k: documented[k] for k in METRICS} == {k: m.better for k, m in METRICS.items()}

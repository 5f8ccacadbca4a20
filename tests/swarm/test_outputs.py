"""The output folder: config, incremental results.json, per-tick CSV, plots (no Ray needed)."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os

import pytest
import yaml

from swarm.outputs import SCHEMA_VERSION, atomic_write_json, run_dir_name, team_entry
from tests.swarm.run_records import demo_outputs, demo_run


def test_run_dir_name_has_name_and_timestamp():
    assert run_dir_name("demo", dt.datetime(2024, 5, 6, 7, 8, 9)) == "demo-20240506-070809"


def test_config_and_initial_results_are_written(tmp_path):
    out = demo_outputs(tmp_path)
    assert yaml.safe_load(out.config_path.read_text()) == {
        "name": "demo",
        "drones": 4,
        "learner": {"lr": 1e-3},
    }
    doc = json.loads(out.results_path.read_text())
    assert doc["schema_version"] == SCHEMA_VERSION
    assert doc["status"] == "running" and doc["teams"] == {}
    assert doc["seeds"] == [0, 1] and doc["scenario"] == "drone_search"


def test_results_rewritten_after_each_record(tmp_path):
    out = demo_outputs(tmp_path)
    out.set_ray({"backend": "local", "nodes": 0, "hosts": 1})
    out.record("swarm", demo_run(0, True, 20, 1000))
    doc = json.loads(out.results_path.read_text())
    assert [r["seed"] for r in doc["teams"]["swarm"]["runs"]] == [0]
    out.record("swarm", demo_run(1, False, 50, 3000))
    doc = json.loads(out.results_path.read_text())
    team = doc["teams"]["swarm"]
    assert team["wire_bytes"] == 4000 and team["train_steps"] == 14
    assert team["params_per_brain"] == 500 and team["brains"] == 4
    assert team["summary"]["time_to_find"]["median"] == 35.0
    assert team["runs"][0]["auc_curve"][-1] == [20, None]  # NaN is stored as null
    assert doc["ray"] == {"backend": "local", "nodes": 0, "hosts": 1}
    out.finish("complete")
    assert json.loads(out.results_path.read_text())["status"] == "complete"


def test_team_entry_keeps_runs_and_summary():
    entry = team_entry([demo_run(0, True, 10, 5), demo_run(1, True, 30, 7)])
    assert entry["summary"]["time_to_find"]["median"] == 20.0
    assert entry["wire_bytes"] == 12 and len(entry["runs"]) == 2


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    path = tmp_path / "r.json"
    atomic_write_json(path, {"a": 1})
    with pytest.raises(TypeError):
        atomic_write_json(path, {"a": object()})
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temporary left behind
    umask = os.umask(0)
    os.umask(umask)
    # not mkstemp's private 0600: the same mode as any other file the run writes
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_csv_rows_and_csv_every(tmp_path):
    out = demo_outputs(tmp_path, csv_every=2)
    for tick in range(1, 6):
        row = {"tick": float(tick), "coverage": tick / 10, "found": False}  # a world's own tick
        out.tick("swarm", 0, tick, row, last=tick == 5)
    out.finish("complete")
    rows = list(csv.DictReader(out.csv_path.open()))
    assert [int(r["tick"]) for r in rows] == [2, 4, 5]  # every 2nd, and the last
    assert rows[0] == {"team": "swarm", "seed": "0", "tick": "2", "coverage": "0.2", "found": "0"}


def test_csv_rejects_new_columns(tmp_path):
    out = demo_outputs(tmp_path)
    out.tick("swarm", 0, 1, {"coverage": 0.1}, last=False)
    with pytest.raises(ValueError, match="same keys every tick"):
        out.tick("swarm", 0, 2, {"coverage": 0.1, "surprise": 1.0}, last=False)

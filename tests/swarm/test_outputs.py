"""The output folder: config, incremental results.json, per-tick CSV, plots (no Ray needed)."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os

import pytest
import yaml

from swarm.outputs import (
    SCHEMA_VERSION,
    OutputWriteError,
    RunFolderInUse,
    atomic_write_json,
    new_run_dir,
    run_dir_name,
    team_entry,
)
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


def test_default_run_folders_are_unique_within_one_second(tmp_path):
    when = dt.datetime(2024, 5, 6, 7, 8, 9)
    first, second = new_run_dir(tmp_path, "demo", when), new_run_dir(tmp_path, "demo", when)
    assert (first.name, second.name) == ("demo-20240506-070809", "demo-20240506-070809-2")
    assert first.is_dir() and second.is_dir()


def test_a_folder_holding_a_run_is_never_written_again(tmp_path):
    out = demo_outputs(tmp_path)
    out.record("swarm", demo_run(0, True, 20, 1000))
    out.finish("complete")
    before = {p.name: p.read_bytes() for p in out.dir.iterdir()}
    with pytest.raises(RunFolderInUse, match="already holds a run"):
        demo_outputs(tmp_path)
    assert {p.name: p.read_bytes() for p in out.dir.iterdir()} == before


def test_full_disk_still_marks_results_failed_in_place(tmp_path, monkeypatch):
    import errno

    import swarm.outputs as outputs_mod

    out = demo_outputs(tmp_path)
    out.record("swarm", demo_run(0, True, 20, 1000))

    def no_space(path, doc):  # no room for the temporary copy an atomic write needs
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(outputs_mod, "atomic_write_json", no_space)
    with pytest.raises(OutputWriteError, match=r"results\.json: No space left"):
        out.record("swarm", demo_run(1, True, 20, 1000))
    out.finish("failed", "cannot write results.json: No space left on device " + "x" * 10_000)
    doc = json.loads(out.results_path.read_text())  # valid JSON, padded in place
    assert doc["status"] == "failed" and doc["error"].startswith("cannot write results.json")
    assert [r["seed"] for r in doc["teams"]["swarm"]["runs"]] == [0]  # what reached the disk


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs Linux's /dev/full")
def test_csv_on_a_full_device_names_the_file_and_finish_still_writes_the_status(tmp_path):
    out = demo_outputs(tmp_path)
    out.tick("swarm", 0, 0, {"coverage": 0.1}, False)
    out._csv_file.close()
    out._csv_file = open("/dev/full", "w", buffering=1)  # noqa: SIM115 -- ENOSPC per line
    with pytest.raises(OutputWriteError, match=r"ticks\.csv: No space left on device"):
        out.tick("swarm", 0, 1, {"coverage": 0.2}, False)
    out.finish("failed", "disk full")
    assert json.loads(out.results_path.read_text())["status"] == "failed"

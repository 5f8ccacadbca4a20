"""swarm.merge: run folders split by seed or team become one scorecard, or a clear refusal."""

from __future__ import annotations

import csv
import json
import math

import pytest

from swarm.merge import MergeError, main, merge_documents, merge_folders
from swarm.outputs import RunOutputs, team_entry
from swarm.scorecard import comparison
from tests.swarm.run_records import demo_run

CONFIG = {"name": "demo", "drones": 4, "learner": {"lr": 1e-3}, "seeds": [0, 1]}

# (team, seed) -> the run record every folder that flies it writes
RUNS = {
    (team, seed): demo_run(seed, found, ttf, wire)
    for team, base in (("swarm", 0), ("isolated", 1))
    for seed, found, ttf, wire in [
        (s, float((s + base) % 2), 20 + 3 * s + base, 100 * (s + 1)) for s in range(6)
    ]
}


def _text(x) -> str:
    return json.dumps(x, sort_keys=True)


def _folder(path, teams, seeds, config=CONFIG, runs=RUNS, status="complete"):
    out = RunOutputs(
        path,
        name="demo",
        scenario="drone_search",
        seeds=seeds,
        teams=teams,
        config={**config, "seeds": seeds, "teams": teams},
    )
    for seed in seeds:
        for team in teams:
            for tick in (1, 2):
                out.tick(team, seed, tick, {"coverage": 0.1 * tick + seed}, last=tick == 2)
            out.record(team, runs[(team, seed)])
    out.finish(status)
    return path


def test_split_by_seed_and_team_equals_one_run(tmp_path):
    """Seeds 0-2 + 3-5 of swarm, and isolated alone: the union's team entries and paired
    comparison are what the scorecard computes over all six seeds."""
    a = _folder(tmp_path / "a", ["swarm"], [0, 1, 2])
    b = _folder(tmp_path / "b", ["swarm"], [3, 4, 5])
    c = _folder(tmp_path / "c", ["isolated"], list(range(6)))
    doc = merge_folders(tmp_path / "out", [a, b, c], reference="swarm")
    written = {  # each record as its folder wrote it (NaN curve points become null on disk)
        (t, r["seed"]): r
        for f in (a, b, c)
        for t, e in json.loads((f / "results.json").read_text())["teams"].items()
        for r in e["runs"]
    }
    whole = {t: team_entry([written[(t, s)] for s in range(6)]) for t in ("swarm", "isolated")}
    assert _text(doc["teams"]) == _text(whole)
    assert _text(doc["comparison"]) == _text(comparison(whole, "swarm"))
    assert doc["status"] == "complete" and doc["seeds"] == list(range(6))
    assert [m["runs"] for m in doc["merged_from"]] == [3, 3, 6]
    on_disk = json.loads((tmp_path / "out" / "results.json").read_text())
    assert on_disk["teams_order"] == ["swarm", "isolated"]
    with (tmp_path / "out" / "ticks.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert sorted({(r["team"], int(r["seed"])) for r in rows}) == sorted(RUNS)
    assert len(rows) == 2 * len(RUNS)


def test_identical_duplicates_are_kept_once_and_missing_seeds_say_interrupted(tmp_path):
    a = _folder(tmp_path / "a", ["swarm", "isolated"], [0, 1])
    b = _folder(tmp_path / "b", ["swarm"], [1, 2])
    doc = merge_folders(tmp_path / "out", [a, b])
    assert {t: len(e["runs"]) for t, e in doc["teams"].items()} == {"swarm": 3, "isolated": 2}
    assert doc["status"] == "interrupted"  # isolated lacks seed 2
    with (tmp_path / "out" / "ticks.csv").open() as fh:
        kept = [(r["team"], r["seed"]) for r in csv.DictReader(fh)]
    assert kept.count(("swarm", "1")) == 2  # seed 1's rows once (from the first folder)


def test_a_duplicate_with_other_metrics_is_refused(tmp_path):
    other = dict(RUNS)
    other[("swarm", 1)] = {**RUNS[("swarm", 1)], "metrics": {**RUNS[("swarm", 1)]["metrics"]}}
    other[("swarm", 1)]["metrics"]["coverage"] += 0.01
    a = _folder(tmp_path / "a", ["swarm"], [0, 1])
    b = _folder(tmp_path / "b", ["swarm"], [1], runs=other)
    with pytest.raises(MergeError, match="swarm seed 1 differs"):
        merge_folders(tmp_path / "out", [a, b])
    assert not (tmp_path / "out").exists()


def test_nan_metrics_count_as_equal():
    run = {"seed": 0, "metrics": {"field_auc": math.nan, "found": 1.0}}
    doc = {"scenario": "s", "config": {}, "teams": {"swarm": {"runs": [run]}}}
    merged, source = merge_documents([doc, doc], ["a", "b"])
    assert source == {("swarm", 0): 0} and len(merged["teams"]["swarm"]["runs"]) == 1


def test_a_config_that_differs_outside_seeds_and_teams_is_refused(tmp_path):
    a = _folder(tmp_path / "a", ["swarm"], [0])
    b = _folder(tmp_path / "b", ["swarm"], [1], config={**CONFIG, "learner": {"lr": 2e-3}})
    with pytest.raises(MergeError, match=r"learner\.lr"):
        merge_folders(tmp_path / "out", [a, b])


def test_cli_refuses_a_folder_holding_a_run_and_a_missing_reference(tmp_path, capsys):
    a = _folder(tmp_path / "a", ["swarm"], [0])
    assert main([str(a), str(a)]) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert main([str(tmp_path / "out"), str(a), "--reference", "central"]) == 2
    assert "reference team 'central'" in capsys.readouterr().err
    assert main([str(tmp_path / "out2"), str(tmp_path / "nothing")]) == 2
    assert "has no results.json" in capsys.readouterr().err

"""TensorBoard event files per run, readable by tensorboard's own reader."""

from __future__ import annotations

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from swarm.tracking import TB_DIR, Tracker, flat_params


def test_events_hold_ticks_finals_costs_and_auc(tmp_path):
    tracker = Tracker(tmp_path, {"name": "t"}, every=2)
    tracker.start("swarm", 3)
    for tick in range(1, 6):
        tracker.tick(tick, {"found": 0.0, "coverage": tick / 10}, last=tick == 5)
    record = {
        "metrics": {"time_to_find": 5.0, "auc": 0.8},
        "stats": {"wire_bytes": 1200.0},
        "auc_curve": [[0, 0.5], [5, 0.8]],
        "wall_seconds": 1.5,
    }
    tracker.finish(record)
    events = EventAccumulator(str(tmp_path / TB_DIR / "swarm-seed3"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"tick/coverage", "final/time_to_find", "cost/wire_bytes", "auc/probe"} <= tags
    steps = [(e.step, round(e.value, 6)) for e in events.Scalars("tick/coverage")]
    assert steps == [(2, 0.2), (4, 0.4), (5, 0.5)]  # every 2nd tick and the last
    assert [e.value for e in events.Scalars("final/time_to_find")] == [5.0]
    assert [(e.step, round(e.value, 6)) for e in events.Scalars("auc/probe")] == [
        (0, 0.5),
        (5, 0.8),
    ]


def test_flat_params_dots_nested_sections():
    assert flat_params({"a": {"b": 1, "c": {"d": "x"}}, "e": [1]}) == {
        "a.b": 1,
        "a.c.d": "x",
        "e": [1],
    }


def test_mlflow_set_without_mlflow_installed_is_invalid_input(
    tiny_cfg, tmp_path, monkeypatch, capsys
):
    import importlib.util

    from swarm.run import EXIT_INVALID, Launch, execute

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a)
    )
    cfg = tiny_cfg(output={"mlflow": "file:./mlruns"})
    assert execute(cfg, Launch(local=True, quiet=True), tmp_path / "o") == EXIT_INVALID
    assert "pip install mlflow" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # refused before any output


def test_a_real_runs_event_files_hold_its_results(tiny_cfg, tmp_path):
    """Every team x seed of a real run has an event file tensorboard reads, holding the same
    end metrics, costs and AUC curves as results.json."""
    import json
    import math

    from swarm.run import Launch, execute

    cfg = tiny_cfg(seeds=2, ticks=12, teams=["swarm", "isolated"], output={"plots": False})
    assert execute(cfg, Launch(local=True, quiet=True), tmp_path / "run") == 0
    doc = json.loads((tmp_path / "run" / "results.json").read_text())
    folders = sorted(p.name for p in (tmp_path / "run" / TB_DIR).iterdir())
    assert folders == ["isolated-seed0", "isolated-seed1", "swarm-seed0", "swarm-seed1"]
    for team, entry in doc["teams"].items():
        for run in entry["runs"]:
            events = EventAccumulator(str(tmp_path / "run" / TB_DIR / f"{team}-seed{run['seed']}"))
            events.Reload()

            def last(tag, ev=events):
                return ev.Scalars(tag)[-1].value

            for name, value in run["metrics"].items():
                expected = math.nan if value is None else value
                assert last(f"final/{name}") == pytest.approx(expected, nan_ok=True), name
            assert last("cost/wire_bytes") == pytest.approx(run["stats"]["wire_bytes"])
            probe = [(e.step, e.value) for e in events.Scalars("auc/probe")]
            assert probe == [(t, pytest.approx(a, nan_ok=True)) for t, a in run["auc_curve"]]
            ticks = [e.step for e in events.Scalars("tick/coverage")]
            assert ticks[-1] == run["ticks"] and "auc/field_probe" in events.Tags()["scalars"]

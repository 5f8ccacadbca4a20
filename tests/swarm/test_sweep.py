"""`python -m swarm.sweep`: points as Ray work equal to single runs, resume after an interrupt,
the tidy table, and study-file validation."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import yaml

import swarm.run as run_mod
import swarm.sweep as sweep_mod
from swarm.run import EXIT_INTERRUPTED, EXIT_INVALID, Launch, execute
from swarm.sweep import load_study, main, run_study
from tests.conftest import TINY_RUN

# 4 drones fit in one host each, so two points run side by side on the 2-CPU test cluster
BASE = {
    **TINY_RUN,
    "seeds": 2,
    "ticks": 10,
    "teams": ["swarm"],
    "hosts": {"agents_per_host": 8},
    "output": {"plots": False, "csv_every": 5},
}
GRID = {"drones": [4, 6], "protocol.topology.kind": ["ring", "complete"]}
_TIMING = {"wall_seconds", "cpu_seconds"}  # the only columns that may differ between runs


def _study(tmp_path: Path, grid: dict, **over) -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump({**BASE, **over, "sweep": {"grid": grid}}))
    return path


def _plain(row: dict) -> dict:
    """A row without timing columns, NaN as None (NaN != NaN; an undefined field AUC is NaN)."""
    nan = lambda v: isinstance(v, float) and math.isnan(v)  # noqa: E731
    return {k: None if nan(v) else v for k, v in row.items() if k not in _TIMING}


def _rows(table_dir: Path) -> list[dict]:
    return [_plain(r) for r in pq.read_table(table_dir / "table.parquet").to_pylist()]


@pytest.mark.ray
def test_sweep_on_ray_rows_equal_single_runs(tmp_path, ray_session):
    study = load_study(_study(tmp_path, GRID), [])
    out = tmp_path / "sweep"
    assert run_study(study, Launch(quiet=True), out) == 0
    rows = _rows(out)
    assert len(rows) == 2 * 2 * 2  # points x teams x seeds
    assert {(r["drones"], r["protocol.topology.kind"]) for r in rows} == {
        (4, "ring"), (4, "complete"), (6, "ring"), (6, "complete")
    }  # fmt: skip
    from swarm.sweep_table import point_rows

    for name, folder, overrides, cfg in study.points:  # each point alone, on the same cluster
        alone = tmp_path / "alone" / folder
        assert execute(cfg, Launch(quiet=True), alone, trap_signals=False) == 0
        doc = json.loads((alone / "results.json").read_text())
        expected = [_plain(r) for r in point_rows(name, overrides, doc)]
        assert [r for r in rows if r["point"] == name] == expected


def test_interrupted_sweep_resumes_only_unfinished_points(tmp_path, monkeypatch):
    file = _study(tmp_path, {"drones": [4, 6]}, seeds=1, ticks=6, output={"plots": True})
    out = tmp_path / "sweep"
    calls: list[Path] = []

    def interrupt_second(cfg, launch, where, **kw):
        calls.append(where)
        if len(calls) == 2:  # Ctrl-C in the middle of the second point
            where.mkdir(parents=True)
            (where / "results.json").write_text(json.dumps({"status": "running"}))
            raise KeyboardInterrupt
        return execute(cfg, launch, where, **kw)

    monkeypatch.setattr(sweep_mod, "execute", interrupt_second)
    assert main([str(file), "--out", str(out), "--local", "--quiet"]) == EXIT_INTERRUPTED
    manifest = json.loads((out / "sweep.json").read_text())
    assert manifest["status"] == "interrupted" and manifest["complete"] == ["drones=4"]
    first = (out / "points" / "drones=4" / "results.json").read_bytes()

    calls.clear()
    monkeypatch.setattr(
        sweep_mod, "execute", lambda *a, **kw: calls.append(a[2]) or execute(*a, **kw)
    )
    assert main([str(file), "--out", str(out), "--local", "--quiet"]) == 0
    assert calls == [out / "points" / "drones=6"]  # only the unfinished point ran again
    assert (out / "points" / "drones=4" / "results.json").read_bytes() == first
    assert (out / "points" / "drones=6.partial-1" / "results.json").exists()  # kept aside
    rows = pq.read_table(out / "table.parquet").to_pylist()
    assert [(r["drones"], r["seed"]) for r in rows] == [(4, 0), (6, 0)]
    assert pacsv.read_csv(out / "table.csv").num_rows == len(rows)
    assert json.loads((out / "sweep.json").read_text())["status"] == "complete"
    plots = {p.name for p in (out / "plots").iterdir()}  # summary plots of the whole sweep
    assert {"coverage_vs_drones.png", "wire_bytes_vs_drones.png"} <= plots
    assert "inspections_vs_drones.png" not in plots  # descriptive: false alarms + finds


def test_resume_refuses_a_different_sweep(tmp_path, capsys):
    out = tmp_path / "sweep"
    out.mkdir()
    (out / "sweep.json").write_text(json.dumps({"points": []}))
    code = main([str(_study(tmp_path, {"drones": [4]})), "--out", str(out), "--quiet"])
    assert code == EXIT_INVALID
    assert "holds a different sweep" in capsys.readouterr().err


def test_bad_point_is_named_and_nothing_runs(tmp_path, capsys):
    file = _study(tmp_path, {"drones": [4, 0]})
    code = main([str(file), "--out", str(tmp_path / "s"), "--grid", "learner.windw=3,4"])
    err = capsys.readouterr().err
    assert code == EXIT_INVALID
    assert "sweep point drones=0" in err
    assert "unknown field 'windw'; did you mean 'window'?" in err
    assert not (tmp_path / "s").exists()


def test_validate_checks_every_point_of_a_study(tmp_path):
    from swarm.validate import check_file

    assert check_file(str(_study(tmp_path, {"drones": [4, 6]}))) == []
    problems = check_file(str(_study(tmp_path, {"protocol.topology.kind": ["ring", "rign"]})))
    assert len(problems) == 1 and problems[0].startswith("sweep point protocol.topology.kind=rign")


def test_a_point_cut_short_resumes_keeping_its_completed_runs(tmp_path, monkeypatch):
    file = _study(tmp_path, {"drones": [4]}, seeds=2, ticks=6)
    out = tmp_path / "sweep"
    real = run_mod.run_episode
    calls: list[int] = []

    def second_fails(*a, **k):
        calls.append(a[2])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(run_mod, "run_episode", second_fails)
    assert main([str(file), "--out", str(out), "--local", "--quiet"]) == EXIT_INTERRUPTED
    point = out / "points" / "drones=4"
    kept = json.loads((point / "results.json").read_text())["teams"]
    calls.clear()
    monkeypatch.setattr(run_mod, "run_episode", lambda *a, **k: calls.append(a[2]) or real(*a, **k))
    assert main([str(file), "--out", str(out), "--local", "--quiet"]) == 0
    assert calls == [1]  # seed 0 was kept, only seed 1 flew
    runs = json.loads((point / "results.json").read_text())["teams"]
    team = next(iter(kept))
    assert runs[team]["runs"][0] == kept[team]["runs"][0]
    assert not list((out / "points").glob("*.partial-*"))

"""Plots of a run from results.json and ticks.csv: every PNG written, non-empty, valid."""

from __future__ import annotations

import math

from swarm.outputs import RunOutputs
from swarm.plots import make_plots, read_ticks


def _outputs(tmp_path, **kw):
    return RunOutputs(
        tmp_path / "run",
        name="demo",
        scenario="drone_search",
        seeds=[0, 1],
        teams=["swarm", "isolated"],
        config={"name": "demo", "drones": 4, "learner": {"lr": 1e-3}},
        **kw,
    )


def _run(seed, found, ttf, wire):
    return {
        "seed": seed,
        "ticks": ttf,
        "horizon": 50,
        "metrics": {"found": found, "time_to_find": ttf, "coverage": 0.1 * seed + 0.2},
        "stats": {"params_per_brain": 500, "brains": 4, "train_steps": 7, "wire_bytes": wire},
        "auc_curve": [[0, 0.5], [25, 0.6 + 0.01 * seed], [ttf, math.nan]],
        "wall_seconds": 1.0,
    }


def test_plots_written_and_non_empty(tmp_path):
    out = _outputs(tmp_path)
    for team, wire in (("swarm", 900), ("isolated", 0)):
        for seed in (0, 1):
            for tick in range(1, 11):
                row = {"coverage": 0.05 * tick + 0.01 * seed, "found": 0.0}
                out.tick(team, seed, tick, row, last=tick == 10)
            out.record(team, _run(seed, seed == 0, 10 if seed == 0 else 50, wire))
    out.finish("complete")
    paths = make_plots(out.dir, out.doc)
    names = sorted(p.name for p in paths)
    assert names == [
        "auc.png",
        "survival.png",
        "tick_coverage.png",
        "tick_found.png",
        "wire_bytes.png",
    ]
    for p in paths:
        assert p.stat().st_size > 1000
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ticks = read_ticks(out.csv_path)
    assert sorted(ticks) == ["isolated", "swarm"] and len(ticks["swarm"][1]["tick"]) == 10


def test_no_data_no_plots(tmp_path):
    out = _outputs(tmp_path)
    assert make_plots(out.dir, out.doc) == []  # nothing completed yet: nothing to draw

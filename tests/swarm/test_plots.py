"""Plots of a run from results.json and ticks.csv: every PNG written, non-empty, valid."""

from __future__ import annotations

from swarm.plots import make_plots, read_ticks
from tests.swarm.run_records import demo_outputs, demo_run


def test_plots_written_and_non_empty(tmp_path):
    out = demo_outputs(tmp_path)
    for team, wire in (("swarm", 900), ("isolated", 0)):
        for seed in (0, 1):
            for tick in range(1, 11):
                row = {"coverage": 0.05 * tick + 0.01 * seed, "found": 0.0}
                out.tick(team, seed, tick, row, last=tick == 10)
            out.record(team, demo_run(seed, seed == 0, 10 if seed == 0 else 50, wire))
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
    out = demo_outputs(tmp_path)
    assert make_plots(out.dir, out.doc) == []  # nothing completed yet: nothing to draw

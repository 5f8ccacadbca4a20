"""Plots of a run from results.json and ticks.csv: every PNG written, and each figure draws the
data it was given (titles, axis labels, one series per team or seed, the values themselves),
read back from the matplotlib objects that were saved."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure

from swarm.plots import make_plots, read_ticks
from tests.swarm.run_records import demo_outputs, demo_run

TEAMS = (("swarm", 900), ("isolated", 0))  # team, wire bytes per run
SEEDS = (0, 1)
RUNS = [(team, seed) for team, _ in TEAMS for seed in SEEDS]  # the order plots draw them in
TICKS = np.arange(1, 11)


def _coverage(tick, seed):
    return 0.05 * tick + 0.01 * seed


@pytest.fixture
def saved(monkeypatch) -> dict[str, Axes]:
    """The axes of every figure `make_plots` saves, by file name (the real savefig still runs)."""
    figures: dict[str, Axes] = {}
    real = Figure.savefig

    def keep(fig: Figure, path, *args, **kwargs):
        figures[Path(path).name] = fig.axes[0]
        return real(fig, path, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", keep)
    return figures


@pytest.fixture
def run(tmp_path):
    out = demo_outputs(tmp_path)
    records = {}
    for team, wire in TEAMS:
        for seed in SEEDS:
            for tick in TICKS:
                row = {"coverage": _coverage(tick, seed), "found": 0.0}
                out.tick(team, seed, int(tick), row, last=tick == TICKS[-1])
            # seed 0 finds the target at tick 10, seed 1 runs to the horizon (50) without
            records[team, seed] = demo_run(seed, seed == 0, 10 if seed == 0 else 50, wire)
            out.record(team, records[team, seed])
    out.finish("complete")
    return out, records


@pytest.fixture
def drawn(run, saved) -> dict[str, Axes]:
    out, _ = run
    make_plots(out.dir, out.doc)
    return saved


def _labels(ax: Axes) -> tuple[str, str, str]:
    return ax.get_title(), ax.get_xlabel(), ax.get_ylabel()


def _legend(ax: Axes) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_plots_written_as_png(run):
    out, _ = run
    paths = make_plots(out.dir, out.doc)
    names = sorted(p.name for p in paths)
    assert names == [
        "auc.png",
        "estimates.png",
        "field_auc.png",
        "paired_differences.png",
        "survival.png",
        "tick_coverage.png",
        "tick_found.png",
        "wire_bytes.png",
    ]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ticks = read_ticks(out.csv_path)
    assert sorted(ticks) == ["isolated", "swarm"] and len(ticks["swarm"][1]["tick"]) == 10


def test_survival_is_one_step_curve_per_team(drawn):
    ax = drawn["survival.png"]
    assert _labels(ax) == ("time to find (Kaplan–Meier)", "tick", "P(target not found yet)")
    assert [line.get_label() for line in ax.get_lines()] == ["swarm", "isolated"]
    for line in ax.get_lines():
        t, s = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
        assert s[0] == 1.0 and (np.diff(s) <= 0).all()
        assert s[-1] == 0.5  # one of the two seeds found the target
        assert t[np.argmax(s < 1.0)] == 10  # ... at tick 10


def test_auc_draws_each_seeds_curve_and_chance(run, drawn):
    records = run[1]
    ax = drawn["auc.png"]
    assert _labels(ax) == ("detector AUC on the probe set (a line per seed)", "tick", "AUC")
    *lines, chance = ax.get_lines()
    for line, key in zip(lines, RUNS, strict=True):
        ts, aucs = zip(*records[key]["auc_curve"], strict=True)
        np.testing.assert_array_equal(line.get_xdata(), ts)
        np.testing.assert_array_equal(line.get_ydata(), aucs)  # NaN where AUC is undefined
    assert set(chance.get_ydata()) == {0.5}
    assert _legend(ax) == ["swarm", "isolated"]


def test_tick_columns_draw_every_seed_of_every_team(drawn):
    ax = drawn["tick_coverage.png"]
    assert _labels(ax) == ("coverage over time", "tick", "coverage")
    for line, (_, seed) in zip(ax.get_lines(), RUNS, strict=True):
        np.testing.assert_array_equal(line.get_xdata(), TICKS)
        np.testing.assert_allclose(line.get_ydata(), _coverage(TICKS, seed))
    assert _legend(ax) == ["swarm", "isolated"]
    assert _labels(drawn["tick_found.png"])[2] == "found"


def test_survival_draws_a_confidence_band_per_team(drawn):
    ax = drawn["survival.png"]
    bands = [c for c in ax.collections if len(c.get_paths())]
    assert len(bands) == 2  # one shaded band per team
    for band in bands:
        lo, hi = band.get_paths()[0].vertices[:, 1].min(), band.get_paths()[0].vertices[:, 1].max()
        assert 0.0 <= lo < 0.5 < hi <= 1.0  # two seeds: a wide band around the curve


def test_estimates_are_bars_with_ci_error_bars(run, drawn):
    out, _ = run
    ax = drawn["estimates.png"]  # the first headline metric: time to find, a KM median
    assert ax.get_title().startswith("time_to_find (KM median, lower is better)")
    est = [out.doc["teams"][t]["estimates"]["end"]["time_to_find"] for t, _ in TEAMS]
    assert [p.get_height() for p in ax.patches] == [e["value"] for e in est] == [10.0, 10.0]
    whiskers = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(whiskers) == 1 and whiskers[0].has_yerr  # the CIs


def test_forest_plot_marks_each_teams_difference_from_the_reference(run, drawn):
    out, _ = run
    ax = drawn["paired_differences.png"]
    assert "team - swarm" in ax.figure.texts[0].get_text()
    assert [t.get_text() for t in ax.get_yticklabels()] == ["isolated"]
    diff = out.doc["comparison"]["teams"]["isolated"]["end"]["time_to_find"]["diff"]
    assert diff == 0.0  # both teams fly the same runs: KM medians 10 and 10
    points = [line for line in ax.get_lines() if line.get_marker() == "o"]
    assert [line.get_xdata()[0] for line in points] == [diff]


def test_wire_bytes_is_a_bar_per_team_at_its_median(drawn):
    ax = drawn["wire_bytes.png"]
    assert _labels(ax) == ("bytes on the wire per run", "team", "bytes (median over seeds)")
    assert [p.get_height() for p in ax.patches] == [float(w) for _, w in TEAMS]
    assert [t.get_text() for t in ax.get_xticklabels()] == [t for t, _ in TEAMS]


def test_no_data_no_plots(tmp_path):
    out = demo_outputs(tmp_path)
    assert make_plots(out.dir, out.doc) == []  # nothing completed yet: nothing to draw

"""Plots of a run from results.json and ticks.csv: each figure draws the data it was given
(values, one series per team, a band per team, units on the axes, a caption that says what the
band is, a legend clear of the data), read back from the matplotlib `Figure`s before saving.

Two sources: hand-made records with known values (exact checks), and a real small run of the
smoke scenario (every figure it yields, checked for content)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.collections import FillBetweenPolyCollection
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure

from swarm.plot_style import UNITS
from swarm.plots import figures, make_plots, read_ticks, seed_band
from swarm.stats import BOOTSTRAP_MIN_N, bootstrap_mean_ci
from tests.swarm.run_records import demo_outputs, demo_run

TEAMS = (("swarm", 900), ("isolated", 0))  # team, wire bytes per run
SEEDS = (0, 1)
TICKS = np.arange(1, 11)
SMOKE = Path(__file__).resolve().parents[2] / "scenarios" / "smoke.yaml"


def _coverage(tick, seed):
    return 0.05 * tick + 0.01 * seed


@pytest.fixture
def run(tmp_path):
    out = demo_outputs(tmp_path)
    records = {}
    for team, wire in TEAMS:
        for seed in SEEDS:
            last = TICKS[-1] if seed == 0 else TICKS[-3]  # seed 1's mission ends 2 ticks early
            for tick in range(1, last + 1):
                row = {"coverage": _coverage(tick, seed), "found": 0.0, "inspections": 1.0}
                out.tick(team, seed, int(tick), row, last=tick == last)
            # seed 0 finds the target at tick 10, seed 1 runs to the horizon (50) without
            records[team, seed] = demo_run(seed, seed == 0, 10 if seed == 0 else 50, wire)
            out.record(team, records[team, seed])
    out.finish("complete")
    return out, records


@pytest.fixture
def drawn(run) -> dict[str, Figure]:
    out, _ = run
    return figures(out.doc, read_ticks(out.csv_path))


def _band(ax: Axes, i: int) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper edge of the i-th filled band of `ax`, as drawn (one polygon: a start
    point, the lower edge forward, the upper edge backward, the closing points)."""
    verts = _bands(ax)[i].get_paths()[0].vertices
    n = (len(verts) - 3) // 2
    return verts[1 : n + 1, 1], verts[n + 2 : 2 * n + 2, 1][::-1]


def _bands(ax: Axes) -> list[FillBetweenPolyCollection]:
    return [c for c in ax.collections if isinstance(c, FillBetweenPolyCollection)]


def _team_lines(ax: Axes) -> list:
    return [line for line in ax.get_lines() if not line.get_label().startswith(("_", "chance"))]


def _legend_texts(fig: Figure) -> list[str]:
    return [t.get_text() for legend in fig.legends for t in legend.get_texts()]


def test_every_figure_is_saved_as_png(run):
    out, _ = run
    paths = make_plots(out.dir, out.doc)
    assert sorted(p.name for p in paths) == [
        "auc.png",
        "costs.png",
        "estimates.png",
        "field_auc.png",
        "paired_differences.png",
        "survival.png",
        "tick_coverage.png",  # not tick_found (survival.png), not tick_inspections (descriptive)
    ]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ticks = read_ticks(out.csv_path)
    assert sorted(ticks) == ["isolated", "swarm"] and len(ticks["swarm"][1]["tick"]) == 8


def test_survival_is_one_distinct_step_curve_and_band_per_team(drawn):
    fig = drawn["survival.png"]
    (ax,) = fig.axes
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("time (ticks)", "P(target not found yet) (0–1)")
    lines = _team_lines(ax)
    assert [line.get_label() for line in lines] == [
        "swarm (found 1 of 2)",
        "isolated (found 1 of 2)",
    ]
    for line in lines:
        t, s = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
        assert s[0] == 1.0 and (np.diff(s) <= 0).all()
        assert s[-1] == 0.5  # one of the two seeds found the target
        assert t[np.argmax(s < 1.0)] == 10  # ... at tick 10
    # both teams flew the same runs: equal curves, told apart by dash, width and markers
    a, b = lines
    assert a.get_linestyle() != b.get_linestyle() and a.get_linewidth() > b.get_linewidth()
    assert a.get_markevery() != b.get_markevery()
    assert len(_bands(ax)) == 2
    for band in _bands(ax):
        ys = band.get_paths()[0].vertices[:, 1]
        assert 0.0 <= ys.min() < 0.5 < ys.max() <= 1.0  # two seeds: a wide band around 0.5
    assert "95 % CI" in fig.get_supxlabel()


def test_tick_curve_is_the_mean_over_seeds_with_the_seed_range(drawn):
    fig = drawn["tick_coverage.png"]
    (ax,) = fig.axes
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("time (ticks)", "coverage (fraction 0–1)")
    lines = _team_lines(ax)
    assert [line.get_label() for line in lines] == ["swarm", "isolated"]
    # seed 1 stopped at tick 8 and keeps its last value after: the mean uses it there
    seed1 = _coverage(np.minimum(TICKS, 8), 1)
    mean = (_coverage(TICKS, 0) + seed1) / 2
    for i, line in enumerate(lines):
        np.testing.assert_array_equal(line.get_xdata(), TICKS)
        np.testing.assert_allclose(line.get_ydata(), mean)
        lo, hi = _band(ax, i)
        np.testing.assert_allclose(lo, np.minimum(_coverage(TICKS, 0), seed1))
        np.testing.assert_allclose(hi, np.maximum(_coverage(TICKS, 0), seed1))
    assert "range over seeds" in fig.get_supxlabel()  # 2 seeds: no CI, and it says so
    assert "keeps its last value" in fig.get_supxlabel()


def test_auc_mean_and_band_over_seeds_with_chance(run, drawn):
    records = run[1]
    (ax,) = drawn["auc.png"].axes
    assert ax.get_ylabel() == "auc (0–1)"
    swarm = _team_lines(ax)[0]
    # probes at 0 and 25 (and each mission's end, where the AUC is NaN): mean of both seeds
    by_tick = dict(zip(swarm.get_xdata(), swarm.get_ydata(), strict=True))
    assert by_tick[0] == 0.5
    a, b = (records["swarm", s]["auc_curve"][1][1] for s in SEEDS)
    assert by_tick[25] == pytest.approx((a + b) / 2)
    assert [c.get_ydata()[0] for c in ax.get_lines() if c.get_label().startswith("chance")] == [0.5]
    assert len(_bands(ax)) == 2


def test_field_auc_has_a_panel_per_curve(drawn):
    fig = drawn["field_auc.png"]
    assert [ax.get_ylabel() for ax in fig.axes] == ["field_auc (0–1)", "field_probe_auc (0–1)"]
    for ax in fig.axes:
        assert len(_team_lines(ax)) == 2 and len(_bands(ax)) == 2
    assert _legend_texts(fig) == ["swarm", "isolated", "chance (0.5)"]


def test_estimates_show_every_seed_and_the_ci(run, drawn):
    out, _ = run
    ax = drawn["estimates.png"].axes[0]  # the first headline metric: time to find, a KM median
    assert ax.get_title() == "time_to_find: KM median, lower is better"
    assert ax.get_ylabel() == "time_to_find (ticks)"
    seeds = [line for line in ax.get_lines() if line.get_marker() == "o"]
    assert len(seeds) == len(TEAMS) * len(SEEDS)
    # seed 1 never found the target: a hollow (censored) dot at the horizon
    assert (
        sorted((line.get_ydata()[0], line.get_markerfacecolor()) for line in seeds[:2])[1][1]
        == "none"
    )
    est = [out.doc["teams"][t]["estimates"]["end"]["time_to_find"] for t, _ in TEAMS]
    diamonds = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert [c.lines[0].get_ydata()[0] for c in diamonds] == [e["value"] for e in est] == [10, 10]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["swarm", "isolated"]


def test_costs_show_wire_bytes_per_seed(drawn):
    axes = {ax.get_ylabel(): ax for ax in drawn["costs.png"].axes}
    ax = axes["wire_bytes (bytes)"]
    seeds = [line.get_ydata()[0] for line in ax.get_lines() if line.get_marker() == "o"]
    assert seeds == [900.0, 900.0, 0.0, 0.0]


def test_forest_plot_marks_each_teams_difference_from_the_reference(run, drawn):
    out, _ = run
    fig = drawn["paired_differences.png"]
    ax = fig.axes[0]
    assert "team - swarm" in fig.get_suptitle()
    assert ax.get_xlabel() == "Δ time_to_find (ticks)"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["isolated"]
    diff = out.doc["comparison"]["teams"]["isolated"]["end"]["time_to_find"]["diff"]
    assert diff == 0.0  # both teams fly the same runs: KM medians 10 and 10
    points = [line for line in ax.get_lines() if line.get_marker() == "o"]
    assert [line.get_xdata()[0] for line in points] == [diff]
    # each seed's own difference beside it, where one exists: coverage, not a censored time
    assert [list(line.get_xdata()) for line in ax.get_lines() if line.get_marker() == "|"] == [[]]
    cov = next(a for a in fig.axes if a.get_title().startswith("Δ coverage"))
    seeds = [line for line in cov.get_lines() if line.get_marker() == "|"]
    assert len(seeds) == 1 and list(seeds[0].get_xdata()) == [0.0, 0.0]  # same runs: 0 twice


def test_seed_band_is_the_scorecards_bootstrap_ci_from_five_seeds():
    rng = np.random.default_rng(3)
    values = rng.normal(size=(BOOTSTRAP_MIN_N + 1, 4))
    values[0, 3] = np.nan  # a seed without a value there: the column uses the other five
    band = seed_band(values)
    for j in range(values.shape[1]):
        assert (band.lo[j], band.hi[j]) == pytest.approx(bootstrap_mean_ci(values[:, j]))
    np.testing.assert_allclose(band.centre, np.nanmean(values, axis=0))
    assert band.kind == "95 % bootstrap CI of the mean"
    few = seed_band(values[:2])
    np.testing.assert_allclose(few.lo, np.nanmin(values[:2], axis=0))
    assert few.kind.startswith("range over seeds")


def test_no_data_no_plots(tmp_path):
    out = demo_outputs(tmp_path)
    assert make_plots(out.dir, out.doc) == []  # nothing completed yet: nothing to draw


# --- a real small run: every figure it yields, checked for content ------------------------------

REAL_TEAMS = ("swarm", "isolated", "single_large")


@pytest.fixture(scope="module")
def real(tmp_path_factory) -> tuple[dict, set[str], dict[str, Figure]]:
    """The smoke scenario, 3 teams x 2 seeds x 24 ticks, in process: its results, its per-tick
    columns and its figures."""
    import json

    from swarm.run import main

    out = tmp_path_factory.mktemp("plots") / "run"
    args = ["--local", "--quiet", "--seeds", "2", "--ticks", "24", "--teams", ",".join(REAL_TEAMS)]
    assert main([str(SMOKE), "--out", str(out), *args]) == 0
    doc = json.loads((out / "results.json").read_text())
    ticks = read_ticks(out / "ticks.csv")
    columns = {c for seeds in ticks.values() for cols in seeds.values() for c in cols}
    return doc, columns, figures(doc, ticks)


def test_a_real_run_yields_every_figure(real):
    _, columns, figs = real
    expected = {"survival.png", "estimates.png", "paired_differences.png", "costs.png",
                "auc.png", "field_auc.png"}  # fmt: skip
    assert {"found", "inspections", "field_auc", "coverage", "false_alarms"} <= columns
    # found: survival.png; inspections: descriptive (= false alarms + finds); field_auc: its own
    expected |= {f"tick_{c}.png" for c in columns - {"tick", "found", "inspections", "field_auc"}}
    assert set(figs) == expected


def test_a_real_runs_figures_have_units_bands_and_a_clear_legend(real):
    *_, figs = real
    for name, fig in figs.items():
        fig.canvas.draw()
        assert fig.get_supxlabel(), f"{name}: no caption"
        for ax in fig.axes:
            for label, ticks in ((ax.get_xlabel(), ax.get_xticklabels()),
                                 (ax.get_ylabel(), ax.get_yticklabels())):  # fmt: skip
                if {t.get_text() for t in ticks} <= set(REAL_TEAMS):
                    continue  # an axis of team names carries no unit
                assert _has_unit(label), (name, label)
            for legend in fig.legends:  # legends live outside every axes
                assert not legend.get_window_extent().overlaps(ax.get_window_extent()), name
        if name in ("survival.png", "auc.png") or name.startswith("tick_"):
            (ax,) = fig.axes
            assert len(_team_lines(ax)) == len(REAL_TEAMS), name
            assert len(_bands(ax)) == len(REAL_TEAMS), name
            assert [t.split(" ")[0] for t in _legend_texts(fig)][: len(REAL_TEAMS)] == list(
                REAL_TEAMS
            )
        if name.startswith("tick_") or name == "auc.png":
            assert "mean over seeds" in fig.get_supxlabel()
            assert "range over seeds" in fig.get_supxlabel()  # 2 seeds: no CI, said so


def test_a_real_runs_estimates_draw_every_team_and_seed(real):
    doc, _, figs = real
    for ax in figs["estimates.png"].axes:
        metric = ax.get_ylabel().split(" (")[0]
        names = [t.get_text() for t in ax.get_xticklabels()]
        having = [
            t
            for t in REAL_TEAMS
            if any(r["metrics"].get(metric) is not None for r in doc["teams"][t]["runs"])
        ]
        assert names == having, metric
        dots = [line for line in ax.get_lines() if line.get_marker() == "o"]
        assert len(dots) == 2 * len(names), metric  # one dot per seed


def _has_unit(label: str) -> bool:
    """A label ends in '(unit)' with a unit the docs give (UNITS), or a swept field's meaning."""
    if not label.endswith(")") or " (" not in label:
        return False
    unit = label.rsplit(" (", 1)[1][:-1]
    return unit in set(UNITS.values()) | {"0–1"}

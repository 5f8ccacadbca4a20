"""The sweep's tidy rows, and its metric-vs-axis figures: one line per team with the
scorecard's estimate and a band per team, units on the axes, read back from the `Figure`s."""

from __future__ import annotations

import matplotlib.image as mpimg
import numpy as np
import pytest
from matplotlib.collections import FillBetweenPolyCollection
from matplotlib.container import ErrorbarContainer

from swarm.scorecard import metric_estimate
from swarm.sweep_table import axis_figures, plot_axes, point_band, point_rows, write_table

TEAMS = ("swarm", "isolated")


def _results(team_values: dict[str, list[float]]) -> dict:
    return {
        "teams": {
            team: {
                "params_per_brain": 100,
                "runs": [
                    {
                        "seed": s,
                        "ticks": 10,
                        "horizon": 50,
                        "metrics": {
                            "auc": v,
                            "inspections": 2.0,
                            "time_to_find": 10.0 + 10 * s,
                            "found": s % 2 == 0,
                        },
                        "stats": {"wire_bytes": 5.0},
                    }
                    for s, v in enumerate(values)
                ],
            }
            for team, values in team_values.items()
        }
    }


def _sweep(seeds: int) -> list[dict]:
    """Rows of a drones x topology sweep: auc grows with drones, swarm 0.05 above isolated."""
    rows = []
    for n in (4, 8, 16):
        for kind in ("ring", "star"):
            res = _results(
                {
                    t: [0.6 + 0.01 * n - 0.05 * k + 0.01 * s for s in range(seeds)]
                    for k, t in enumerate(TEAMS)
                }
            )
            rows += point_rows(f"drones={n},kind={kind}", {"drones": n, "kind": kind}, res)
    return rows


def test_rows_are_point_x_team_x_seed_with_axes_metrics_and_costs():
    rows = point_rows("drones=4", {"drones": 4}, _results({"swarm": [0.7, 0.8], "isolated": [0.6]}))
    assert [(r["team"], r["seed"]) for r in rows] == [("swarm", 0), ("swarm", 1), ("isolated", 0)]
    assert rows[1] == {
        "point": "drones=4",
        "drones": 4,
        "team": "swarm",
        "seed": 1,
        "ticks": 10,
        "horizon": 50,
        "wall_seconds": None,
        "params_per_brain": 100,
        "auc": 0.8,
        "inspections": 2.0,
        "time_to_find": 20.0,
        "found": 0.0,
        "wire_bytes": 5.0,
    }


def test_point_band_is_the_scorecards_ci_or_the_seed_range():
    rows = [{"auc": a, "horizon": 60} for a in (0.7, 0.8, 0.9, 0.75, 0.85)]
    est = metric_estimate("auc", rows)
    assert point_band("auc", rows) == (est.value, est.lo, est.hi, "95% bootstrap CI")
    value, lo, hi, kind = point_band("auc", rows[:2])  # 2 seeds: no CI, the range instead
    assert (value, lo, hi) == (pytest.approx(0.75), 0.7, 0.8)
    assert kind.startswith("range over seeds")
    # time to find: Kaplan-Meier; a bound the curve never reaches is open up to the horizon
    ttf = [{"time_to_find": t, "found": f, "horizon": 60} for t, f in
           [(10.0, 1.0), (30.0, 1.0), (60.0, 0.0)]]  # fmt: skip
    value, lo, hi, kind = point_band("time_to_find", ttf)
    assert value == metric_estimate("time_to_find", ttf).value == 30.0
    assert hi == 60 and "open above" in kind


def test_numeric_axis_has_a_line_and_band_per_team_with_units():
    figs = axis_figures(_sweep(5), ["drones", "kind"], ["auc", "inspections"],
                        {"drones": "drones N in the swarm"})  # fmt: skip
    assert sorted(figs) == ["auc_vs_drones.png", "auc_vs_kind.png"]  # inspections: descriptive
    fig = figs["auc_vs_drones.png"]
    assert [ax.get_title() for ax in fig.axes] == ["kind=ring", "kind=star"]  # a panel each
    for ax in fig.axes:
        assert ax.get_ylabel() == "auc (0–1)"
        assert ax.get_xlabel() == "drones: drones N in the swarm"
        lines = [line for line in ax.get_lines() if line.get_label() in TEAMS]
        assert [line.get_label() for line in lines] == list(TEAMS)
        for k, line in enumerate(lines):  # each point: the mean over its 5 seeds
            means = [0.6 + 0.01 * n - 0.05 * k + 0.02 for n in (4, 8, 16)]
            np.testing.assert_allclose(line.get_ydata(), means)
            # dodged sideways on the log axis so equal values stay apart, around the true x
            np.testing.assert_allclose(line.get_xdata(), [4, 8, 16], rtol=0.1)
        bands = [c for c in ax.collections if isinstance(c, FillBetweenPolyCollection)]
        assert len(bands) == len(TEAMS)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == list(TEAMS)
    assert "95% bootstrap CI" in fig.get_supxlabel()


def test_named_values_get_error_bars_and_the_range_when_seeds_are_few():
    fig = axis_figures(_sweep(2), ["drones", "kind"], ["auc"])["auc_vs_kind.png"]
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["ring", "star"]
    bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(bars) == len(TEAMS)
    ring = bars[0].lines[2][0].get_segments()[0]  # swarm at ring, drones=4: [[x, lo], [x, hi]]
    np.testing.assert_allclose(sorted(ring[:, 1]), [0.64, 0.65])  # its two seeds' range
    assert "range over seeds" in fig.get_supxlabel()


def test_named_points_that_set_different_fields_make_one_table(tmp_path):
    """A point that leaves a swept field unset has an empty cell there, so a numeric field set
    at one point and a whole section set at another still write to CSV and Parquet."""
    res = _results({"swarm": [0.7]})
    rows = point_rows("clean", {"faults.loss": None, "faults.byzantine": None}, res)
    rows += point_rows("loss", {"faults.loss": 0.3, "faults.byzantine": None}, res)
    rows += point_rows("alie", {"faults.loss": None, "faults.byzantine": {"fraction": 0.2}}, res)
    write_table(rows, tmp_path)
    import pyarrow.parquet as pq

    table = pq.read_table(tmp_path / "table.parquet").to_pydict()
    assert table["faults.loss"] == [None, 0.3, None]
    assert table["faults.byzantine"] == [None, None, '{"fraction": 0.2}']


def test_table_and_plots_are_written(tmp_path):
    rows = []
    for n in (4, 8):
        rows += point_rows(f"drones={n}", {"drones": n}, _results({"swarm": [0.7, 0.9]}))
    paths = write_table(rows, tmp_path)
    assert [p.name for p in paths] == ["table.csv", "table.parquet"]
    assert (tmp_path / "table.csv").read_text().splitlines()[0].startswith('"point","drones"')
    plots = plot_axes(rows, ["drones"], ["auc", "wire_bytes"], tmp_path)
    assert [p.name for p in plots] == ["auc_vs_drones.png", "wire_bytes_vs_drones.png"]
    assert mpimg.imread(plots[0]).shape[2] in (3, 4)

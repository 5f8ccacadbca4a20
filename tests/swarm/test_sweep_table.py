"""The sweep's tidy rows, confidence intervals and metric-vs-axis plots."""

from __future__ import annotations

import math

import matplotlib.image as mpimg
import pytest

from swarm.sweep_table import mean_ci, plot_axes, point_rows, write_table


def _results(team_values: dict[str, list[float]]) -> dict:
    return {
        "teams": {
            team: {
                "params_per_brain": 100,
                "runs": [
                    {"seed": s, "ticks": 10, "metrics": {"auc": v}, "stats": {"wire_bytes": 5.0}}
                    for s, v in enumerate(values)
                ],
            }
            for team, values in team_values.items()
        }
    }


def test_rows_are_point_x_team_x_seed_with_axes_metrics_and_costs():
    rows = point_rows("drones=4", {"drones": 4}, _results({"swarm": [0.7, 0.8], "isolated": [0.6]}))
    assert [(r["team"], r["seed"]) for r in rows] == [("swarm", 0), ("swarm", 1), ("isolated", 0)]
    assert rows[1] == {
        "point": "drones=4", "drones": 4, "team": "swarm", "seed": 1, "ticks": 10,
        "horizon": None, "wall_seconds": None, "params_per_brain": 100, "auc": 0.8,
        "wire_bytes": 5.0,
    }  # fmt: skip


def test_mean_ci_is_the_student_t_interval():
    mean, lo, hi = mean_ci([1.0, 2.0, 3.0])
    # t(0.975, df=2) = 4.3027; sem = 1 / sqrt(3)
    assert mean == 2.0 and hi - mean == pytest.approx(4.302653 / math.sqrt(3), rel=1e-5)
    assert mean - lo == pytest.approx(hi - mean)
    assert mean_ci([5.0]) == (5.0, 5.0, 5.0)
    assert all(math.isnan(x) for x in mean_ci([]))


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

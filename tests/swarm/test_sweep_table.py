"""The sweep's tidy rows, confidence intervals and metric-vs-axis plots."""

from __future__ import annotations

import matplotlib.image as mpimg

from swarm.sweep_table import plot_axes, point_estimate, point_rows, write_table


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


def test_point_estimate_reads_each_metric_as_the_scorecard_does():
    from swarm.stats import MetricKind, estimate

    rows = [{"time_to_find": t, "found": f, "auc": a} for t, f, a in
            [(10.0, 1.0, 0.7), (30.0, 1.0, 0.8), (60.0, 0.0, 0.9)]]  # fmt: skip
    ttf = point_estimate("time_to_find", rows)
    assert ttf.stat == "KM median" and ttf.events == 2  # the third run is censored
    assert ttf == estimate(MetricKind.TIME_TO_EVENT, [10.0, 30.0, 60.0], [True, True, False])
    assert point_estimate("found", rows).stat == "rate"
    assert point_estimate("auc", rows) == estimate(MetricKind.CONTINUOUS, [0.7, 0.8, 0.9])


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

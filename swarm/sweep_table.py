"""A sweep's results as one tidy table and its summary plots.

`rows` reads each point's results.json into one row per point x team x seed:
`point`, one column per swept field (its dotted path), `team`, `seed`, `ticks`,
`wall_seconds`, every end metric (`time_to_find`, `found`, `auc`, ...), every pool counter
(`train_steps`, `cpu_seconds`, `messages_sent`, `wire_bytes`, ...) and `params_per_brain`.
`write_table` saves it as `table.csv` and `table.parquet` (pyarrow); `plot_axes` draws each
metric against each swept axis, one line per team: the scorecard's estimate over seeds with
its 95% confidence band (`point_estimate`: bootstrap mean, Wilson rate, Kaplan-Meier median
of time to find), one panel per combination of the other axes' values.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["UNITS", "plot_axes", "point_estimate", "point_rows", "write_table"]


#: Units of the metrics and costs on plot axes (docs/scenarios.md, "Metrics").
UNITS: dict[str, str] = {
    "time_to_find": "ticks",
    "ticks": "ticks",
    "avg_idleness": "ticks",
    "worst_idleness": "ticks",
    "detection_latency": "ticks",
    "found": "fraction",
    "coverage": "fraction",
    "prob_weighted_coverage": "fraction",
    "precision": "fraction",
    "recall": "fraction",
    "auc": "ROC AUC",
    "distance": "m",
    "energy": "Wh",
    "wire_bytes": "bytes",
    "wall_seconds": "s",
    "cpu_seconds": "s",
}


def point_rows(
    point: str, axes: Mapping[str, Any], results: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The rows of one point's results.json (see the module docstring), team then seed order."""
    out: list[dict[str, Any]] = []
    for team, entry in results.get("teams", {}).items():
        for run in entry.get("runs", []):
            row: dict[str, Any] = {"point": point, **{k: _cell(v) for k, v in axes.items()}}
            row.update(team=team, seed=run["seed"], ticks=run["ticks"])
            row.update(horizon=run.get("horizon"), wall_seconds=run.get("wall_seconds"))
            row["params_per_brain"] = entry.get("params_per_brain")
            row.update({k: _num(v) for k, v in run.get("metrics", {}).items()})
            row.update({k: _num(v) for k, v in run.get("stats", {}).items()})
            out.append(row)
    return out


def _cell(v: Any) -> Any:
    """A swept value as a table cell: scalars as is, lists and sections as compact JSON."""
    return v if isinstance(v, str | int | float | bool) else json.dumps(v, sort_keys=True)


def _nan(v: float | None) -> float:
    return math.nan if v is None else float(v)


def _num(v: Any) -> float:
    return float(v) if v is not None else math.nan


def write_table(rows: Sequence[Mapping[str, Any]], directory: Path) -> list[Path]:
    """`table.csv` and `table.parquet` in `directory`; columns are the union over rows."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    table = pa.Table.from_pylist([{c: row.get(c) for c in columns} for row in rows])
    csv_path, parquet_path = directory / "table.csv", directory / "table.parquet"
    pacsv.write_csv(table, csv_path)
    pq.write_table(table, parquet_path)
    return [csv_path, parquet_path]


def point_estimate(metric: str, rows: Sequence[Mapping[str, Any]]) -> Any:
    """`swarm.stats.Estimate` of `metric` over `rows` (one team at one point, one row per seed),
    read as the scorecard reads it (`swarm.scorecard.METRICS`): a mean with a bootstrap CI, a
    rate with a Wilson interval, time to find as a Kaplan-Meier median with censoring."""
    from swarm.scorecard import metric_estimate

    return metric_estimate(metric, rows)


def plot_axes(
    rows: Sequence[Mapping[str, Any]],
    axes: Sequence[str],
    metrics: Sequence[str],
    directory: Path,
) -> list[Path]:
    """`<metric>_vs_<axis>.png` for every metric and swept axis (see the module docstring)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not rows:
        return []
    teams = list(dict.fromkeys(r["team"] for r in rows))
    colors = {t: f"C{i}" for i, t in enumerate(teams)}
    paths: list[Path] = []
    for axis in axes:
        others = [a for a in axes if a != axis]
        panels = list(dict.fromkeys(tuple(r.get(a) for a in others) for r in rows))
        xs = list(dict.fromkeys(r.get(axis) for r in rows))
        numeric = all(isinstance(x, int | float) and not isinstance(x, bool) for x in xs)
        xs = sorted(xs) if numeric else xs
        for metric in metrics:
            fig, grid = plt.subplots(
                1, len(panels), figsize=(5 * len(panels), 3.8), squeeze=False, sharey=True
            )
            for ax, panel in zip(grid[0], panels, strict=True):
                for k, team in enumerate(teams):
                    stats = []
                    for x in xs:
                        cell = [
                            r
                            for r in rows
                            if r["team"] == team
                            and r.get(axis) == x
                            and tuple(r.get(a) for a in others) == panel
                        ]
                        est = point_estimate(metric, cell)
                        label = f"{est.stat}, {est.interval}"
                        stats.append([_nan(est.value), _nan(est.lo), _nan(est.hi)])
                    pos = np.asarray(xs, float) if numeric else np.arange(len(xs)) + 0.04 * k
                    mean, lo, hi = np.asarray(stats, dtype=float).T
                    ax.plot(pos, mean, "o-", color=colors[team], label=team)
                    ax.fill_between(pos, lo, hi, color=colors[team], alpha=0.2, linewidth=0)
                if not numeric:
                    ax.set_xticks(np.arange(len(xs)), [str(x) for x in xs])
                else:
                    if min(xs) > 0 and max(xs) / min(xs) >= 8:
                        ax.set_xscale("log", base=2)
                    ax.set_xticks(xs, [str(x) for x in xs])
                title = ", ".join(f"{a}={v}" for a, v in zip(others, panel, strict=True))
                ax.set_title(title or f"{metric} vs {axis}", fontsize=9)
                ax.set_xlabel(axis)
                ax.grid(alpha=0.3)
            unit = UNITS.get(metric, "count")
            grid[0][0].set_ylabel(f"{metric} ({unit})\n{label} over seeds")
            grid[0][-1].legend(fontsize=8, loc="best")
            fig.tight_layout()
            path = directory / f"{metric}_vs_{axis.replace('.', '_')}.png"
            fig.savefig(path, dpi=90)
            plt.close(fig)
            paths.append(path)
    return paths

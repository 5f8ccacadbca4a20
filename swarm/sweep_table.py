"""A sweep's results as one tidy table and its summary plots.

`rows` reads each point's results.json into one row per point x team x seed:
`point`, one column per swept field (its dotted path), `team`, `seed`, `ticks`,
`wall_seconds`, every end metric (`time_to_find`, `found`, `auc`, ...), every pool counter
(`train_steps`, `cpu_seconds`, `wire_messages`, `wire_bytes`, ...) and `params_per_brain`.
`write_table` saves it as `table.csv` and `table.parquet` (pyarrow).

`plot_axes` draws each metric against each swept axis (`<metric>_vs_<axis>.png`), one line per
team, one panel per combination of the other axes' values: at each point the scorecard's
estimate over seeds (`swarm.scorecard.metric_estimate`: mean, Wilson rate, Kaplan-Meier median
of time to find) and its 95 % CI as a band (numeric axes) or error bars (named values such as
topologies). A mean over fewer than `stats.BOOTSTRAP_MIN_N` seeds has no CI: its band is the
range of the seeds, and the caption says so. Metrics the scorecard marks as descriptive
(`inspections`, `ticks`: no better direction) are not drawn, as in the run plots.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from swarm.stats import BOOTSTRAP_MIN_N

__all__ = [
    "axis_figures",
    "field_description",
    "plot_axes",
    "point_band",
    "point_rows",
    "write_table",
]


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
    """A swept value as a table cell: scalars as is, lists and sections as compact JSON, a
    field the point does not set as an empty cell (not the text "null": a column holding a
    number at one point and text at another cannot be written to Parquet)."""
    if v is None or isinstance(v, str | int | float | bool):
        return v
    return json.dumps(v, sort_keys=True)


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


def field_description(config: Any, path: str) -> str | None:
    """The description of the config field at dotted `path` of a validated RunConfig (the
    field's meaning and unit, as in docs/scenarios.md), None when it has none."""
    parent = config
    *head, leaf = path.split(".")
    for part in head:
        parent = getattr(parent, part, None)
    fields = getattr(type(parent), "model_fields", {})
    return fields[leaf].description if leaf in fields else None


def point_band(metric: str, rows: Sequence[Mapping[str, Any]]) -> tuple[float, float, float, str]:
    """`(value, lo, hi, what the band is)` of `metric` over `rows` (one team at one point, a
    row per seed); NaN where there is none. A Kaplan-Meier bound not reached within the
    horizon is drawn at the horizon ("open above")."""
    from swarm.scorecard import metric_estimate

    est = metric_estimate(metric, rows)
    value = math.nan if est.value is None else est.value
    if est.lo is not None and est.hi is not None:
        return value, est.lo, est.hi, est.interval
    if est.stat == "KM median":
        horizons = [r["horizon"] for r in rows if isinstance(r.get("horizon"), int | float)]
        top = max(horizons) if horizons else math.nan
        lo = math.nan if est.lo is None else est.lo
        return value, lo, top, f"{est.interval}, open above: not reached within the horizon"
    vals = np.asarray([r.get(metric) for r in rows if isinstance(r.get(metric), int | float)])
    vals = vals[np.isfinite(vals)]
    if not vals.size:
        return value, math.nan, math.nan, ""  # nothing to estimate here: no band to explain
    if est.stat == "mean":
        few = f"range over seeds (fewer than {BOOTSTRAP_MIN_N} seeds: no CI)"
        return value, float(vals.min()), float(vals.max()), few
    return value, math.nan, math.nan, est.interval


def axis_figures(
    rows: Sequence[Mapping[str, Any]],
    axes: Sequence[str],
    metrics: Sequence[str],
    descriptions: Mapping[str, str | None] | None = None,
) -> dict[str, Figure]:
    """`{"<metric>_vs_<axis>.png": Figure}` for every swept axis and every metric with data
    (see the module docstring); `descriptions` label the swept axes (`field_description`)."""
    from swarm.plot_style import descriptive

    shown = [
        m
        for m in dict.fromkeys(metrics)
        if not descriptive(m)
        and any(isinstance(r.get(m), int | float) and math.isfinite(r[m]) for r in rows)
    ]
    out: dict[str, Figure] = {}
    for axis in axes:
        for metric in shown:
            about = (descriptions or {}).get(axis)
            fig = _axis_figure(rows, axes, axis, metric, f"{axis}: {about}" if about else axis)
            out[f"{metric}_vs_{axis.replace('.', '_')}.png"] = fig
    return out


def _axis_figure(
    rows: Sequence[Mapping[str, Any]], axes: Sequence[str], axis: str, metric: str, xlabel: str
) -> Figure:
    from swarm.plot_style import axis_label, finish, new_figure, team_styles

    teams = list(dict.fromkeys(r["team"] for r in rows))
    styles = team_styles(teams)
    others = [a for a in axes if a != axis]
    panels = list(dict.fromkeys(tuple(r.get(a) for a in others) for r in rows))
    xs = list(dict.fromkeys(r.get(axis) for r in rows))
    numeric = all(isinstance(x, int | float) and not isinstance(x, bool) for x in xs)
    xs = sorted(xs) if numeric else xs
    log = numeric and min(xs) > 0 and max(xs) / min(xs) >= 8
    fig, grid = new_figure(
        f"{metric} vs {axis}", xlabel, axis_label(metric), panels=len(panels), sharey=True
    )
    cells: dict[tuple, list[Mapping[str, Any]]] = {}  # (panel, team, x) -> its seeds' rows
    for r in rows:
        key = (tuple(r.get(a) for a in others), r["team"], r.get(axis))
        cells.setdefault(key, []).append(r)
    kinds: list[str] = []
    for ax, panel in zip(grid, panels, strict=True):
        for k, team in enumerate(teams):
            stats = []
            for x in xs:
                value, lo, hi, kind = point_band(metric, cells.get((panel, team, x), []))
                stats.append((value, lo, hi))
                kinds.append(kind)
            value, lo, hi = np.asarray(stats, dtype=float).T
            pos = _dodged(xs, numeric, log, k, len(teams))
            st = styles[team]
            line = st.line() if numeric else {**st.line(), "linestyle": "none"}
            ax.plot(pos, value, label=team, markersize=5, **line)  # named values: no lines
            if numeric:
                ax.fill_between(pos, lo, hi, color=st.color, alpha=0.15, lw=0)
            else:
                err = np.abs(np.vstack([value - lo, hi - value]))
                ax.errorbar(pos, value, yerr=err, fmt="none", ecolor=st.color, capsize=3)
        if log:
            ax.set_xscale("log", base=2)
        ticks = xs if numeric else range(len(xs))
        ax.set_xticks(list(ticks), [str(x) for x in xs])
        ax.set_title(", ".join(f"{a}={v}" for a, v in zip(others, panel, strict=True)),
                     fontsize="small")  # fmt: skip
    shape = "band" if numeric else "bars"
    what = "; ".join(dict.fromkeys(k for k in kinds if k))
    mark = "line" if numeric else "marker"
    caption = f"{mark}: estimate over seeds per team; {shape}: {what}; teams dodged sideways"
    return finish(fig, caption, teams)


def _dodged(xs: Sequence[Any], numeric: bool, log: bool, k: int, n: int) -> np.ndarray:
    """x positions of team k of n: nudged sideways so equal values stay visible."""
    shift = (k - (n - 1) / 2) / max(n, 1)
    if not numeric:
        return np.arange(len(xs)) + 0.45 * shift
    x = np.asarray(xs, dtype=float)
    if log:
        return x * 2.0 ** (0.15 * shift)
    span = (x.max() - x.min()) or 1.0
    return x + 0.02 * span * shift


def plot_axes(
    rows: Sequence[Mapping[str, Any]],
    axes: Sequence[str],
    metrics: Sequence[str],
    directory: Path,
    descriptions: Mapping[str, str | None] | None = None,
) -> list[Path]:
    """Save `axis_figures` as PNGs in `directory`; returns the paths written."""
    paths = []
    for name, fig in axis_figures(rows, axes, metrics, descriptions).items():
        fig.savefig(directory / name, dpi=90)
        paths.append(directory / name)
    return paths

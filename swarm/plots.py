"""PNG plots of a finished (or interrupted) run, from results.json and ticks.csv.

Uses matplotlib's object API on the Agg canvas (no pyplot, no display, no global state), so
plotting works on a headless machine and beside other threads.

Written, when the data exist:
- `survival.png`: Kaplan–Meier P(not found yet) over ticks per team, with its pointwise
  95% confidence band (drone_search);
- `estimates.png`: each headline metric per team, a bar at the estimate with its 95% CI;
- `paired_differences.png`: a forest plot of `team - reference` per metric with 95% CIs;
- `auc.png`: detector AUC on the world's (source) probe set over ticks, a line per team x seed;
- `field_auc.png`: field AUC so far (the brains' scores on the tokens they observed, against
  simulator truth) and the field-probe AUC over ticks, a line per team x seed;
- `wire_bytes.png`: bytes on the wire per team (median per seed, counted at the socket);
- `tick_<column>.png`: each per-tick CSV column over time per team (coverage, idleness...).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from swarm.scorecard import HEADLINE_METRICS, metric_spec, survival_band

__all__ = ["make_plots", "read_ticks"]

_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")


def read_ticks(path: Path) -> dict[str, dict[int, dict[str, np.ndarray]]]:
    """ticks.csv as `{team: {seed: {column: array over rows}}}` (numeric columns only)."""
    out: dict[str, dict[int, dict[str, list[float]]]] = defaultdict(dict)
    if not Path(path).exists():
        return {}
    with Path(path).open(newline="") as fh:
        for row in csv.DictReader(fh):
            cols = out[row["team"]].setdefault(int(row["seed"]), defaultdict(list))
            for key, val in row.items():
                if key in ("team", "seed"):
                    continue
                try:
                    cols[key].append(float(val))
                except (TypeError, ValueError):
                    continue
    return {
        team: {seed: {k: np.asarray(v) for k, v in cols.items()} for seed, cols in seeds.items()}
        for team, seeds in out.items()
    }


def make_plots(directory: Path, results: Mapping[str, Any]) -> list[Path]:
    """Write every plot the data allow into `directory`; returns the paths written."""
    directory = Path(directory)
    teams: Mapping[str, Any] = results.get("teams", {})
    colors = {t: _COLORS[i % len(_COLORS)] for i, t in enumerate(teams)}
    written: list[Path] = []
    written += _survival(directory, teams, colors)
    metrics = HEADLINE_METRICS.get(results.get("scenario", ""), ())
    written += _estimates(directory, teams, colors, metrics)
    written += _forest(directory, teams, results.get("comparison") or {}, colors, metrics)
    written += _auc(directory, teams, colors)
    written += _field_auc(directory, teams, colors)
    written += _wire(directory, teams, colors)
    ticks = read_ticks(directory / "ticks.csv")
    columns = sorted({c for seeds in ticks.values() for cols in seeds.values() for c in cols})
    for col in columns:
        if col == "tick":
            continue
        written.append(_over_time(directory, ticks, col, colors))
    return written


def _figure(title: str, xlabel: str, ylabel: str) -> tuple[Figure, Any]:
    fig = Figure(figsize=(6.4, 4.0), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    return fig, ax


def _save(fig: Figure, path: Path) -> Path:
    ax = fig.axes[0]
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path)
    return path


def _survival(directory: Path, teams: Mapping, colors: Mapping) -> list[Path]:
    fig, ax = _figure("time to find (Kaplan–Meier)", "tick", "P(target not found yet)")
    drawn = False
    for name, team in teams.items():
        runs = [r for r in team.get("runs", []) if "time_to_find" in r.get("metrics", {})]
        if not runs:
            continue
        horizon = int(max(r.get("horizon") or r.get("ticks", 0) for r in runs))
        times = [float(r["metrics"]["time_to_find"]) for r in runs]
        found = [bool(r["metrics"].get("found", False)) for r in runs]
        t, s, lo, hi = survival_band(times, found, horizon)
        ax.step(t, s, where="post", color=colors[name], label=name)
        ax.fill_between(t, lo, hi, step="post", color=colors[name], alpha=0.15, lw=0)
        drawn = True
    ax.set_ylim(-0.02, 1.02)
    return [_save(fig, directory / "survival.png")] if drawn else []


def _grid(n: int, title: str) -> tuple[Figure, list[Any]]:
    cols = min(3, n)
    rows = (n + cols - 1) // cols
    fig = Figure(figsize=(4.0 * cols, 3.0 * rows), dpi=100)
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(rows, cols, i + 1) for i in range(n)]
    fig.suptitle(title)
    for ax in axes:
        ax.grid(alpha=0.3)
    return fig, axes


def _estimates(directory: Path, teams: Mapping, colors: Mapping, metrics: Any) -> list[Path]:
    ends = {name: t.get("estimates", {}).get("end", {}) for name, t in teams.items()}
    shown = [
        m for m in metrics if any((e.get(m) or {}).get("value") is not None for e in ends.values())
    ]
    if not shown:
        return []
    fig, axes = _grid(len(shown), "estimates with 95% confidence intervals")
    for ax, m in zip(axes, shown, strict=False):
        # every team with runs gets its place; a KM median never reached has no bar, a label
        names = [n for n in teams if ends[n].get(m)]
        est = [ends[n][m] for n in names]
        vals = [e["value"] if e["value"] is not None else 0.0 for e in est]
        # a missing bound (KM CI not reached, too few seeds) is drawn as no error bar there
        err = np.array([_whiskers(e) for e in est]).T.reshape(2, len(est))
        ax.bar(names, vals, yerr=err, capsize=4, color=[colors[n] for n in names])
        for x, e in enumerate(est):
            if e["value"] is None:
                ax.annotate("not reached", (x, 0), ha="center", va="bottom", fontsize="small")
        stat = est[0]["stat"]
        ax.set_title(f"{m} ({stat}, {metric_spec(m).better.value} is better)", fontsize="small")
        ax.tick_params(axis="x", labelsize="small", rotation=20)
    return [_save(fig, directory / "estimates.png")]


def _whiskers(e: Mapping) -> tuple[float, float]:
    """Error-bar lengths below and above an estimate (0 for a bound that does not exist)."""
    v = e["value"]
    if v is None:
        return 0.0, 0.0
    lo = v - e["lo"] if e["lo"] is not None else 0.0
    hi = e["hi"] - v if e["hi"] is not None else 0.0
    return max(lo, 0.0), max(hi, 0.0)


def _forest(
    directory: Path, teams: Mapping, comp: Mapping, colors: Mapping, metrics: Any
) -> list[Path]:
    diffs = comp.get("teams", {})
    ref = comp.get("reference")
    shown = [
        m
        for m in metrics
        if any((d.get("end", {}).get(m) or {}).get("diff") is not None for d in diffs.values())
    ]
    if not ref or not shown:
        return []
    fig, axes = _grid(len(shown), f"paired difference: team - {ref} (95% CI)")
    for ax, m in zip(axes, shown, strict=False):
        names = [
            n
            for n in teams
            if (diffs.get(n, {}).get("end", {}).get(m) or {}).get("diff") is not None
        ]
        for y, n in enumerate(names):
            d = diffs[n]["end"][m]
            if d["lo"] is not None and d["hi"] is not None:
                ax.plot([d["lo"], d["hi"]], [y, y], color=colors[n], lw=2)
            ax.plot([d["diff"]], [y], "o", color=colors[n])
        ax.axvline(0.0, color="grey", lw=0.8, ls="--")
        ax.set_yticks(range(len(names)), names, fontsize="small")
        ax.set_ylim(-0.5, len(names) - 0.5)
        ax.set_title(f"Δ {m} ({metric_spec(m).better.value} is better)", fontsize="small")
    return [_save(fig, directory / "paired_differences.png")]


def _auc(directory: Path, teams: Mapping, colors: Mapping) -> list[Path]:
    # one line per seed: missions end at different ticks, so a median per tick would mix seeds
    fig, ax = _figure("detector AUC on the probe set (a line per seed)", "tick", "AUC")
    drawn = False
    for name, team in teams.items():
        for i, run in enumerate(team.get("runs", [])):
            pts = [(int(t), float(a)) for t, a in run.get("auc_curve", []) if a is not None]
            if not pts:
                continue
            ts, aucs = zip(*pts, strict=True)
            label = name if i == 0 else None
            ax.plot(ts, aucs, ".-", color=colors[name], alpha=0.7, label=label)
            drawn = True
    ax.axhline(0.5, color="grey", lw=0.8, ls="--")
    return [_save(fig, directory / "auc.png")] if drawn else []


def _field_auc(directory: Path, teams: Mapping, colors: Mapping) -> list[Path]:
    fig, ax = _figure("field AUC (solid) and field-probe AUC (dotted), a line per seed",
                      "tick", "AUC")  # fmt: skip
    drawn = False
    for name, team in teams.items():
        for i, run in enumerate(team.get("runs", [])):
            pts = np.array(run.get("field_curve", []), dtype=float).reshape(-1, 3)
            if not np.isfinite(pts[:, 1:]).any():
                continue
            label = name if i == 0 else None
            ax.plot(pts[:, 0], pts[:, 1], ".-", color=colors[name], alpha=0.7, label=label)
            ax.plot(pts[:, 0], pts[:, 2], ":", color=colors[name], alpha=0.7)
            drawn = True
    ax.axhline(0.5, color="grey", lw=0.8, ls="--")
    return [_save(fig, directory / "field_auc.png")] if drawn else []


def _wire(directory: Path, teams: Mapping, colors: Mapping) -> list[Path]:
    fig, ax = _figure("bytes on the wire per run", "team", "bytes (median over seeds)")
    names = [t for t in teams if teams[t].get("summary", {}).get("wire_bytes")]
    if not names:
        return []
    vals = [teams[t]["summary"]["wire_bytes"]["median"] or 0.0 for t in names]
    ax.bar(names, vals, color=[colors[t] for t in names])
    for i, v in enumerate(vals):
        ax.annotate(f"{v:,.0f}", (i, v), ha="center", va="bottom", fontsize="small")
    return [_save(fig, directory / "wire_bytes.png")]


def _over_time(directory: Path, ticks: Mapping, column: str, colors: Mapping) -> Path:
    fig, ax = _figure(f"{column} over time", "tick", column)
    for team, seeds in ticks.items():
        for i, cols in enumerate(seeds.values()):
            if column not in cols:
                continue
            label = team if i == 0 else None
            ax.plot(cols["tick"], cols[column], color=colors.get(team), alpha=0.7, label=label)
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in column)
    return _save(fig, directory / f"tick_{safe}.png")

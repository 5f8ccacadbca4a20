"""PNG plots of a finished (or interrupted) run, from results.json and ticks.csv.

`figures(results, ticks)` builds every figure the data allow as a matplotlib `Figure` (object
API on the Agg canvas: no pyplot, no display, no global state, so it works headless and beside
other threads); `make_plots` saves them. Tests read what was drawn from the `Figure`s.

- `survival.png`: Kaplan–Meier P(not found yet) over ticks per team with its pointwise 95 %
  confidence band (drone_search). Each team has its own colour, dash pattern, width and
  staggered markers, so identical curves stay visible on top of each other.
- `estimates.png`: each headline metric (`scorecard.HEADLINE_METRICS`) per team: every seed as
  a dot (hollow: censored, the target never found) beside the scorecard's estimate with its
  95 % CI (mean: bootstrap; rate: Wilson; time to find: Kaplan–Meier median).
- `paired_differences.png`: forest plot of `team - reference` per metric with 95 % CIs.
- `costs.png`: each cost per run (`scorecard.METRICS` rows marked `cost`, and the pool's
  additive counters: training steps, CPU seconds, messages, wire bytes), seeds and estimate
  as in `estimates.png`.
- `auc.png`: detector AUC on the world's (source) probe set over ticks;
  `field_auc.png`: field AUC so far (brains' scores on the tokens they observed, against
  simulator truth) and field-probe AUC over ticks, a panel each;
  `tick_<column>.png`: each per-tick CSV column over ticks. All three draw, per team, the
  mean over seeds and a band (`seed_band`: the 95 % bootstrap CI of the mean with at least
  `stats.BOOTSTRAP_MIN_N` seeds, else the range of the seeds; the caption says which). A
  mission that ended early keeps its last value, as the scorecard's fixed-tick rows do.

Not drawn over ticks, because another figure shows them: the event of a time-to-event metric
(`found`, the event of `time_to_find`: `survival.png` is its cumulative curve, with censoring),
`field_auc` (`field_auc.png`), and metrics `scorecard.METRICS` marks as descriptive (no better
direction): `inspections` is `false_alarms` plus the finds, so `tick_inspections.png` repeated
`tick_false_alarms.png`; the false alarms are kept because they are the cost an inspection
policy should lower. Every axis says its unit (`UNITS`, as docs/scenarios.md "Metrics").
Legends sit outside the axes so they never cover data.
"""

from __future__ import annotations

import csv
import math
import warnings
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from swarm.loop import ADDITIVE_STATS
from swarm.plot_style import (
    Style,
    axis_label,
    descriptive,
    finish,
    grid_figure,
    markevery,
    new_figure,
    team_styles,
)
from swarm.scorecard import HEADLINE_METRICS, METRICS, metric_estimate, metric_spec, survival_band
from swarm.stats import BOOTSTRAP_MIN_N, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, LEVEL, Better

__all__ = [
    "Band",
    "figures",
    "make_plots",
    "read_ticks",
    "seed_band",
]

#: Per-tick columns a dedicated figure draws from results.json instead (see the docstring).
_OWN_FIGURE = {"field_auc": "field_auc.png"}
_TIME = "time (ticks)"
_CARRIED = "a mission that ended keeps its last value"


def _title(head: str, metric: str) -> str:
    """`head` and which way `metric` is better ("higher is better"), if it has a way."""
    better = metric_spec(metric).better
    return head if better is Better.NEITHER else f"{head}, {better.value} is better"


@dataclass(frozen=True)
class Band:
    """A team's curve over seeds: `centre` (T,), band `lo`, `hi` (T,), and what they are."""

    centre: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    kind: str


def seed_band(values: np.ndarray, level: float = LEVEL) -> Band:
    """Mean over seeds and its band, per column of `values` (S seeds, T ticks; NaN = none).

    Columns with at least `BOOTSTRAP_MIN_N` finite values get the `level` percentile-bootstrap
    CI of the mean (scipy.stats.bootstrap, the scorecard's resamples and seed); others the
    range (min to max) of their seeds, which describes the seeds, not a confidence interval.
    """
    from scipy import stats as sps

    values = np.atleast_2d(np.asarray(values, dtype=float))
    finite = np.isfinite(values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: NaN, as wanted
        centre = np.nanmean(values, axis=0)
        lo, hi = np.nanmin(values, axis=0), np.nanmax(values, axis=0)
    enough = finite.sum(axis=0) >= BOOTSTRAP_MIN_N
    # columns with the same seeds present are resampled together (one vectorised call)
    for mask in {tuple(m) for m in finite[:, enough].T}:
        cols = enough & (finite == np.asarray(mask)[:, None]).all(axis=0)
        res = sps.bootstrap(
            (values[np.asarray(mask)][:, cols],),
            np.mean,
            axis=0,
            vectorized=True,
            n_resamples=BOOTSTRAP_RESAMPLES,
            batch=1000,
            method="percentile",
            confidence_level=level,
            rng=np.random.default_rng(BOOTSTRAP_SEED),
        )
        lo[cols], hi[cols] = res.confidence_interval.low, res.confidence_interval.high
    pct = f"{round(100 * level)} %"
    kinds = []
    if enough.any():
        kinds.append(f"{pct} bootstrap CI of the mean")
    if (~enough & finite.any(axis=0)).any():
        kinds.append(f"range over seeds (fewer than {BOOTSTRAP_MIN_N} seeds: no CI)")
    return Band(centre, lo, hi, "; elsewhere ".join(kinds) or "no data")


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
    """Write every figure of `figures` into `directory` as PNG; returns the paths written."""
    directory = Path(directory)
    written = []
    for name, fig in figures(results, read_ticks(directory / "ticks.csv")).items():
        fig.savefig(directory / name)
        written.append(directory / name)
    return written


def figures(
    results: Mapping[str, Any], ticks: Mapping[str, Mapping[int, Mapping[str, np.ndarray]]]
) -> dict[str, Figure]:
    """Every figure the data allow, by file name (see the module docstring).

    `results` is a results.json document, `ticks` its ticks.csv as `read_ticks` returns it."""
    teams: Mapping[str, Any] = results.get("teams", {})
    styles = team_styles(list(dict.fromkeys([*teams, *ticks])))
    headline = HEADLINE_METRICS.get(results.get("scenario", ""), ())
    built = {
        "survival.png": _survival(teams, styles),
        "estimates.png": _estimates(teams, styles, headline),
        "paired_differences.png": _forest(teams, results.get("comparison") or {}, styles, headline),
        "costs.png": _costs(teams, styles),
        "auc.png": _auc(teams, styles),
        "field_auc.png": _field_auc(teams, styles),
    }
    for col in _tick_columns(ticks):
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in col)
        built[f"tick_{safe}.png"] = _over_time(ticks, col, styles)
    return {name: fig for name, fig in built.items() if fig is not None}


def _tick_columns(ticks: Mapping) -> list[str]:
    """The per-tick columns worth a figure of their own (see the module docstring)."""
    events = {m.event for m in METRICS.values() if m.event}
    cols = sorted({c for seeds in ticks.values() for cols in seeds.values() for c in cols})
    return [
        c
        for c in cols
        if c != "tick" and c not in events and c not in _OWN_FIGURE and not descriptive(c)
    ]


# --- figures -----------------------------------------------------------------------------------


def _survival(teams: Mapping, styles: Mapping[str, Style]) -> Figure | None:
    drawn = [
        (name, [r for r in team.get("runs", []) if "time_to_find" in r.get("metrics", {})])
        for name, team in teams.items()
    ]
    drawn = [(name, runs) for name, runs in drawn if runs]
    if not drawn:
        return None
    fig, (ax,) = new_figure("time to find (Kaplan–Meier)", _TIME, "P(target not found yet) (0–1)")
    for i, (name, runs) in enumerate(drawn):
        horizon = int(max(r.get("horizon") or r.get("ticks", 0) for r in runs))
        times = [float(r["metrics"]["time_to_find"]) for r in runs]
        found = [bool(r["metrics"].get("found", False)) for r in runs]
        t, s, lo, hi = survival_band(times, found, horizon)
        st = styles[name]
        ax.step(
            t, s, where="post", label=f"{name} (found {sum(found)} of {len(runs)})",
            markevery=markevery(i, len(drawn), t.size), markersize=5, **st.line(),
        )  # fmt: skip
        ax.fill_between(t, lo, hi, step="post", color=st.color, alpha=0.12, lw=0)
    ax.set_ylim(-0.02, 1.02)
    return finish(
        fig,
        f"line: Kaplan–Meier estimate; shaded: pointwise {round(100 * LEVEL)} % CI (lifelines); "
        "a run that never found the target is censored at its horizon",
    )


def _seed_values(runs: Sequence[Mapping], metric: str) -> tuple[list[float], list[bool]]:
    """Per-seed values of `metric` (metrics, else stats) and whether each is censored."""
    spec = metric_spec(metric)
    vals, censored = [], []
    for r in runs:
        src = r.get("metrics", {}) if metric in r.get("metrics", {}) else r.get("stats", {})
        v = src.get(metric)
        vals.append(math.nan if v is None else float(v))
        censored.append(bool(spec.event) and not r.get("metrics", {}).get(spec.event, False))
    return vals, censored


def _point_panel(ax: Axes, metric: str, teams: Mapping, styles: Mapping[str, Style]) -> bool:
    """Seeds as dots and the estimate with its CI, one column per team; False if no data."""
    names = [n for n in teams if any(np.isfinite(_seed_values(teams[n]["runs"], metric)[0]))]
    if not names:
        return False
    stat = ""
    for x, name in enumerate(names):
        runs = teams[name]["runs"]
        vals, censored = _seed_values(runs, metric)
        st = styles[name]
        offsets = np.linspace(-0.3, -0.1, len(vals)) if len(vals) > 1 else np.array([-0.2])
        for off, v, c in zip(offsets, vals, censored, strict=True):
            face = "none" if c else st.color
            ax.plot([x + off], [v], "o", ms=4, mfc=face, mec=st.color, alpha=0.8)
        rows = [{**r.get("stats", {}), **r.get("metrics", {})} for r in runs]
        est = metric_estimate(metric, rows)
        stat = est.stat
        if est.value is None:
            ax.annotate("not reached", (x + 0.15, 1.0), xycoords=("data", "axes fraction"),
                        ha="center", va="top", fontsize="x-small")  # fmt: skip
            continue
        err = None
        if est.lo is not None and est.hi is not None:
            err = [[max(est.value - est.lo, 0.0)], [max(est.hi - est.value, 0.0)]]
        ax.errorbar([x + 0.15], [est.value], yerr=err, fmt="D", color=st.color, capsize=4, ms=6)
        if err is None:
            ax.annotate(f"no CI (n={est.n})", (x + 0.15, est.value), fontsize="x-small",
                        xytext=(4, 4), textcoords="offset points")  # fmt: skip
    ax.set_xticks(range(len(names)), names, fontsize="small", rotation=20)
    ax.set_xlim(-0.6, len(names) - 0.4)
    ax.set_ylabel(axis_label(metric), fontsize="small")
    ax.set_title(_title(f"{metric}: {stat}", metric), fontsize="small")
    return True


_POINTS_CAPTION = (
    "dots: one per seed (hollow: censored, the event never happened); diamond and bar: the "
    "scorecard's estimate with its 95 % CI (mean: bootstrap, none below "
    f"{BOOTSTRAP_MIN_N} seeds; rate: Wilson; time to an event: Kaplan–Meier median)"
)


def _panels(
    teams: Mapping,
    styles: Mapping[str, Style],
    metrics: Sequence[str],
    title: str,
    notes: Mapping[str, str] | None = None,
) -> Figure | None:
    """A grid of `_point_panel`s, one per metric with data; `notes` extend panel titles."""
    teams = {n: t for n, t in teams.items() if t.get("runs")}
    shown = [
        m for m in metrics if any(np.isfinite(_seed_values(t["runs"], m)[0]).any()
                                  for t in teams.values())
    ]  # fmt: skip
    if not shown:
        return None
    fig, axes = grid_figure(len(shown), title)
    for ax, m in zip(axes, shown, strict=False):
        _point_panel(ax, m, teams, styles)
        if (notes or {}).get(m):
            ax.set_title(f"{ax.get_title()} {notes[m]}", fontsize="small")
    return finish(fig, _POINTS_CAPTION)


def _estimates(teams: Mapping, styles: Mapping[str, Style], metrics: Sequence[str]):
    return _panels(teams, styles, metrics, "estimates per team (seeds and 95 % CI)")


def _costs(teams: Mapping, styles: Mapping[str, Style]) -> Figure | None:
    """The cost metrics and the pool's additive counters that are not zero everywhere; a
    counter equal to an earlier one in every run (messages received = sent when nothing is
    lost) is named in that one's title instead of drawn twice."""
    runs = [r for t in teams.values() for r in t.get("runs", [])]
    names: dict[str, list[str]] = {}  # drawn -> the counters equal to it
    for k in [m.name for m in METRICS.values() if m.cost] + list(ADDITIVE_STATS):
        vals = tuple(_seed_values(runs, k)[0])
        if not any(np.isfinite(v) and v != 0 for v in vals):
            continue
        same = [d for d in names if tuple(_seed_values(runs, d)[0]) == vals]
        if same:
            names[same[0]].append(k)
        else:
            names[k] = []
    titles = {k: f"(= {', '.join(v)})" for k, v in names.items() if v}
    return _panels(teams, styles, list(names), "cost per run (seeds and 95 % CI)", titles)


def _forest(
    teams: Mapping, comp: Mapping, styles: Mapping[str, Style], metrics: Sequence[str]
) -> Figure | None:
    diffs = comp.get("teams", {})
    ref = comp.get("reference")
    shown = [
        m
        for m in metrics
        if any((d.get("end", {}).get(m) or {}).get("diff") is not None for d in diffs.values())
    ]
    if not ref or not shown:
        return None
    fig, axes = grid_figure(len(shown), f"paired difference: team - {ref} (95 % CI)")
    for ax, m in zip(axes, shown, strict=False):
        names = [
            n
            for n in teams
            if (diffs.get(n, {}).get("end", {}).get(m) or {}).get("diff") is not None
        ]
        for y, n in enumerate(names):
            d = diffs[n]["end"][m]
            if d["lo"] is not None and d["hi"] is not None:
                ax.plot([d["lo"], d["hi"]], [y, y], color=styles[n].color, lw=2)
            ax.plot([d["diff"]], [y], "o", color=styles[n].color)
            seeds = _seed_diffs(teams[n].get("runs", []), teams[ref].get("runs", []), m)
            ax.plot(seeds, np.full(len(seeds), y + 0.15), "|", color=styles[n].color, ms=8)
        ax.axvline(0.0, color="grey", lw=0.8, ls="--")
        ax.set_yticks(range(len(names)), names, fontsize="small")
        ax.set_ylim(-0.5, len(names) - 0.5)
        ax.set_xlabel(f"Δ {axis_label(m)}", fontsize="small")
        ax.set_title(_title(f"Δ {m}", m), fontsize="small")
    return finish(
        fig,
        "dot: mean per-seed difference (time to find: difference of Kaplan–Meier medians, no "
        f"CI); bar: 95 % bootstrap CI (none below {BOOTSTRAP_MIN_N} seeds); ticks above: each "
        "seed's difference (none for censored times)",
    )


def _seed_diffs(runs: Sequence[Mapping], ref_runs: Sequence[Mapping], metric: str) -> list[float]:
    """`team - reference` of `metric` per seed both ran (the pairs of the paired difference);
    none for a time-to-event metric, whose censored values have no difference."""
    if metric_spec(metric).event:
        return []
    ref = {r["seed"]: r for r in ref_runs}
    pairs = [(r, ref[r["seed"]]) for r in runs if r.get("seed") in ref]
    out = [_seed_values([a], metric)[0][0] - _seed_values([b], metric)[0][0] for a, b in pairs]
    return [d for d in out if np.isfinite(d)]


def _aligned(series: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Seeds' (ticks, values) on one grid: the union of their ticks; a seed holds its last
    value until its next row and after its mission ended, NaN before its first row.
    Returns (grid (T,), values (S, T))."""
    grid = np.unique(np.concatenate([np.asarray(t, dtype=float) for t, _ in series]))
    out = np.full((len(series), grid.size), np.nan)
    for i, (t, v) in enumerate(series):
        order = np.argsort(t, kind="stable")
        t, v = np.asarray(t, float)[order], np.asarray(v, float)[order]
        idx = np.searchsorted(t, grid, side="right") - 1
        out[i, idx >= 0] = v[idx[idx >= 0]]
    return grid, out


def _band_lines(
    ax: Axes, per_team: Mapping[str, list[tuple[np.ndarray, np.ndarray]]], styles
) -> list[str]:
    """Mean and band per team on `ax`; returns the band kinds drawn."""
    kinds = []
    teams = [t for t, s in per_team.items() if s]
    for i, team in enumerate(teams):
        grid, vals = _aligned(per_team[team])
        band = seed_band(vals)
        st = styles[team]
        ax.plot(grid, band.centre, label=team, markevery=markevery(i, len(teams), grid.size),
                markersize=4, **st.line())  # fmt: skip
        ax.fill_between(grid, band.lo, band.hi, color=st.color, alpha=0.15, lw=0)
        kinds.append(band.kind)
    return kinds


def _band_caption(kinds: Sequence[str]) -> str:
    bands = "; ".join(dict.fromkeys(kinds))
    return f"line: mean over seeds; band: {bands}; {_CARRIED}"


def _curve(run: Mapping, key: str, col: int) -> tuple[np.ndarray, np.ndarray] | None:
    pts = [p for p in run.get(key, []) if len(p) > col]
    if not pts:
        return None
    t = np.array([float(p[0]) for p in pts])
    v = np.array([math.nan if p[col] is None else float(p[col]) for p in pts])
    return (t, v) if np.isfinite(v).any() else None


def _curves(teams: Mapping, key: str, col: int) -> dict[str, list]:
    out = {}
    for name, team in teams.items():
        got = [_curve(r, key, col) for r in team.get("runs", [])]
        out[name] = [c for c in got if c is not None]
    return out


def _auc(teams: Mapping, styles: Mapping[str, Style]) -> Figure | None:
    per_team = _curves(teams, "auc_curve", 1)
    if not any(per_team.values()):
        return None
    fig, (ax,) = new_figure("detector AUC on the (source) probe set", _TIME, axis_label("auc"))
    kinds = _band_lines(ax, per_team, styles)
    ax.axhline(0.5, color="grey", lw=0.8, ls="--", label="chance (0.5)")
    return finish(fig, _band_caption(kinds), list(styles))


def _field_auc(teams: Mapping, styles: Mapping[str, Style]) -> Figure | None:
    panels = [("field AUC so far", "field_auc", 1), ("field-probe AUC", "field_probe_auc", 2)]
    data = [(title, name, _curves(teams, "field_curve", col)) for title, name, col in panels]
    if not any(any(per.values()) for *_, per in data):
        return None
    fig, axes = new_figure("detector AUC in the field", _TIME, "", panels=2)
    kinds: list[str] = []
    for ax, (title, name, per_team) in zip(axes, data, strict=True):
        ax.set_title(title, fontsize="small")
        ax.set_ylabel(axis_label(name))
        kinds += _band_lines(ax, per_team, styles)
        ax.axhline(0.5, color="grey", lw=0.8, ls="--", label="chance (0.5)")
    caption = _band_caption(kinds) + "; field AUC is undefined until a drone has seen a target"
    return finish(fig, caption, list(styles))


def _over_time(ticks: Mapping, column: str, styles: Mapping[str, Style]) -> Figure | None:
    per_team = {
        team: [(cols["tick"], cols[column]) for cols in seeds.values() if column in cols]
        for team, seeds in ticks.items()
    }
    if not any(per_team.values()):
        return None
    fig, (ax,) = new_figure(f"{column} over time", _TIME, axis_label(column))
    kinds = _band_lines(ax, per_team, styles)
    return finish(fig, _band_caption(kinds), list(styles))

"""The scorecard: per-team summaries over seeds, survival curves, and the printed table.

Everything here is a pure function of plain numbers (lists of per-seed values), so the maths
is easy to test and the same functions serve `results.json`, the plots and the console.

Summary of one metric over seeds: the median (and the mean), and a 95% interval taken as the
empirical 2.5% and 97.5% quantiles of the per-seed values (linear interpolation between order
statistics).
With few seeds that interval is close to [min, max]; it describes the spread of outcomes
across worlds, it is not a confidence interval for the median. Non-finite values (e.g. an AUC
that could not be computed) are left out and `n` says how many values were used.

Estimates with confidence intervals and paired differences against a reference team (the
`swarm.stats` table) are driven by `METRICS`, one typed row per metric saying which direction
is better and how it is estimated: a new metric is one row there.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from rich.table import Table

from swarm.costs import FLOP_KEYS
from swarm.loop import ADDITIVE_STATS
from swarm.stats import (
    BOOTSTRAP_MIN_N,
    LEVEL,
    Better,
    Estimate,
    MetricKind,
    estimate,
    paired_diff,
)

__all__ = [
    "ADDITIVE_COSTS",
    "CHECKPOINT_FRACTIONS",
    "COST_KEYS",
    "HEADLINE_METRICS",
    "METRICS",
    "TIME_KEYS",
    "CheckpointRows",
    "Metric",
    "checkpoint_ticks",
    "comparison",
    "cost_totals",
    "metric_estimate",
    "metric_spec",
    "reference_team",
    "summarize",
    "summarize_runs",
    "survival_band",
    "table",
    "team_estimates",
]

#: Run-record statistics reported beside the metrics as the cost of each team, in table
#: order (docs/scenarios.md, "Reading the scorecard"); any other numeric key of a run's
#: `stats` (a new traffic counter, ...) is totalled and estimated as well, after these.
COST_KEYS = (
    "params_per_brain",
    "brains",
    "train_steps",
    "inference_flops",
    "train_flops",
    "cpu_seconds",
    "wire_messages",  # device level (swarm.traffic): what the drones would send
    "wire_bytes",
    "host_socket_bytes",  # simulator overhead: depends on how drones are sharded over hosts
    "rejected_messages",
)
#: Run-record keys summed over seeds in a team's totals (the others: the largest value).
ADDITIVE_COSTS = (*ADDITIVE_STATS, *FLOP_KEYS)
#: Costs shown as totals over seeds only (descriptive sizes and counts, no estimate row).
_TOTAL_ONLY = ("params_per_brain", "brains", "train_steps", "cpu_seconds")
#: Counters results.json holds but the console table leaves out: zero in a sound run, or
#: host-socket traffic (simulator overhead that depends on the sharding, not a team's cost).
_NOT_IN_TABLE = (
    "rejected_messages",
    "quarantined_brains",
    "host_socket_messages",
    "host_socket_bytes",
    "host_socket_received",
)
#: Keys that measure time rather than outcome: excluded when comparing runs for determinism.
TIME_KEYS = ("cpu_seconds", "wall_seconds")
#: The metrics shown in the console table per scenario; results.json holds all of them.
HEADLINE_METRICS: dict[str, tuple[str, ...]] = {
    "drone_search": (
        "time_to_find",
        "found",
        "coverage",
        "false_alarms",
        "inspections",
        "auc",
        "field_auc",
        "field_probe_auc",
    ),
    "litter_patrol": (
        "avg_idleness",
        "worst_idleness",
        "detection_latency",
        "precision",
        "recall",
        "altitude_violations",
        "nofly_violations",
        "auc",
        "field_auc",
    ),
}


@dataclass(frozen=True)
class Metric:
    """How one metric is read: which direction is better, how it is estimated (`swarm.stats`).

    `event` names the 0/1 metric saying whether a `TIME_TO_EVENT` metric's event happened
    (else the run is censored at that value); `cost` puts it on the scorecard's cost side.
    """

    name: str
    better: Better
    kind: MetricKind = MetricKind.CONTINUOUS
    event: str | None = None
    cost: bool = False


_H, _L, _N = Better.HIGHER, Better.LOWER, Better.NEITHER
#: Every metric the scorecard knows, by name; a metric missing here is estimated as
#: continuous with no better direction (no winner is named for it).
METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("time_to_find", _L, MetricKind.TIME_TO_EVENT, event="found"),
        Metric("found", _H, MetricKind.RATE),
        Metric("coverage", _H),
        Metric("prob_weighted_coverage", _H),
        Metric("false_alarms", _L),
        Metric("inspections", _N),
        Metric("inspected_cells", _N),
        Metric("auc", _H),
        Metric("field_auc", _H),
        Metric("field_probe_auc", _H),
        Metric("concept_witnesses", _N),
        Metric("concept_sample_holders", _N),
        Metric("avg_idleness", _L),
        Metric("worst_idleness", _L),
        Metric("detection_latency", _L),
        Metric("precision", _H),
        Metric("recall", _H),
        Metric("altitude_violations", _L),
        Metric("nofly_violations", _L),
        Metric("ticks", _N),
        Metric("idleness", _L),  # per-tick row of litter_patrol: mean idleness now
        Metric("active_litter", _L),  # per-tick row of litter_patrol: litter not yet cleared
        Metric("reports", _N),
        Metric("events", _N),
        Metric("depleted", _L),
        Metric("charging", _N),
        Metric("drones", _L, cost=True),
        Metric("energy", _L, cost=True),
        Metric("distance", _L, cost=True),
        Metric("inference_flops", _L, cost=True),
        Metric("train_flops", _L, cost=True),
        Metric("wire_messages", _L, cost=True),
        Metric("wire_bytes", _L, cost=True),
        # host-socket traffic: simulator overhead (swarm.traffic), no better direction
        Metric("host_socket_messages", _N, cost=True),
        Metric("host_socket_bytes", _N, cost=True),
        Metric("host_socket_received", _N, cost=True),
        Metric("rejected_messages", _L, cost=True),
        Metric("cpu_seconds", _L, cost=True),
        Metric("train_steps", _N, cost=True),
        Metric("params_per_brain", _N, cost=True),
        Metric("brains", _N, cost=True),
        Metric("quarantined_brains", _N, cost=True),
    )
}
#: Fractions of the horizon at which the per-tick metrics are also scored (the end is 1.0):
#: a team that ends its mission early is compared with the others at the same ticks.
CHECKPOINT_FRACTIONS = (0.25, 0.5, 0.75, 1.0)


def metric_spec(name: str) -> Metric:
    """The `METRICS` row of `name`; without one: a traffic counter (`*_bytes`,
    `*_messages`) is a cost, lower is better; anything else is continuous with no direction."""
    if name in METRICS:
        return METRICS[name]
    if name.endswith(("_bytes", "_messages")):
        return Metric(name, Better.LOWER, cost=True)
    return Metric(name, Better.NEITHER)


def checkpoint_ticks(horizon: int) -> tuple[int, ...]:
    """The ticks (>= 1, ascending, distinct) at `CHECKPOINT_FRACTIONS` of `horizon`."""
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    return tuple(sorted({max(1, round(f * horizon)) for f in CHECKPOINT_FRACTIONS}))


class CheckpointRows:
    """A mission's per-tick metrics kept at `checkpoint_ticks(horizon)` (none without one).

    A mission that ends before a checkpoint keeps its last row there: what a finished
    mission achieved stays achieved (found stays found, covered cells stay covered).
    """

    def __init__(self, horizon: int | None) -> None:
        self.ticks = checkpoint_ticks(horizon) if horizon else ()
        self._rows: dict[int, dict[str, float]] = {}
        self._last: dict[str, float] | None = None

    def add(self, tick: int, row: Mapping[str, float]) -> None:
        """Offer the row of tick `tick` (every tick, in order)."""
        self._last = dict(row)
        if tick in self.ticks:
            self._rows[tick] = self._last

    def rows(self) -> dict[str, dict[str, float]]:
        """`{str(tick): row}` for every checkpoint (JSON keys are strings)."""
        if self._last is None:
            return {}
        return {str(t): self._rows.get(t, self._last) for t in self.ticks}


def summarize(values: Iterable[float], level: float = 0.95) -> dict[str, float | int | None]:
    """Median and central `level` interval of per-seed values.

    Returns `{"median", "lo", "hi", "mean", "n"}`; the statistics are None when no finite
    value is given (the mean of a 0/1 metric such as `found` is its success rate).
    `level` must lie in (0, 1).
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    arr = np.asarray([float(v) for v in values], dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        return {"median": None, "lo": None, "hi": None, "mean": None, "n": 0}
    tail = 100.0 * (1.0 - level) / 2.0
    lo, med, hi = np.percentile(arr, [tail, 50.0, 100.0 - tail])
    return {
        "median": float(med),
        "lo": float(lo),
        "hi": float(hi),
        "mean": float(arr.mean()),
        "n": int(arr.size),
    }


def summarize_runs(
    runs: Sequence[Mapping[str, Mapping[str, float]]], level: float = 0.95
) -> dict[str, dict[str, float | int | None]]:
    """Summary per metric over a team's runs.

    `runs` are per-seed records with a `"metrics"` mapping and optionally a `"stats"` mapping
    (the pool's cost counters); both are summarised, metrics first. A metric missing from some
    runs is summarised over the runs that have it.
    """
    names: list[str] = []
    for section in ("metrics", "stats"):
        for run in runs:
            for key in run.get(section, {}):
                if key not in names:
                    names.append(key)
    out: dict[str, dict[str, float | int | None]] = {}
    for name in names:
        vals = [
            run[section][name]
            for run in runs
            for section in ("metrics", "stats")
            if name in run.get(section, {}) and _is_number(run[section][name])
        ]
        out[name] = summarize(vals, level)
    return out


def cost_totals(stats: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """A team's cost over all its seeds, for every numeric key of the runs' `stats`
    (`COST_KEYS` first): additive counters (`ADDITIVE_COSTS`) summed, sizes taken as the
    maximum."""
    out: dict[str, float] = {}
    for key in _cost_names(stats):
        vals = [float(s[key]) for s in stats if _is_number(s.get(key))]
        total = sum(vals) if key in ADDITIVE_COSTS else max(vals)
        out[key] = int(total) if key != "cpu_seconds" else round(total, 3)
    return out


def _cost_names(stats: Sequence[Mapping[str, Any]]) -> list[str]:
    """Numeric keys of `stats` rows: `COST_KEYS` order first, then the others as found."""
    found = _names(stats)
    return [k for k in COST_KEYS if k in found] + [k for k in found if k not in COST_KEYS]


def _cost_rows(runs: Sequence[Mapping]) -> list[dict[str, float]]:
    """Per run: its `stats` and the drones it flew (the cost side of one seed)."""
    out = []
    for r in runs:
        row = dict(r.get("stats", {}))
        if _is_number(r.get("drones")):
            row["drones"] = r["drones"]
        out.append(row)
    return out


def survival_band(
    times: Sequence[float], found: Sequence[bool], horizon: int, level: float = LEVEL
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Kaplan–Meier P(target not yet found by tick t), t = 0..horizon, with its pointwise
    `level` confidence band (lifelines' KM fit).

    `times[i]` is seed i's time to find in ticks (censored at the horizon when `found[i]` is
    false). Returns `(t, s, lo, hi)`, each shape (horizon + 1,); `s` starts at 1 and never
    increases; with no runs `s` is all ones and the band is [0, 1].
    """
    from lifelines import KaplanMeierFitter

    if len(times) != len(found):
        raise ValueError(f"times ({len(times)}) and found ({len(found)}) differ in length")
    if horizon < 0:
        raise ValueError(f"horizon must be >= 0, got {horizon}")
    t = np.arange(horizon + 1)
    if not len(times):
        return t, np.ones(t.size), np.zeros(t.size), np.ones(t.size)
    kmf = KaplanMeierFitter(alpha=1.0 - level)
    kmf.fit(np.asarray(times, float), np.asarray(found, bool), timeline=t)
    s = kmf.survival_function_.to_numpy()[:, 0]
    band = kmf.confidence_interval_survival_function_.to_numpy()
    return t, s, band[:, 0], band[:, 1]


def _by_seed(runs: Sequence[Mapping]) -> dict[int, Mapping]:
    return {int(r.get("seed", i)): r for i, r in enumerate(runs)}


def _column(rows: Sequence[Mapping], name: str) -> list[float]:
    return [float(r[name]) if _is_number(r.get(name)) else math.nan for r in rows]


def _events(rows: Sequence[Mapping], spec: Metric) -> list[bool] | None:
    if spec.kind is not MetricKind.TIME_TO_EVENT:
        return None
    return [bool(r.get(spec.event or "", False)) for r in rows]


def _keys(rows: Iterable[Mapping]) -> list[str]:
    """Every key of `rows`, in order of first appearance."""
    return list(dict.fromkeys(k for row in rows for k in row))


def _names(rows: Iterable[Mapping]) -> list[str]:
    out: list[str] = []
    for row in rows:
        out += [k for k, v in row.items() if k not in out and _is_number(v)]
    return out


def metric_estimate(name: str, rows: Sequence[Mapping], level: float = LEVEL) -> Estimate:
    """`swarm.stats.Estimate` of metric `name` over `rows` (one row per seed), read by the
    metric's kind (`METRICS`); a row without a number for `name` counts as missing."""
    spec = metric_spec(name)
    return estimate(spec.kind, _column(rows, name), _events(rows, spec), level)


def _estimates(rows: Sequence[Mapping], level: float) -> dict[str, dict]:
    return {name: metric_estimate(name, rows, level).as_dict() for name in _names(rows)}


def _checkpoint_rows(runs: Sequence[Mapping]) -> dict[str, list[Mapping]]:
    """`{tick: [row per run]}` of the runs' `at_ticks` (ticks every run has)."""
    keys = [set(r.get("at_ticks", {})) for r in runs]
    common = set.intersection(*keys) if keys else set()
    return {t: [r["at_ticks"][t] for r in runs] for t in sorted(common, key=int)}


def team_estimates(runs: Sequence[Mapping], level: float = LEVEL) -> dict[str, Any]:
    """A team's estimates with `level` CIs (`swarm.stats.estimate`), at the end and at ticks.

    `runs` are results.json run records; returns `{"end": {metric: Estimate}, "at_ticks":
    {tick: {metric: Estimate}}, "cost": {cost: Estimate}}` as plain data, from each run's
    `metrics`, `at_ticks`, and `stats` with its `drones` (the cost per run).
    """
    ends = [r.get("metrics", {}) for r in runs]
    at = {t: _estimates(rows, level) for t, rows in _checkpoint_rows(runs).items()}
    return {
        "end": _estimates(ends, level),
        "at_ticks": at,
        "cost": _estimates(_cost_rows(runs), level),
    }


def _diffs(rows: Sequence[Mapping], ref_rows: Sequence[Mapping], team: str, ref: str, level: float):
    out = {}
    for name in _names(rows):
        if not any(name in r for r in ref_rows):
            continue
        spec = metric_spec(name)
        d = paired_diff(
            spec.kind,
            spec.better,
            team,
            ref,
            _column(rows, name),
            _column(ref_rows, name),
            _events(rows, spec),
            _events(ref_rows, spec),
            level,
        )
        out[name] = d.as_dict()
    return out


def reference_team(teams: Sequence[str], reference: str | None) -> str | None:
    """The team others are compared with: `reference`, else `swarm`, else the first team."""
    if reference is not None:
        return reference
    if "swarm" in teams:
        return "swarm"
    return teams[0] if teams else None


def comparison(
    teams: Mapping[str, Mapping], reference: str | None = None, level: float = LEVEL
) -> dict[str, Any]:
    """Paired differences `team - reference` over the seeds both ran (`swarm.stats`).

    `teams` is results.json's `teams` section. Returns `{"reference", "level", "metrics":
    {name: {"better", "kind"}}, "teams": {team: {"end": {metric: PairedDiff}, "at_ticks":
    {tick: {metric: PairedDiff}}, "cost": {cost: PairedDiff}}}}` as plain data; `teams` is
    empty until the reference team has runs.
    """
    ref = reference_team(list(teams), reference)
    out: dict[str, Any] = {"reference": ref, "level": level, "metrics": {}, "teams": {}}
    if ref is None or not teams.get(ref, {}).get("runs"):
        return out
    ref_runs = _by_seed(teams[ref]["runs"])
    for name, team in teams.items():
        if name == ref:
            continue
        runs = _by_seed(team.get("runs", []))
        seeds = [s for s in runs if s in ref_runs]
        if not seeds:
            continue
        mine, theirs = [runs[s] for s in seeds], [ref_runs[s] for s in seeds]
        end = _diffs(
            [r.get("metrics", {}) for r in mine],
            [r.get("metrics", {}) for r in theirs],
            name,
            ref,
            level,
        )
        mine_at, theirs_at = _checkpoint_rows(mine), _checkpoint_rows(theirs)
        at = {
            t: _diffs(mine_at[t], theirs_at[t], name, ref, level) for t in mine_at if t in theirs_at
        }
        cost = _diffs(_cost_rows(mine), _cost_rows(theirs), name, ref, level)
        out["teams"][name] = {"end": end, "at_ticks": at, "cost": cost}
        for m in [*end, *cost]:
            spec = metric_spec(m)
            out["metrics"][m] = {"better": spec.better.value, "kind": spec.kind.value}
    return out


def table(results: Mapping, metrics: Sequence[str] | None = None) -> Table:
    """The console scorecard: one column per team; estimates, paired differences, costs.

    Sections: each metric's estimate with its 95% CI (`estimates` of results.json; for an
    older document without them, the median and spread over seeds); the same metrics at
    fixed ticks; `team - reference` paired differences with CI and p-value, marked
    `better`/`worse` when the CI excludes 0 (`comparison`); the cost side (drones, energy,
    distance per run, then totals over seeds). `metrics` defaults to the scenario's headline
    metrics present. Teams are columns so the table stays narrow.
    """
    teams: Mapping = results.get("teams", {})
    if metrics is None:
        wanted = HEADLINE_METRICS.get(results.get("scenario", ""), ())
        present = {m for t in teams.values() for m in t.get("summary", {})}
        metrics = [m for m in wanted if m in present] or sorted(present - set(COST_KEYS))[:6]
    with_ci = any("estimates" in t for t in teams.values())
    comp = results.get("comparison") or {}
    ref = comp.get("reference")
    tab = Table(
        title=f"scorecard: {results.get('name', '')} ({results.get('scenario', '')})",
        caption=_caption(with_ci, ref),
    )
    tab.add_column("metric", style="bold")
    for name in teams:
        tab.add_column(name, justify="right")
    tab.add_row("seeds", *[str(len(t.get("runs", []))) for t in teams.values()])
    for m in metrics:
        cells = [
            _fmt_estimate(t["estimates"]["end"].get(m))
            if with_ci and "estimates" in t
            else _fmt_summary(t.get("summary", {}).get(m), m)
            for t in teams.values()
        ]
        tab.add_row(_label(m), *cells)
    costs = _cost_table_keys(teams)
    if with_ci:
        _at_tick_rows(tab, teams, metrics)
        _diff_rows(tab, teams, comp, [*metrics, *_COST_METRICS], "end")
        compute = [k for k in costs if k in FLOP_KEYS or k.endswith("_bytes")]
        _diff_rows(tab, teams, comp, compute, "cost", new_section=False)
    tab.add_section()
    tab.add_row(_label("drones"), *[_fmt_number(_drones(t)) for t in teams.values()], style="dim")
    for m in _COST_METRICS:
        if any(m in t.get("estimates", {}).get("end", {}) for t in teams.values()):
            cells = [
                _fmt_estimate(t.get("estimates", {}).get("end", {}).get(m)) for t in teams.values()
            ]
            tab.add_row(f"{_label(m)} per run", *cells, style="dim")
    for key in costs:
        cells = [
            _fmt_estimate(t.get("estimates", {}).get("cost", {}).get(key)) for t in teams.values()
        ]
        tab.add_row(f"{_label(key)} per run", *cells, style="dim")
    totals = [*_TOTAL_ONLY, *(k for k in COST_KEYS if k not in (*_TOTAL_ONLY, *_NOT_IN_TABLE))]
    for key in [k for k in totals if k not in costs]:  # no per-run row: an older document
        if any(key in t for t in teams.values()):
            label = f"{key} (total)" if key in ADDITIVE_COSTS else key
            tab.add_row(label, *[_fmt_number(t.get(key)) for t in teams.values()], style="dim")
    return tab


def _cost_table_keys(teams: Mapping) -> list[str]:
    """Per-run cost rows of the table: every cost estimate with a direction (FLOPs, messages,
    bytes, whatever traffic counter the runs report), `COST_KEYS` order first."""
    found = _keys(t.get("estimates", {}).get("cost", {}) for t in teams.values())
    found = [k for k in found if k not in ("drones", *_TOTAL_ONLY, *_NOT_IN_TABLE)]
    ordered = [k for k in COST_KEYS if k in found] + [k for k in found if k not in COST_KEYS]
    return [k for k in ordered if metric_spec(k).better is not Better.NEITHER]


_COST_METRICS = tuple(m.name for m in METRICS.values() if m.cost)
_ARROW = {Better.HIGHER: " ↑", Better.LOWER: " ↓", Better.NEITHER: ""}


def _label(metric: str) -> str:
    return f"{metric}{_ARROW[metric_spec(metric).better]}"


def _caption(with_ci: bool, ref: str | None) -> str:
    if not with_ci:
        return "metrics: median [2.5-97.5% spread over seeds]; cost: totals over seeds"
    lines = [
        "↑/↓: higher/lower is better. metrics: mean [95% bootstrap CI] (none below "
        f"{BOOTSTRAP_MIN_N} seeds: (n=k)); rates: [95% Wilson CI];",
        "time to event: Kaplan–Meier median [95% CI] (n.r.: not reached within the horizon);",
    ]
    if ref:
        lines.append(
            f"Δ vs {ref}: mean per-seed difference [95% bootstrap CI] (times: difference of KM "
            "medians), p: Wilcoxon / sign test / log-rank; better/worse: CI excludes 0 and p < 0.05"
        )
    lines.append("cost: drones and per-run mean [95% CI]; then totals over seeds")
    return "\n".join(lines)


def _drones(team: Mapping) -> float | None:
    vals = [r["drones"] for r in team.get("runs", []) if _is_number(r.get("drones"))]
    return max(vals) if vals else None


def _horizon(team: Mapping) -> float | None:
    vals = [r.get("horizon") or r.get("ticks") for r in team.get("runs", [])]
    vals = [v for v in vals if _is_number(v)]
    return max(vals) if vals else None


def _at_tick_rows(tab: Table, teams: Mapping, metrics: Sequence[str]) -> None:
    ticks = sorted(
        {k for t in teams.values() for k in t.get("estimates", {}).get("at_ticks", {})}, key=int
    )
    horizons = {_horizon(t) for t in teams.values()}
    rows = []
    for tick in ticks:
        if {int(tick)} == horizons:
            continue  # the end, shown above
        for m in _tick_metrics(teams, tick, metrics):
            cells = [
                t.get("estimates", {}).get("at_ticks", {}).get(tick, {}).get(m)
                for t in teams.values()
            ]
            if any(cells):
                rows.append((f"{_label(m)} @t{tick}", [_fmt_estimate(c) for c in cells]))
    if rows:
        tab.add_section()
        for label, cells in rows:
            tab.add_row(label, *cells)


def _tick_metrics(teams: Mapping, tick: str, metrics: Sequence[str]) -> list[str]:
    """Metrics shown at `tick`: the table's metrics that the per-tick rows hold, then the
    other per-tick metrics with a better direction (not costs: those are per run below)."""
    present = _keys(
        t.get("estimates", {}).get("at_ticks", {}).get(tick, {}) for t in teams.values()
    )
    rest = [m for m in present if m not in metrics and not metric_spec(m).cost]
    shown = [m for m in metrics if m in present] + rest
    return [m for m in shown if metric_spec(m).better is not Better.NEITHER]


def _diff_rows(
    tab: Table,
    teams: Mapping,
    comp: Mapping,
    metrics: Sequence[str],
    section: str,
    new_section: bool = True,
) -> None:
    """`Δ metric vs reference` rows of `comp`'s `section` ("end" or "cost") for `metrics`."""
    ref = comp.get("reference")
    diffs = comp.get("teams", {})
    if not ref or not diffs:
        return
    if new_section:
        tab.add_section()
    for m in metrics:
        if not any(m in d.get(section, {}) for d in diffs.values()):
            continue
        cells = [
            "(reference)"
            if name == ref
            else _fmt_diff(diffs.get(name, {}).get(section, {}).get(m), name)
            for name in teams
        ]
        tab.add_row(f"Δ {_label(m)} vs {ref}", *cells)


def _fmt_estimate(e: Mapping | None) -> str:
    if not e:
        return "-"
    if e.get("value") is None:
        if e.get("stat") == "KM median" and e.get("n"):
            return "n.r."
        return "-"
    val = f"{e['value']:.2f}" if e.get("stat") == "rate" else _fmt_number(e["value"])
    if e.get("lo") is None and e.get("hi") is None:
        return f"{val} (n={e['n']})"
    lo = "-inf" if e.get("lo") is None else _fmt_number(e["lo"])
    hi = "n.r." if e.get("hi") is None else _fmt_number(e["hi"])
    return f"{val} [{lo}, {hi}]"


def _fmt_diff(d: Mapping | None, team: str) -> str:
    if not d or d.get("n", 0) == 0:
        return "-"
    diff = "n/a" if d.get("diff") is None else _signed(d["diff"])
    ci = ""
    if d.get("lo") is not None and d.get("hi") is not None:
        ci = f" [{_signed(d['lo'])}, {_signed(d['hi'])}]"
    p = "" if d.get("p") is None else f" p={float(d['p']):.2g}"
    verdict = ""
    if d.get("winner"):
        verdict = " better" if d["winner"] == team else " worse"
    return f"{diff}{ci}{p}{verdict}"


def _fmt_summary(s: Mapping | None, metric: str = "") -> str:
    if not s or s.get("median") is None:
        return "-"
    if metric == "found":
        return f"{s['mean']:.2f}"
    if s["n"] == 1 or s["lo"] == s["hi"]:
        return _fmt_number(s["median"])
    return f"{_fmt_number(s['median'])} [{_fmt_number(s['lo'])}, {_fmt_number(s['hi'])}]"


def _signed(x: float) -> str:
    return ("-" if float(x) < 0 else "+") + _fmt_number(abs(float(x)))


def _fmt_number(x: float | int | None) -> str:
    if x is None:
        return "-"
    x = float(x)
    if not math.isfinite(x):
        return str(x)
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e4, "k")):
        if abs(x) >= scale:
            return f"{x / (scale if suffix != 'k' else 1e3):.3g}{suffix}"
    if x == int(x):
        return f"{int(x)}"
    if abs(x) >= 100:  # 2270.4 -> 2270, not 2.27e+03
        return f"{x:.0f}"
    return f"{x:.3g}"


def _is_number(x: object) -> bool:
    # bools count as 0/1 (e.g. `found`): their summary's mean is the success rate over seeds
    return isinstance(x, bool | int | float | np.integer | np.floating | np.bool_)

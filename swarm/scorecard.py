"""The scorecard: per-team summaries over seeds, survival curves, and the printed table.

Everything here is a pure function of plain numbers (lists of per-seed values), so the maths
is easy to test and the same functions serve `results.json`, the plots and the console.

Summary of one metric over seeds: the median (and the mean), and a 95% interval taken as the
empirical 2.5% and 97.5% quantiles of the per-seed values (linear interpolation between order
statistics).
With few seeds that interval is close to [min, max]; it describes the spread of outcomes
across worlds, it is not a confidence interval for the median. Non-finite values (e.g. an AUC
that could not be computed) are left out and `n` says how many values were used.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from rich.table import Table

from swarm.loop import ADDITIVE_STATS

__all__ = [
    "COST_KEYS",
    "HEADLINE_METRICS",
    "TIME_KEYS",
    "cost_totals",
    "summarize",
    "summarize_runs",
    "survival_curve",
    "table",
]

#: Pool statistics reported beside the metrics as the cost of each team (DESIGN §7).
COST_KEYS = (
    "params_per_brain",
    "brains",
    "train_steps",
    "cpu_seconds",
    "messages_sent",
    "wire_bytes",
    "rejected_messages",
)
#: Cost columns of the console table (results.json holds all of COST_KEYS).
_TABLE_COST = tuple(k for k in COST_KEYS if k != "rejected_messages")
#: Keys that measure time rather than outcome: excluded when comparing runs for determinism.
TIME_KEYS = ("cpu_seconds", "wall_seconds")
#: The metrics shown in the console table per scenario; results.json holds all of them.
HEADLINE_METRICS: dict[str, tuple[str, ...]] = {
    "drone_search": ("time_to_find", "found", "coverage", "false_alarms", "inspections", "auc"),
    "litter_patrol": (
        "avg_idleness",
        "worst_idleness",
        "detection_latency",
        "precision",
        "recall",
        "altitude_violations",
        "nofly_violations",
        "auc",
    ),
}


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
    """A team's cost over all its seeds: additive counters summed, sizes taken as the maximum."""
    out: dict[str, float] = {}
    for key in COST_KEYS:
        vals = [float(s[key]) for s in stats if key in s]
        if not vals:
            continue
        total = sum(vals) if key in ADDITIVE_STATS else max(vals)
        out[key] = int(total) if key != "cpu_seconds" else round(total, 3)
    return out


def survival_curve(
    times: Sequence[float], found: Sequence[bool], horizon: int
) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan–Meier estimate of P(target not yet found by tick t), t = 0..horizon.

    `times[i]` is seed i's time to find in ticks (censored at the horizon when `found[i]` is
    false). Returns `(t, s)`, both shape (horizon + 1,); `s` starts at 1 and never increases.
    """
    if len(times) != len(found):
        raise ValueError(f"times ({len(times)}) and found ({len(found)}) differ in length")
    if horizon < 0:
        raise ValueError(f"horizon must be >= 0, got {horizon}")
    t = np.arange(horizon + 1)
    s = np.ones(horizon + 1)
    tt = np.asarray(times, dtype=np.float64)
    ff = np.asarray(found, dtype=bool)
    surv = 1.0
    for tick in np.unique(tt[ff]):
        at_risk = int(np.sum(tt >= tick))
        events = int(np.sum((tt == tick) & ff))
        if at_risk:
            surv *= 1.0 - events / at_risk
        s[t >= tick] = surv
    return t, s


def table(results: Mapping, metrics: Sequence[str] | None = None) -> Table:
    """The console scorecard: one column per team; a row per metric, then the cost rows.

    Metric cells are `median [lo, hi]` over seeds (`found`: the success rate); cost cells are
    totals over seeds (sizes as they are). `results` is the `results.json` document (see
    `swarm.outputs`); `metrics` defaults to the scenario's headline metrics present in it.
    Teams are columns so the table stays narrow whatever the number of metrics.
    """
    teams: Mapping = results.get("teams", {})
    if metrics is None:
        wanted = HEADLINE_METRICS.get(results.get("scenario", ""), ())
        present = {m for t in teams.values() for m in t.get("summary", {})}
        metrics = [m for m in wanted if m in present] or sorted(present - set(COST_KEYS))[:6]
    tab = Table(
        title=f"scorecard: {results.get('name', '')} ({results.get('scenario', '')})",
        caption="metrics: median [95% interval] over seeds; cost: totals over seeds",
    )
    tab.add_column("metric", style="bold")
    for name in teams:
        tab.add_column(name, justify="right")
    tab.add_row("seeds", *[str(len(t.get("runs", []))) for t in teams.values()])
    for m in metrics:
        label = f"{m} (rate)" if m == "found" else m
        tab.add_row(label, *[_fmt_summary(t.get("summary", {}).get(m), m) for t in teams.values()])
    tab.add_section()
    for key in _TABLE_COST:
        label = f"{key} (total)" if key in ADDITIVE_STATS else key
        tab.add_row(label, *[_fmt_number(t.get(key)) for t in teams.values()], style="dim")
    return tab


def _fmt_summary(s: Mapping | None, metric: str = "") -> str:
    if not s or s.get("median") is None:
        return "-"
    if metric == "found":
        return f"{s['mean']:.2f}"
    if s["n"] == 1 or s["lo"] == s["hi"]:
        return _fmt_number(s["median"])
    return f"{_fmt_number(s['median'])} [{_fmt_number(s['lo'])}, {_fmt_number(s['hi'])}]"


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
    return f"{x:.3g}"


def _is_number(x: object) -> bool:
    # bools count as 0/1 (e.g. `found`): their summary's mean is the success rate over seeds
    return isinstance(x, bool | int | float | np.integer | np.floating | np.bool_)

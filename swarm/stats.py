"""Statistics of a scorecard: per-team estimates with confidence intervals, paired differences.

Pure functions of per-seed numbers; the maths is done by scipy.stats and lifelines, this
module only chooses the right tool for each kind of metric and shapes the answer.

- `CONTINUOUS`: the mean with a 95% percentile-bootstrap CI (fixed seed); paired: the mean
  per-seed difference, its bootstrap CI and the Wilcoxon signed-rank p-value.
- `RATE` (0/1 per seed): the success rate with a 95% Wilson interval; paired: the mean
  difference, its bootstrap CI and the exact sign test on discordant seeds (McNemar). Values
  other than 0 and 1 (the share of several targets found) are read as `CONTINUOUS`.
- `TIME_TO_EVENT`: the Kaplan–Meier median with its 95% CI; paired: the difference of the
  two KM medians (no CI) and the log-rank p-value.

Time to event: a run that never saw the event is censored at its horizon, never read as an
event at the horizon, so medians do not mix in censored runs; a median the curve never
reaches is `None` with `reached: False` ("> horizon" in the table).

Every interval says what it is (`Estimate.interval`): a "95% CI" estimates where the team's
mean (or median) would lie over many more seeds; a "spread over seeds" (the older
`scorecard.summarize`) only describes the seeds that were run.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import Enum

import numpy as np
from scipy import stats as sps

__all__ = [
    "BOOTSTRAP_MIN_N",
    "BOOTSTRAP_RESAMPLES",
    "BOOTSTRAP_SEED",
    "LEVEL",
    "Better",
    "Estimate",
    "MetricKind",
    "PairedDiff",
    "bootstrap_mean_ci",
    "estimate",
    "km_median",
    "paired_diff",
    "wilson",
]

#: Confidence level of every interval in the scorecard.
LEVEL = 0.95
#: Bootstrap resamples and generator seed: a fixed seed makes the scorecard reproducible.
BOOTSTRAP_RESAMPLES = 9999
BOOTSTRAP_SEED = 12345
#: Fewest values a bootstrap CI is given for: below it the resampled means take a handful
#: of values and the "CI" is about [min, max], which no one should read as 95% coverage.
BOOTSTRAP_MIN_N = 5


class Better(Enum):
    """Which direction of a metric is good."""

    HIGHER = "higher"
    LOWER = "lower"
    NEITHER = "neither"  # descriptive (ticks flown, inspections): no winner is named


class MetricKind(Enum):
    """How a metric's per-seed values are estimated and compared (module table)."""

    CONTINUOUS = "continuous"
    RATE = "rate"
    TIME_TO_EVENT = "time_to_event"


@dataclass(frozen=True)
class Estimate:
    """One team's estimate of one metric: `value` with a `level` interval [lo, hi].

    `interval` names the interval ("95% bootstrap CI", "95% Wilson CI", "95% KM CI");
    `n` is the number of seeds used (`events` of them observed, for time to event);
    `reached` is False when a Kaplan–Meier median lies beyond every horizon.
    """

    stat: str  # "mean", "rate" or "KM median"
    value: float | None
    lo: float | None
    hi: float | None
    n: int
    interval: str
    events: int | None = None
    reached: bool = True

    def as_dict(self) -> dict:
        """Plain data for results.json."""
        return asdict(self)


@dataclass(frozen=True)
class PairedDiff:
    """`team - reference` over the seeds both ran, with a 95% CI and a test's p-value.

    `diff` is the mean per-seed difference (difference of KM medians for time to event,
    with no CI). `winner` is the better team when the CI excludes 0 (where there is one) and
    the test rejects no difference (p < 1 - level), else None; always None for
    `Better.NEITHER` metrics.
    """

    diff: float | None
    lo: float | None
    hi: float | None
    p: float | None
    test: str
    n: int
    better: str
    winner: str | None

    def as_dict(self) -> dict:
        """Plain data for results.json."""
        return asdict(self)


def _finite(values: Sequence[float]) -> np.ndarray:
    arr = np.asarray([float(v) for v in values], dtype=np.float64)
    return arr[np.isfinite(arr)]


def bootstrap_mean_ci(
    values: Sequence[float], level: float = LEVEL, seed: int = BOOTSTRAP_SEED
) -> tuple[float | None, float | None]:
    """Percentile bootstrap CI of the mean of `values` (scipy.stats.bootstrap, fixed seed).

    (None, None) with fewer than `BOOTSTRAP_MIN_N` values; (v, v) when every value is v (no
    spread to resample, where scipy would warn and return NaN).
    """
    arr = _finite(values)
    if arr.size < BOOTSTRAP_MIN_N:
        return None, None
    if np.all(arr == arr[0]):
        return float(arr[0]), float(arr[0])
    res = sps.bootstrap(
        (arr,),
        np.mean,
        confidence_level=level,
        n_resamples=BOOTSTRAP_RESAMPLES,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def wilson(successes: int, n: int, level: float = LEVEL) -> tuple[float | None, float | None]:
    """Wilson score interval of a rate `successes / n` (scipy.stats.binomtest)."""
    if n < 1:
        return None, None
    ci = sps.binomtest(int(successes), int(n)).proportion_ci(
        confidence_level=level, method="wilson"
    )
    return float(ci.low), float(ci.high)


def km_median(
    times: Sequence[float], events: Sequence[bool], level: float = LEVEL
) -> tuple[float | None, float | None, float | None]:
    """Kaplan–Meier median time to event and its CI (lifelines); None where not reached.

    `times[i]`: seed i's time (its horizon when censored); `events[i]`: whether the event
    happened. The CI bounds are where the KM confidence band crosses 1/2.
    """
    from lifelines import KaplanMeierFitter
    from lifelines.utils import median_survival_times

    if len(times) != len(events):
        raise ValueError(f"times ({len(times)}) and events ({len(events)}) differ in length")
    if not times:
        return None, None, None
    kmf = KaplanMeierFitter(alpha=1.0 - level)
    kmf.fit(np.asarray(times, float), event_observed=np.asarray(events, bool))
    ci = median_survival_times(kmf.confidence_interval_survival_function_)
    lo, hi = (float(v) for v in np.asarray(ci, dtype=float).ravel()[:2])
    return _or_none(float(kmf.median_survival_time_)), _or_none(lo), _or_none(hi)


def _or_none(x: float) -> float | None:
    return x if math.isfinite(x) else None


def estimate(
    kind: MetricKind,
    values: Sequence[float],
    events: Sequence[bool] | None = None,
    level: float = LEVEL,
) -> Estimate:
    """A team's estimate of one metric from its per-seed `values` (see the module table).

    `events` is required for `TIME_TO_EVENT` (seed i's event was observed at `values[i]`).
    """
    pct = f"{round(100 * level)}%"
    if kind is MetricKind.TIME_TO_EVENT:
        if events is None:
            raise ValueError("a time-to-event estimate needs the per-seed event flags")
        med, lo, hi = km_median(list(values), list(events), level)
        return Estimate(
            "KM median",
            med,
            lo,
            hi,
            len(values),
            f"{pct} KM CI",
            events=int(sum(bool(e) for e in events)),
            reached=med is not None or not values,
        )
    arr = _finite(values)
    kind = _rate_or_mean(kind, arr)
    if kind is MetricKind.RATE:
        k = int(np.sum(arr > 0.5))
        lo, hi = wilson(k, arr.size, level)
        rate = k / arr.size if arr.size else None
        return Estimate("rate", rate, lo, hi, int(arr.size), f"{pct} Wilson CI")
    lo, hi = bootstrap_mean_ci(arr, level)
    mean = float(arr.mean()) if arr.size else None
    name = f"{pct} bootstrap CI" if lo is not None else f"none (fewer than {BOOTSTRAP_MIN_N} seeds)"
    return Estimate("mean", mean, lo, hi, int(arr.size), name)


def paired_diff(
    kind: MetricKind,
    better: Better,
    team: str,
    reference: str,
    values: Sequence[float],
    ref_values: Sequence[float],
    events: Sequence[bool] | None = None,
    ref_events: Sequence[bool] | None = None,
    level: float = LEVEL,
) -> PairedDiff:
    """`team - reference` on one metric, seeds paired by position (see the module table).

    `values[i]` and `ref_values[i]` come from the same world seed; pairs with a non-finite
    side are dropped. For `TIME_TO_EVENT` the two teams' KM medians are compared and the
    log-rank test (lifelines) gives p; both event lists are then required.
    """
    if len(values) != len(ref_values):
        raise ValueError(f"paired values differ in length: {len(values)} vs {len(ref_values)}")
    if kind is MetricKind.TIME_TO_EVENT:
        return _time_diff(better, team, reference, values, ref_values, events, ref_events, level)
    a = np.asarray(values, float)
    b = np.asarray(ref_values, float)
    keep = np.isfinite(a) & np.isfinite(b)
    d = a[keep] - b[keep]
    if d.size == 0:
        return PairedDiff(None, None, None, None, "none", 0, better.value, None)
    lo, hi = bootstrap_mean_ci(d, level)
    if _rate_or_mean(kind, np.concatenate([a[keep], b[keep]])) is MetricKind.RATE:
        test, p = "sign test (McNemar exact)", _sign_p(d)
    else:
        test, p = "Wilcoxon signed-rank", _wilcoxon_p(d)
    diff = float(d.mean())
    winner = _winner(better, team, reference, diff, lo, hi, p, level)
    return PairedDiff(diff, lo, hi, p, test, int(d.size), better.value, winner)


def _rate_or_mean(kind: MetricKind, values: np.ndarray) -> MetricKind:
    """`kind`, but a `RATE` whose values are not all 0 or 1 (the share of several targets
    found) is estimated as a `CONTINUOUS` mean: a Wilson interval is for successes of n."""
    if kind is MetricKind.RATE and not np.isin(values, (0.0, 1.0)).all():
        return MetricKind.CONTINUOUS
    return kind


def _time_diff(
    better: Better,
    team: str,
    reference: str,
    times: Sequence[float],
    ref_times: Sequence[float],
    events: Sequence[bool] | None,
    ref_events: Sequence[bool] | None,
    level: float,
) -> PairedDiff:
    from lifelines.statistics import logrank_test

    if events is None or ref_events is None:
        raise ValueError("a time-to-event comparison needs both teams' event flags")
    if not times:
        return PairedDiff(None, None, None, None, "log-rank", 0, better.value, None)
    m_team = km_median(list(times), list(events), level)[0]
    m_ref = km_median(list(ref_times), list(ref_events), level)[0]
    diff = m_team - m_ref if m_team is not None and m_ref is not None else None
    res = logrank_test(
        np.asarray(times, float),
        np.asarray(ref_times, float),
        event_observed_A=np.asarray(events, bool),
        event_observed_B=np.asarray(ref_events, bool),
    )
    p = _or_none(float(res.p_value))
    # the direction of a significant log-rank result: whose events came sooner (KM medians,
    # or, with a median not reached, the team that reached it)
    sooner = None
    if diff is not None:
        sooner = diff
    elif (m_team is None) != (m_ref is None):
        sooner = math.inf if m_team is None else -math.inf
    winner = _winner(better, team, reference, sooner, None, None, p, level)
    return PairedDiff(diff, None, None, p, "log-rank", len(times), better.value, winner)


def _sign_p(d: np.ndarray) -> float:
    pos, neg = int(np.sum(d > 0)), int(np.sum(d < 0))
    if pos + neg == 0:
        return 1.0  # no discordant seed: no evidence of any difference
    return float(sps.binomtest(pos, pos + neg, 0.5).pvalue)


#: scipy's `wilcoxon` (method "auto") tests a sample with ties or zeros of at most this many
#: differences by an exact permutation test over all 2^n sign flips
_PERMUTED_UP_TO = 13


def _signed_rank_sum(d: np.ndarray, axis: int = -1) -> np.ndarray:
    """R+ of each sample along `axis`: the rank sum of the positive differences (zeros
    dropped, ties at their average rank), the statistic scipy's permutation test uses."""
    return sps.wilcoxon(d, axis=axis, alternative="greater", method="asymptotic").statistic


def _wilcoxon_p(d: np.ndarray) -> float | None:
    """Two-sided p of the Wilcoxon signed-rank test of differences d (n,), as
    `scipy.stats.wilcoxon(d)` gives it. Where scipy would run its exact permutation test
    (ties or zeros, n <= 13) the same test runs here with the statistic vectorised over the
    2^n sign flips: the same p bit for bit (tested), instead of 2^n Python calls (seconds per
    metric, recomputed for every team after every mission of a 9- to 13-seed run)."""
    if np.all(d == 0):
        return 1.0
    nonzero = np.abs(d[d != 0])
    permuted = d.size <= _PERMUTED_UP_TO and (
        nonzero.size < d.size or np.unique(nonzero).size < nonzero.size
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns that small samples use the exact table
        if permuted:
            res = sps.permutation_test(
                (d,), _signed_rank_sum, permutation_type="samples", vectorized=True, axis=-1
            )
        else:
            res = sps.wilcoxon(d)
    return _or_none(float(res.pvalue))


def _winner(
    better: Better,
    team: str,
    reference: str,
    diff: float | None,
    lo: float | None,
    hi: float | None,
    p: float | None,
    level: float,
) -> str | None:
    """The better team when the evidence excludes no difference, else None."""
    if better is Better.NEITHER or diff is None:
        return None
    # both must agree: a bootstrap CI of a handful of seeds can exclude 0 while the exact
    # test cannot reject (2 seeds: p >= 0.5), and naming a winner then would mislead
    if lo is not None and hi is not None and lo <= 0.0 <= hi:
        return None
    if p is None or p >= 1.0 - level:
        return None
    if diff == 0:
        return None
    team_larger = diff > 0
    return team if team_larger == (better is Better.HIGHER) else reference

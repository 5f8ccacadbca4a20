"""swarm.stats against values worked by hand or by a direct library call."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from swarm.stats import (
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    Better,
    MetricKind,
    bootstrap_mean_ci,
    estimate,
    km_median,
    paired_diff,
    wilson,
)

C, R, T = MetricKind.CONTINUOUS, MetricKind.RATE, MetricKind.TIME_TO_EVENT


def test_bootstrap_ci_is_scipys_with_the_fixed_seed():
    vals = [0.3, 0.9, 0.4, 0.7, 0.55, 0.2, 0.8]
    direct = sps.bootstrap(
        (np.asarray(vals),),
        np.mean,
        n_resamples=BOOTSTRAP_RESAMPLES,
        method="percentile",
        rng=np.random.default_rng(BOOTSTRAP_SEED),
    ).confidence_interval
    lo, hi = bootstrap_mean_ci(vals)
    assert (lo, hi) == (direct.low, direct.high)
    assert lo < np.mean(vals) < hi
    assert bootstrap_mean_ci(vals) == (lo, hi)  # reproducible run to run


def test_bootstrap_ci_degenerate_cases():
    assert bootstrap_mean_ci([4.0]) == (None, None)  # one seed: no interval
    assert bootstrap_mean_ci([1.0, 2.0, 3.0, 4.0]) == (None, None)  # too few to resample
    assert bootstrap_mean_ci([2.0] * 5) == (2.0, 2.0)  # no spread to resample
    assert bootstrap_mean_ci([1.0, 2.0, 3.0, 4.0, math.nan]) == (None, None)  # NaN dropped


def test_wilson_three_of_ten():
    # by hand: p = .3, z = 1.95996; centre = (p + z²/2n) / (1 + z²/n) = .35550,
    # half width = z sqrt(p(1-p)/n + z²/4n²) / (1 + z²/n) = .24772
    lo, hi = wilson(3, 10)
    assert lo == pytest.approx(0.35550 - 0.24772, abs=1e-4)
    assert hi == pytest.approx(0.35550 + 0.24772, abs=1e-4)
    assert wilson(0, 0) == (None, None)


def test_km_median_on_a_small_censored_set():
    # events at 2 and 5, censored at 3 and 6: S(2) = 3/4, S(5) = 3/4 * 1/2 = 3/8 <= 1/2
    med, lo, hi = km_median([2, 3, 5, 6], [True, False, True, False])
    assert med == 5.0
    assert lo is not None and lo <= med and hi is None  # the band's top never reaches 1/2
    # all events at 1..4: S = .75, .5, .25, 0; the median is the first t with S <= 1/2
    assert km_median([1, 2, 3, 4], [True] * 4)[0] == 2.0


def test_km_median_not_reached_is_none_not_the_horizon():
    # three of four runs censored at 60: the median is beyond the horizon, not 60
    est = estimate(T, [10, 60, 60, 60], [True, False, False, False])
    assert est.value is None and not est.reached and est.events == 1 and est.n == 4
    with pytest.raises(ValueError, match="event flags"):
        estimate(T, [10.0, 20.0])


def test_estimates_name_their_interval():
    assert estimate(C, [1, 2, 3, 4, 5]).interval == "95% bootstrap CI"
    assert estimate(C, [1, 2, 3, 4]).interval == "none (fewer than 5 seeds)"
    rate = estimate(R, [1, 0, 1, 1])
    assert (rate.value, rate.interval) == (0.75, "95% Wilson CI")
    # Wilson by hand for 3 of 4 (z = 1.95996): centre .62753, half width .32689
    assert rate.lo == pytest.approx(0.62753 - 0.32689, abs=1e-4)
    assert rate.hi == pytest.approx(0.62753 + 0.32689, abs=1e-4)


def test_paired_wilcoxon_exact_p_and_winner():
    # six positive differences: exact two-sided signed-rank p = 2 / 2**6
    d = paired_diff(C, Better.HIGHER, "a", "ref", [2, 3, 4, 5, 6, 7], [1, 1, 1, 1, 1, 1])
    assert d.diff == pytest.approx(3.5) and d.n == 6
    assert d.p == pytest.approx(2 / 64)
    assert d.lo > 0 and d.winner == "a"
    lower = paired_diff(C, Better.LOWER, "a", "ref", [2, 3, 4, 5, 6, 7], [1, 1, 1, 1, 1, 1])
    assert lower.winner == "ref"
    neither = paired_diff(C, Better.NEITHER, "a", "ref", [2, 3, 4, 5, 6, 7], [1] * 6)
    assert neither.winner is None


def test_paired_wilcoxon_p_is_scipys_bit_for_bit_with_ties_and_zeros():
    """The signed-rank p is `scipy.stats.wilcoxon`'s exactly, in each of scipy's regimes:
    ties or zeros at n <= 13 (its permutation test, run here vectorised), no ties (its
    exact table) and ties at n > 13 (the normal approximation)."""
    rng = np.random.default_rng(3)
    samples = [rng.integers(-3, 4, n) * 0.5 for n in (2, 3, 5, 8, 9, 11, 13, 13, 14, 20)]
    samples += [np.array([0.0, 1.0, -2.0]), rng.standard_normal(12), rng.standard_normal(30)]
    for d in samples:
        if np.all(d == 0):
            continue
        got = paired_diff(C, Better.HIGHER, "a", "ref", list(d), [0.0] * len(d))
        assert got.p == sps.wilcoxon(d).pvalue, d


def test_paired_no_winner_when_ci_covers_zero_or_test_cannot_reject():
    d = paired_diff(C, Better.HIGHER, "a", "ref", [1, 3, 2, 5, 4, 2], [2, 1, 3, 4, 5, 1])
    assert d.lo <= 0 <= d.hi and d.winner is None
    # two seeds: no CI, and the exact test cannot reject (p = 0.5)
    two = paired_diff(C, Better.HIGHER, "a", "ref", [2.0, 3.0], [1.0, 1.5])
    assert two.lo is None and two.p == pytest.approx(0.5) and two.winner is None
    same = paired_diff(C, Better.HIGHER, "a", "ref", [1.0, 2.0], [1.0, 2.0])
    assert (same.diff, same.p, same.winner) == (0.0, 1.0, None)


def test_paired_rate_uses_the_sign_test_on_discordant_seeds():
    d = paired_diff(R, Better.HIGHER, "a", "ref", [1, 1, 1, 1, 1, 0], [0, 0, 0, 0, 0, 0])
    assert d.test.startswith("sign test")
    assert d.p == pytest.approx(2 / 32)  # 5 of 5 discordant pairs favour a
    assert d.winner is None  # 0.0625 >= 0.05


def test_paired_time_to_event_uses_km_medians_and_log_rank():
    from lifelines.statistics import logrank_test

    times, ref = [5, 8, 10, 12, 15, 20], [30, 30, 30, 30, 30, 30]
    ev, ref_ev = [True] * 6, [False] * 6
    d = paired_diff(T, Better.LOWER, "a", "ref", times, ref, ev, ref_ev)
    expected = logrank_test(times, ref, event_observed_A=ev, event_observed_B=ref_ev).p_value
    assert d.p == pytest.approx(expected) and d.test == "log-rank"
    assert d.diff is None  # the reference's median is never reached
    assert d.winner == "a"  # it found sooner, significantly
    with pytest.raises(ValueError, match="event flags"):
        paired_diff(T, Better.LOWER, "a", "ref", times, ref)


def test_paired_rejects_unequal_lengths():
    with pytest.raises(ValueError, match="differ in length"):
        paired_diff(C, Better.HIGHER, "a", "ref", [1.0, 2.0], [1.0])

"""Aggregation rules: exact values on small cases and robustness to outliers."""

import numpy as np
import pytest

from protocols.aggregation import (
    AGGREGATORS,
    coordinate_median,
    hub_aggregate,
    krum,
    mean,
    multi_krum,
    trimmed_mean,
    weighted_mean,
)

X = np.array([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0], [4.0, 8.0], [100.0, -100.0]])


def test_means():
    np.testing.assert_allclose(mean(X[:4]), [2.5, 5.0])
    np.testing.assert_allclose(weighted_mean(X[:2], weights=np.array([3.0, 1.0])), [1.25, 2.5])
    np.testing.assert_allclose(weighted_mean(X[:2]), [1.5, 3.0])


def test_robust_rules_ignore_one_outlier():
    np.testing.assert_allclose(coordinate_median(X), [3.0, 4.0])
    np.testing.assert_allclose(trimmed_mean(X, f=1), [3.0, 4.0])
    # krum scores (sum of the 2 nearest squared distances): 25, 10, 10, 25, huge
    assert krum(X, f=1).tolist() == [2.0, 4.0]  # tie between rows 1 and 2: lowest index
    np.testing.assert_allclose(multi_krum(X, f=1), [2.5, 5.0])  # the 4 honest rows


def test_krum_picks_an_honest_vector_among_byzantine_ones():
    rng = np.random.default_rng(0)
    honest = rng.normal(0, 0.1, size=(7, 20))
    byz = rng.normal(50, 1, size=(2, 20))
    chosen = krum(np.vstack([honest, byz]), f=2)
    assert np.linalg.norm(chosen) < 5


def test_errors_are_clear():
    with pytest.raises(ValueError, match="2f \\+ 3"):
        krum(X[:4], f=1)
    with pytest.raises(ValueError, match="2f < n"):
        trimmed_mean(X[:2], f=1)
    with pytest.raises(ValueError, match="non-negative"):
        weighted_mean(X, weights=np.array([1.0, -1, 0, 0, 0]))
    with pytest.raises(ValueError, match="stacked vectors"):
        mean(np.zeros(3))


NAN_ROW = np.array([[np.nan, 1.0]])


@pytest.mark.parametrize(
    "rule", ["mean", "weighted_mean", "median", "trimmed_mean", "krum", "multi_krum"]
)
def test_every_rule_skips_a_non_finite_contribution(rule):
    honest = X[:4] if rule not in ("krum", "multi_krum") else np.vstack([X[:4], X[:1]])
    poisoned = np.vstack([honest, NAN_ROW, [[np.inf, 0.0]]])
    kw = {"f": 1} if rule in ("trimmed_mean", "krum", "multi_krum") else {}
    if rule == "weighted_mean":
        kw = {"weights": np.ones(len(poisoned))}
        expect = AGGREGATORS[rule](honest, weights=np.ones(len(honest)))
    else:
        expect = AGGREGATORS[rule](honest, **kw)
    got = AGGREGATORS[rule](poisoned, **kw)
    assert np.isfinite(got).all()
    np.testing.assert_array_equal(got, expect)


def test_hub_aggregate_sets_f_from_the_finite_contributions():
    # 7 finite rows: f = (7 - 3) // 4 = 1, so the one outlier is trimmed away
    rows = np.vstack([np.tile([[1.0, 2.0]], (6, 1)), [[1e6, -1e6]], NAN_ROW, NAN_ROW])
    out = hub_aggregate("trimmed_mean", rows, np.ones(len(rows)))
    np.testing.assert_allclose(out, [1.0, 2.0])
    with pytest.raises(ValueError, match="finite"):
        hub_aggregate("median", np.vstack([NAN_ROW, NAN_ROW]), np.ones(2))


def test_centered_clipping_moves_an_outlier_by_at_most_the_radius_over_n():
    from protocols.aggregation import centered_clipping

    honest = np.zeros((9, 4))
    X = np.vstack([honest, np.full((1, 4), 1e6)])
    v = centered_clipping(X, radius=1.0, iters=3, centre=np.zeros(4))
    assert np.linalg.norm(v) <= 3 * 1.0 / 10 + 1e-12  # 3 steps, each moves at most r/n
    # without an outlier and a large radius it is the mean
    Y = np.arange(12.0).reshape(4, 3)
    np.testing.assert_allclose(centered_clipping(Y, radius=1e9, iters=1), Y.mean(0))


@pytest.mark.parametrize("rule", sorted(AGGREGATORS))
def test_every_rule_skips_non_finite_rows_and_resists_one_outlier(rule):
    rng = np.random.default_rng(1)
    honest = rng.normal(0.0, 0.1, size=(9, 6))
    X = np.vstack([honest, np.full((1, 6), np.nan), np.full((1, 6), np.inf)])
    out = hub_aggregate(rule, X, np.ones(len(X)))
    assert np.isfinite(out).all()
    if rule not in ("mean", "weighted_mean"):  # robust rules: one huge row barely moves them
        Z = np.vstack([honest, np.full((1, 6), 1e3)])
        assert np.linalg.norm(hub_aggregate(rule, Z, np.ones(len(Z)))) < 1.0


def test_hub_aggregate_takes_a_given_f_and_lowers_it_to_what_the_rule_allows():
    Z = np.vstack([np.zeros((6, 2)), np.full((3, 2), 100.0)])
    w = np.ones(9)
    assert np.abs(hub_aggregate("trimmed_mean", Z, w, f=3)).max() < 1e-12  # 3 trimmed each end
    assert np.abs(hub_aggregate("trimmed_mean", Z, w, f=1)).max() > 1.0  # 2 outliers kept
    assert np.isfinite(hub_aggregate("krum", Z, w, f=10)).all()  # f lowered to (n-3)//2
    np.testing.assert_allclose(hub_aggregate("krum", Z[:2], w[:2]), [0.0, 0.0])  # n<3: median

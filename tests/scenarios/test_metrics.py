import numpy as np
import pytest

from scenarios.metrics import auc, censored_mean, safe_ratio


def test_auc_known_cases():
    y = np.array([0, 0, 1, 1])
    assert auc(np.array([0.1, 0.2, 0.8, 0.9]), y) == 1.0
    assert auc(np.array([0.9, 0.8, 0.2, 0.1]), y) == 0.0
    assert auc(np.array([0.5, 0.5, 0.5, 0.5]), y) == 0.5
    # one of four positive/negative pairs is mis-ordered
    assert auc(np.array([0.1, 0.6, 0.5, 0.9]), y) == pytest.approx(0.75)


def test_auc_matches_pair_count():
    rng = np.random.default_rng(1)
    s = rng.integers(0, 5, 200).astype(float)  # many ties
    y = rng.integers(0, 2, 200)
    pos, neg = s[y == 1], s[y == 0]
    pairs = (pos[:, None] > neg[None]).mean() + 0.5 * (pos[:, None] == neg[None]).mean()
    assert auc(s, y) == pytest.approx(pairs)


def test_auc_errors():
    with pytest.raises(ValueError, match="positive and one negative"):
        auc(np.array([0.1, 0.2]), np.array([1, 1]))
    with pytest.raises(ValueError, match="0 or 1"):
        auc(np.array([0.1, 0.2]), np.array([1, 2]))


def test_censored_mean_and_ratio():
    assert censored_mean(np.array([2.0, np.nan]), np.array([10.0, 6.0])) == 4.0
    assert safe_ratio(1, 0, empty=1.0) == 1.0 and safe_ratio(1, 4) == 0.25

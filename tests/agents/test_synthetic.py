"""roc_auc, the pretraining probes' AUC, follows the worlds' rule (scenarios.metrics.auc)."""

import numpy as np
import pytest

from agents.synthetic import roc_auc
from scenarios.metrics import auc


def test_roc_auc_is_the_worlds_auc() -> None:
    rng = np.random.default_rng(0)
    s = np.round(rng.normal(size=(4, 50)), 1)  # (S, T) like probe streams, with ties
    y = (rng.random((4, 50)) < 0.2).astype(np.float32)
    assert roc_auc(s, y) == auc(s.ravel(), y.ravel())
    assert roc_auc(np.array([0.1, 0.2, 0.8, 0.9]), np.array([0, 0, 1, 1])) == 1.0


def test_roc_auc_refuses_one_class() -> None:
    with pytest.raises(ValueError, match="one positive and one negative"):
        roc_auc(np.array([0.1, 0.2]), np.array([0.0, 0.0]))

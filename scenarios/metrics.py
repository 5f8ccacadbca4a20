"""Pure metric functions used by the worlds and the run loop (no world state here)."""

from __future__ import annotations

import numpy as np
from scipy.stats import mannwhitneyu

__all__ = ["auc", "censored_mean", "safe_ratio"]


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve: P(score of a random positive > a random negative), ties 1/2.

    scores (P,) any real; labels (P,) in {0, 1}. AUC = U / (n_pos · n_neg) with U the
    Mann–Whitney statistic of the positives (`scipy.stats.mannwhitneyu`, average ranks for
    ties). Raises ValueError if either class is missing (AUC is undefined then): a probe set
    without both classes is a broken world, better stopped at the first probe than recorded
    as NaN. `agents.synthetic.roc_auc` is the same rule for the pretraining probes (agents
    cannot import scenarios).
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(labels).ravel()
    if s.shape != y.shape:
        raise ValueError(f"auc: scores {s.shape} and labels {y.shape} must have the same shape")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("auc: labels must be 0 or 1")
    pos = y == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("auc needs at least one positive and one negative label")
    u = mannwhitneyu(s[pos], s[~pos], method="asymptotic").statistic  # p-value unused
    return float(u / (n_pos * n_neg))


def censored_mean(values: np.ndarray, censored_at: np.ndarray) -> float:
    """Mean of per-item times where unfinished items (NaN in `values`) count at `censored_at`."""
    v = np.where(np.isnan(values), censored_at, values)
    return float(v.mean()) if v.size else 0.0


def safe_ratio(num: float, den: float, empty: float = 0.0) -> float:
    """num / den, or `empty` when den is 0 (e.g. precision with no reports)."""
    return float(num / den) if den else float(empty)

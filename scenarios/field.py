"""Field AUC: how well brains' detectors rank the tokens they actually observed (evaluation).

`FieldScores` collects, tick by tick, each drone's detect logit on its own token (reported in
`Actions.detect`) and the truth of that token's candidate cell (`world.candidate_truth`,
simulator truth). It only ever returns summary numbers to the run's records; nothing here is
read by a brain or a policy (tests/scenarios/test_field.py checks that scoring against other
truth changes no action and no weight).
"""

from __future__ import annotations

import numpy as np

from scenarios.metrics import auc

__all__ = ["FieldScores"]


class FieldScores:
    """Pooled (all drones, all ticks so far) logits and truths of one mission."""

    def __init__(self) -> None:
        self._scores: list[np.ndarray] = []
        self._truth: list[np.ndarray] = []

    def record(self, logits: np.ndarray | None, truth: np.ndarray) -> None:
        """One tick: logits (N,) float (None: the team reported none), truth (N,) bool."""
        if logits is None:
            return
        ok = np.isfinite(logits)
        self._scores.append(np.asarray(logits, np.float64)[ok])
        self._truth.append(np.asarray(truth, bool)[ok])

    @property
    def recorded(self) -> bool:
        """Whether any tick was recorded (a world that gives truth, a team that reports)."""
        return bool(self._scores)

    @property
    def positives(self) -> int:
        """Tokens so far whose candidate held the truth (a target, litter)."""
        return int(sum(t.sum() for t in self._truth))

    def auc(self) -> float:
        """AUC of all tokens so far (target vs every other candidate); NaN until both kinds
        have been seen (a drone that never looked at a target gives no field AUC)."""
        if not self._scores:
            return float("nan")
        s, y = np.concatenate(self._scores), np.concatenate(self._truth)
        if y.all() or not y.any():
            return float("nan")
        return auc(s, y.astype(np.int8))

"""Knowledge-transfer concepts: who has met the concept, and how the others score on it.

A world with a concept (drone_search's new look-alike kind, litter_patrol's new litter kind)
places it where only part of the fleet meets it first. A drone is a *witness* once its brain
has received a label of the concept (an inspection or a crew answer about one of its cells).
The transfer measure is the median concept-probe AUC of the **non-witness** brains: what they
know of a kind they never had a label of came from what was shared.

Everything here is evaluation only: it reads simulator truth (which cells hold the concept)
and no brain or policy ever reads it (tests/scenarios/test_field.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ConceptPoint", "Witnesses", "non_witness_lift"]


class Witnesses:
    """flags (N,) bool: drone i's brain has received a label of the concept."""

    def __init__(self, n_drones: int) -> None:
        self.flags = np.zeros(n_drones, dtype=bool)

    def mark(self, drones: np.ndarray, concept: np.ndarray) -> None:
        """Labels just delivered to `drones` (M,); `concept` (M,) bool: about a concept cell."""
        self.flags[np.asarray(drones)[np.asarray(concept, bool)]] = True

    @property
    def count(self) -> int:
        return int(self.flags.sum())


@dataclass(frozen=True)
class ConceptPoint:
    """The concept probe at one tick: each brain's AUC (N,) in drone order, who is a witness."""

    tick: int
    aucs: tuple[float, ...]
    witness: tuple[bool, ...]

    @property
    def non_witness(self) -> float:
        """Median AUC of the non-witness brains; NaN when every drone is a witness."""
        rest = np.asarray(self.aucs)[~np.asarray(self.witness, bool)]
        rest = rest[np.isfinite(rest)]
        return float(np.median(rest)) if rest.size else float("nan")

    def record(self) -> list:
        """[tick, non-witness median, witnesses, [AUC per brain], [witness per brain]]."""
        return [self.tick, self.non_witness, sum(self.witness), list(self.aucs), list(self.witness)]


def non_witness_lift(curve: list[ConceptPoint]) -> float:
    """The non-witness median at the end minus at the start (NaN when undefined)."""
    if len(curve) < 2:
        return float("nan")
    return curve[-1].non_witness - curve[0].non_witness

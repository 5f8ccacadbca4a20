"""Knowledge-transfer bookkeeping: witnesses and the non-witness measure."""

import math

import numpy as np

from scenarios.concept import ConceptPoint, Witnesses, non_witness_lift


def test_witnesses_mark_only_labels_about_the_concept() -> None:
    w = Witnesses(4)
    w.mark(np.array([0, 2, 3]), np.array([False, True, False]))
    w.mark(np.array([2, 1]), np.array([True, False]))
    assert w.flags.tolist() == [False, False, True, False] and w.count == 1


def test_non_witness_median_and_lift() -> None:
    start = ConceptPoint(0, (0.6, 0.6, 0.6), (False, False, False))
    end = ConceptPoint(30, (0.9, 0.7, 0.8), (True, False, False))
    assert math.isclose(end.non_witness, 0.75)  # the witness's 0.9 is left out
    assert math.isclose(non_witness_lift([start, end]), 0.15)
    assert end.record() == [30, end.non_witness, 1, [0.9, 0.7, 0.8], [True, False, False]]
    every = ConceptPoint(60, (0.9,), (True,))
    assert math.isnan(every.non_witness) and math.isnan(non_witness_lift([start]))


def test_a_probe_with_one_class_is_no_probe():
    from scenarios.probes import two_classes

    tokens = np.zeros((4, 3), np.float32)
    assert two_classes((tokens, np.array([0.0, 0.0, 0.0, 0.0]))) is None
    both = (tokens, np.array([0.0, 1.0, 0.0, 1.0]))
    assert two_classes(both) is both

"""Byzantine attacks: each kind's formula on small vectors (ByzFL's definitions)."""

import numpy as np
import pytest

from protocols.attacks import ATTACKS, AttackParams, attack, non_finite

U = np.array([1.0, -2.0, 3.0])
VIEW = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])


def rng():
    return np.random.default_rng(0)


def test_sign_flip_scaled_and_non_finite():
    np.testing.assert_array_equal(attack("sign_flip", U, VIEW, rng()), -U)
    np.testing.assert_array_equal(attack("scaled", U, VIEW, rng(), AttackParams(scale=-3)), -3 * U)
    assert np.isnan(attack("nan", U, VIEW, rng())).all()
    assert np.isposinf(attack("inf", U, VIEW, rng())).all()
    assert [k for k in ATTACKS if non_finite(k)] == ["nan", "inf"]


def test_alie_and_ipm_match_byzfl_examples():
    # ByzFL docstrings: ALIE(tau 1.5) -> [8.5, 9.5, 10.5]; IPM(tau 2) -> [-8, -10, -12]
    np.testing.assert_allclose(attack("alie", U, VIEW, rng()), [8.5, 9.5, 10.5])
    np.testing.assert_allclose(attack("ipm", U, VIEW, rng()), [-8.0, -10.0, -12.0])
    np.testing.assert_allclose(attack("ipm", U, VIEW, rng(), AttackParams(tau=0.5)), [-2, -2.5, -3])


def test_alie_of_one_row_sends_that_row():
    np.testing.assert_allclose(attack("alie", U, U[None], rng()), U)


def test_gaussian_ignores_the_update_and_has_the_asked_spread():
    big = np.zeros(20_000)
    out = attack("gaussian", big, big[None], rng(), AttackParams(sigma=5.0))
    assert out.dtype == np.float32
    assert abs(out.std() - 5.0) < 0.1 and abs(out.mean()) < 0.1
    again = attack("gaussian", big, big[None], rng(), AttackParams(sigma=5.0))
    np.testing.assert_array_equal(out, again)  # the rng decides: same seed, same noise


def test_unknown_attack_is_refused():
    with pytest.raises(ValueError, match="unknown attack"):
        attack("zero", U, VIEW, rng())  # type: ignore[arg-type]

import numpy as np
import pytest

from scenarios.base import Actions, Observation, build_tokens


def _obs(n: int = 4) -> Observation:
    rng = np.random.default_rng(0)
    return Observation(
        tick=7,
        tokens=rng.normal(size=(n, 26)).astype(np.float32),
        cells=np.arange(2 * n, dtype=np.int32).reshape(n, 2),
        pose=rng.random((n, 4)).astype(np.float32),
        busy=np.array([True, False] * (n // 2)),
        label_drone=np.array([0, 2, 3, 2]),
        label_tick=np.array([1, 2, 3, 4]),
        label_value=np.array([1, 0, 0, 1], dtype=np.float32),
    )


def test_select_slices_and_remaps_labels():
    obs = _obs()
    sub = obs.select(np.array([3, 2]))
    np.testing.assert_array_equal(sub.tokens, obs.tokens[[3, 2]])
    np.testing.assert_array_equal(sub.cells, obs.cells[[3, 2]])
    np.testing.assert_array_equal(sub.busy, obs.busy[[3, 2]])
    # Labels of drones 2 and 3 survive, renumbered to their places in idx; drone 0's is dropped.
    np.testing.assert_array_equal(sub.label_drone, [1, 0, 1])
    np.testing.assert_array_equal(sub.label_tick, [2, 3, 4])
    np.testing.assert_array_equal(sub.label_value, [0, 0, 1])


def test_select_rejects_out_of_range():
    with pytest.raises(IndexError, match="drone indices"):
        _obs().select([0, 9])


def test_concat_joins_in_order():
    a = Actions.hold(2, 10.0)
    b = Actions(np.array([[1, -1]], np.int8), np.array([5.0], np.float32), np.array([True]))
    c = Actions.concat([a, b])
    assert c.move.shape == (3, 2) and c.move.dtype == np.int8
    np.testing.assert_array_equal(c.move[2], [1, -1])
    np.testing.assert_array_equal(c.altitude, [10, 10, 5])
    np.testing.assert_array_equal(c.flag, [False, False, True])
    with pytest.raises(ValueError, match="at least one"):
        Actions.concat([])


def test_validate_explains_bad_actions():
    bad = Actions(np.full((2, 2), 2, np.int8), np.zeros(2, np.float32), np.zeros(2, bool))
    with pytest.raises(ValueError, match="-1, 0 or 1"):
        bad.validate(2)
    with pytest.raises(ValueError, match="need move"):
        Actions.hold(3, 1.0).validate(2)


def test_build_tokens_layout_and_sim():
    a = 4
    ref = np.eye(a, dtype=np.float32)[:1].repeat(2, 0)
    ctx = np.ones((2, a), np.float32)
    obs = ctx + np.stack([ref[0] * 2, -ref[0]])  # aligned with ref, opposite to ref
    tok = build_tokens(obs, ctx, ref, np.array([0.25, 1.0]))
    assert tok.shape == (2, 3 * a + 2) and tok.dtype == np.float32
    np.testing.assert_allclose(tok[:, :a], obs)
    np.testing.assert_allclose(tok[:, a : 2 * a], ctx)
    np.testing.assert_allclose(tok[:, 2 * a : 3 * a], ref)
    np.testing.assert_allclose(tok[:, 3 * a], [0.25, 1.0])
    np.testing.assert_allclose(tok[:, -1], [1.0, -1.0], atol=1e-6)
    same = build_tokens(ctx, ctx, ref, np.zeros(2))  # no contrast: sim is 0, not NaN
    np.testing.assert_array_equal(same[:, -1], [0.0, 0.0])


def test_scenario_is_abstract_and_probe_set_is_optional(patrol_cfg):
    from scenarios.base import Scenario
    from scenarios.litter_patrol import LitterPatrol

    assert Scenario.__abstractmethods__ == {
        "public_info", "observe", "step", "metrics", "tick_metrics"
    }  # fmt: skip

    class Half(Scenario):  # a world that forgot part of the contract cannot be built
        Config = LitterPatrol.Config

        def observe(self) -> Observation:
            raise AssertionError("never reached")

    with pytest.raises(TypeError, match=r"abstract.*public_info"):
        Half(patrol_cfg, 2, seed=0)
    assert LitterPatrol(patrol_cfg, 2, seed=0).probe_set() is None

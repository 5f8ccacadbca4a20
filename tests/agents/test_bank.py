"""BrainBank: equal to K separate YanModels, independent per brain, weights in and out."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agents.bank import BrainBank
from agents.config import LearnerConfig, YanConfig
from agents.model import YanModel

torch.set_num_threads(1)
CFG = YanConfig(chunk_size=8)
LC = LearnerConfig(learn_every=2, window=16)


def _model_of(bank: BrainBank, i: int) -> YanModel:
    m = YanModel(CFG)
    state = {n: torch.from_numpy(v) for n, v in bank.export_weights(i).items()}
    for n, b in bank.buffers.items():
        state[n] = b[i if not bank.shared else 0]
    m.load_state_dict(state)
    return m


def test_act_equals_separate_models() -> None:
    k = 3
    bank = BrainBank(CFG, LC, k=k, seed=4)
    models = [_model_of(bank, i) for i in range(k)]
    states = [m.init_state(1) for m in models]
    rng = np.random.default_rng(0)
    for t in range(12):
        tok = rng.standard_normal((k, CFG.input_dim)).astype(np.float32)
        out = bank.act(tok, t)
        for i, m in enumerate(models):
            with torch.no_grad():
                y, states[i] = m.step(torch.from_numpy(tok[i : i + 1]), states[i])
            assert abs(out["detect"][i] - y["detect"][0, 0].item()) <= 1e-5
    assert out["detect"].shape == (k,) and out["detect"].dtype == np.float32


def test_learn_equals_separate_steps_and_brains_are_independent() -> None:
    """A batched learning step changes brain i exactly as brain i's own data says."""
    k = 2
    rng = np.random.default_rng(1)
    toks = rng.standard_normal((8, k, CFG.input_dim)).astype(np.float32)
    results = []
    for variant in ("both", "alone"):
        bank = BrainBank(CFG, LC, k=k, seed=9)
        for t in range(8):
            tok = toks[t].copy()
            if variant == "alone":
                tok[1] = 0.0  # brain 1 sees different data; brain 0 must not notice
            bank.act(tok, t)
            bank.label([0, 1], [t, t], [t % 2, 1 - t % 2])
            bank.learn(t)
        results.append(bank)
    w_both, w_alone = results[0].export_weights(0), results[1].export_weights(0)
    for n in w_both:
        assert np.allclose(w_both[n], w_alone[n], atol=1e-6), n
    assert results[0].train_steps == 4 * k
    d1 = results[0].delta(1)
    assert any(np.abs(d1[n] - results[1].delta(1)[n]).max() > 1e-6 for n in d1)


def test_learn_honours_learn_every_and_enabled() -> None:
    bank = BrainBank(CFG, LearnerConfig(learn_every=4, window=8), k=2)
    steps = []
    for t in range(9):
        bank.act(np.zeros((2, CFG.input_dim), np.float32), t)
        steps.append(bank.learn(t))
    assert steps == [0, 2, 0, 0, 0, 2, 0, 0, 0]
    off = BrainBank(CFG, LearnerConfig(enabled=False), k=2)
    off.act(np.zeros((2, CFG.input_dim), np.float32), 0)
    off.act(np.zeros((2, CFG.input_dim), np.float32), 1)
    assert off.learn(1) == 0


def test_shared_is_one_model_for_k_states() -> None:
    bank = BrainBank(CFG, LC, k=4, seed=2, shared=True)
    model = _model_of(bank, 0)
    tok = np.random.default_rng(3).standard_normal((4, CFG.input_dim)).astype(np.float32)
    out = bank.act(tok, 0)
    with torch.no_grad():
        y, _ = model.step(torch.from_numpy(tok), model.init_state(4))
    assert np.abs(out["detect"] - y["detect"][:, 0].numpy()).max() <= 1e-5
    bank.act(tok, 1)
    assert bank.learn(1) == 1
    with pytest.raises(IndexError, match="holds 1"):
        bank.export_weights(1)


def test_delta_roundtrip_and_group_axes() -> None:
    a = BrainBank(CFG, LC, k=2, seed=0)
    b = BrainBank(CFG, LC, k=2, seed=0, init=YanModel(CFG).state_dict())
    a.snapshot(0)
    for t in range(4):
        a.act(np.ones((2, CFG.input_dim), np.float32) * t, t)
        a.label([0], [t], [1.0])
        a.learn(t)
    b.import_weights(1, a.export_weights(0))
    b.snapshot(1)
    b.apply_delta(1, {n: -v for n, v in a.delta(0).items()}, scale=0.5)
    for n, v in b.delta(1).items():
        assert np.allclose(v, -0.5 * a.delta(0)[n], atol=1e-6)
    axes = a.group_axes()
    w = a.export_weights(0)
    for n, ax in axes.items():
        assert w[n].shape[ax] == CFG.ffn_groups
    assert {"layers.0.ffn.w_in", "layers.0.ffn.w_sel"} <= set(axes)


def test_clear_errors() -> None:
    bank = BrainBank(CFG, LC, k=2)
    with pytest.raises(ValueError, match="input_dim"):
        bank.act(np.zeros((2, CFG.input_dim + 1), np.float32), 0)
    with pytest.raises(ValueError, match="K=2"):
        bank.act(np.zeros((3, CFG.input_dim), np.float32), 0)
    other = YanModel(YanConfig(d_model=64)).state_dict()
    with pytest.raises(ValueError, match="expected"):
        BrainBank(CFG, LC, k=1, init=other)
    with pytest.raises(ValueError, match="does not"):
        bank.apply_delta(0, {"nope": np.zeros(3)})
    w = bank.export_weights(0)
    w["embed.bias"] = np.zeros(5, np.float32)
    with pytest.raises(ValueError, match=r"expected \(32,\)"):
        bank.apply_delta(0, {"embed.bias": w["embed.bias"]})
    del w["embed.bias"]
    with pytest.raises(ValueError, match="lacks"):
        bank.import_weights(0, w)


def test_whole_bank_ops_equal_the_per_brain_ones() -> None:
    cfg = YanConfig(input_dim=6)
    a, b = (BrainBank(cfg, LearnerConfig(), k=3, seed=2) for _ in range(2))
    flat = a.read_flat()
    names = [n for n, _ in a.flat_layout()]
    for i in range(3):
        named = a.export_weights(i)
        np.testing.assert_array_equal(flat[i], np.concatenate([named[n].ravel() for n in names]))
    rows = np.random.default_rng(0).standard_normal(flat.shape).astype(np.float32)
    a.add_flat(rows, scale=0.5)
    col = 0
    per_brain = []
    for n, shape in a.flat_layout():
        size = int(np.prod(shape))
        per_brain.append((n, rows[:, col : col + size].reshape(3, *shape)))
        col += size
    for i in range(3):
        b.apply_delta(i, {n: r[i] for n, r in per_brain}, scale=0.5)
    np.testing.assert_allclose(a.read_flat(), b.read_flat(), atol=1e-6)
    for n in a.params:
        torch.testing.assert_close(a.ewc.anchor[n], b.ewc.anchor[n])
    with pytest.raises(ValueError, match="read_flat"):
        a.add_flat(rows[:, 1:])


def test_score_is_the_next_step_without_advancing_state() -> None:
    cfg = YanConfig(input_dim=6)
    bank = BrainBank(cfg, LearnerConfig(), k=2, seed=1)
    rng = np.random.default_rng(1)
    bank.act(rng.standard_normal((2, 6)).astype(np.float32), 0)
    probe = rng.standard_normal((5, 6)).astype(np.float32)
    state = bank.state.clone()
    got = bank.score(probe)["detect"]  # (2, 5)
    assert torch.equal(bank.state, state)
    for j in range(5):
        twin = BrainBank(cfg, LearnerConfig(), k=2, seed=1)
        twin.state = state.clone()
        want = twin.act(np.repeat(probe[j : j + 1], 2, 0), 1)["detect"]
        np.testing.assert_allclose(got[:, j], want, atol=1e-5)


def test_restore_flat_quarantines_a_diverged_brain_and_it_learns_on() -> None:
    """A brain whose weights went NaN is put back to given rows; its optimiser and recurrent
    state restart, the other brain is untouched, and the next steps stay finite."""
    k = 2
    rng = np.random.default_rng(2)
    bank = BrainBank(CFG, LC, k=k, seed=3)
    for t in range(4):
        bank.act(rng.standard_normal((k, CFG.input_dim)).astype(np.float32), t)
        bank.label([0, 1], [t, t], [t % 2, 1 - t % 2])
        bank.learn(t)
    good = bank.read_flat()
    for p in bank.params.values():  # brain 1 diverges: weights, moments and state
        p[1] = float("nan")
    for m in bank.opt.m.values():
        m[1] = float("nan")
    bank.state[1] = float("nan")
    bank.restore_flat(np.array([1]), good[1:])
    after = bank.read_flat()
    np.testing.assert_array_equal(after, good)
    assert torch.isfinite(bank.state).all()
    for t in range(4, 8):
        out = bank.act(rng.standard_normal((k, CFG.input_dim)).astype(np.float32), t)
        bank.label([0, 1], [t, t], [t % 2, 1 - t % 2])
        bank.learn(t)
        assert np.isfinite(out["detect"]).all()
    assert np.isfinite(bank.read_flat()).all() and not np.array_equal(bank.read_flat(), good)

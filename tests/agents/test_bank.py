"""BrainBank: equal to K separate YanModels, independent per brain, whole-bank weights."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from agents import bank as bank_mod
from agents.bank import BrainBank, learn_slices
from agents.config import LearnerConfig, YanConfig, train_tokens
from agents.model import YanModel, yan_apply
from agents.pretrain import load_pretrained
from protocols.batching import RowLayout

torch.set_num_threads(1)
CFG = YanConfig(chunk_size=8)
LC = LearnerConfig(learn_every=2, window=16)


def _named(bank: BrainBank, i: int) -> dict[str, np.ndarray]:
    """Weight set i's parameters by name, split from `read_flat` as a knowledge round does."""
    return RowLayout(bank.flat_layout()).named(bank.read_flat()[i])


def _model_of(bank: BrainBank, i: int) -> YanModel:
    m = YanModel(CFG)
    state = {n: torch.from_numpy(v.copy()) for n, v in _named(bank, i).items()}
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
    w_both, w_alone = _named(results[0], 0), _named(results[1], 0)
    for n in w_both:
        assert np.allclose(w_both[n], w_alone[n], atol=1e-6), n
    assert results[0].train_steps == 4 * k
    # same seed, so the same start: brain 1's learning followed its own (different) data
    assert np.abs(results[0].read_flat()[1] - results[1].read_flat()[1]).max() > 1e-6


def test_learn_honours_learn_every_and_enabled() -> None:
    bank = BrainBank(CFG, LearnerConfig(learn_every=4, window=8), k=2)
    steps = []
    for t in range(9):
        bank.act(np.zeros((2, CFG.input_dim), np.float32), t)
        bank.label([0, 1], [t, t], [0.0, 0.0])  # hard negatives (photo positives pair them)
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
    bank.label([2], [1], [0.0])  # one stream's label is enough for the shared model
    assert bank.learn(1) == 1
    assert bank.read_flat().shape == (1, bank.params_per_brain)
    with pytest.raises(IndexError, match="holds 1"):
        bank.restore_flat(np.array([1]), bank.read_flat())


def test_restore_then_add_moves_one_brain_and_group_axes() -> None:
    """A learned brain copied into another bank (`restore_flat`) and moved back by half its
    learned delta (`add_flat`): only that brain moves, and its EWC anchor moves with it."""
    a = BrainBank(CFG, LC, k=2, seed=0)
    b = BrainBank(CFG, LC, k=2, seed=0, init=YanModel(CFG).state_dict())
    start = a.read_flat()
    for t in range(4):
        a.act(np.ones((2, CFG.input_dim), np.float32) * t, t)
        a.label([0], [t], [float(t % 2)])
        a.learn(t)
    learned = a.read_flat()
    delta = learned[0] - start[0]
    assert np.abs(delta).max() > 1e-6
    b.restore_flat(np.array([1]), learned[:1])
    np.testing.assert_array_equal(b.read_flat()[1], learned[0])
    before, anchor = b.read_flat(), {n: t.clone() for n, t in b.ewc.anchor.items()}
    rows = np.stack([np.zeros_like(delta), -delta])
    b.add_flat(rows, scale=0.5)
    after = b.read_flat()
    np.testing.assert_array_equal(after[0], before[0])
    np.testing.assert_allclose(after[1] - learned[0], -0.5 * delta, atol=1e-6)
    moved = RowLayout(b.flat_layout()).named(-0.5 * delta)  # brain 1's step; brain 0: none
    for n, t in b.ewc.anchor.items():
        torch.testing.assert_close(t[0], anchor[n][0])
        torch.testing.assert_close(
            t[1], anchor[n][1] + torch.from_numpy(moved[n]), atol=1e-6, rtol=0
        )
    axes = a.group_axes()
    w = _named(a, 0)
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
    state = YanModel(CFG).state_dict()
    with pytest.raises(ValueError, match="does not"):
        BrainBank(CFG, LC, k=1, init={**state, "nope": torch.zeros(3)})
    with pytest.raises(ValueError, match=r"expected \(32,\)"):
        BrainBank(CFG, LC, k=1, init={**state, "embed.bias": torch.zeros(5)})
    del state["embed.bias"]
    with pytest.raises(ValueError, match="lacks"):
        BrainBank(CFG, LC, k=1, init=state)
    rows = bank.read_flat()
    with pytest.raises(ValueError, match="read_flat"):
        bank.add_flat(rows[:, 1:])
    with pytest.raises(ValueError, match="len\\(sets\\)=1"):
        bank.restore_flat(np.array([0]), rows)
    with pytest.raises(IndexError, match="holds 2"):
        bank.restore_flat(np.array([2]), rows[:1])
    np.testing.assert_array_equal(bank.read_flat(), rows)  # nothing was half-applied


def test_whole_bank_ops_match_the_stored_tensors() -> None:
    """read_flat's row i is brain i's tensors in flat_layout order; add_flat adds scale × rows
    to every brain's tensors and to their EWC anchors."""
    cfg = YanConfig(input_dim=6)
    a = BrainBank(cfg, LearnerConfig(), k=3, seed=2)
    flat = a.read_flat()
    names = [n for n, _ in a.flat_layout()]
    assert sorted(names) == names and set(names) == set(a.params)
    for i in range(3):
        want = np.concatenate([a.params[n][i].numpy().ravel() for n in names])
        np.testing.assert_array_equal(flat[i], want)
    params = {n: t.clone() for n, t in a.params.items()}
    anchor = {n: t.clone() for n, t in a.ewc.anchor.items()}
    rows = np.random.default_rng(0).standard_normal(flat.shape).astype(np.float32)
    a.add_flat(rows, scale=0.5)
    np.testing.assert_allclose(a.read_flat(), flat + 0.5 * rows, atol=1e-6)
    layout = RowLayout(a.flat_layout())
    per_brain = [layout.named(r) for r in rows]
    for n in names:
        step = 0.5 * torch.from_numpy(np.stack([named[n] for named in per_brain]))
        torch.testing.assert_close(a.params[n], params[n] + step, atol=1e-6, rtol=0)
        torch.testing.assert_close(a.ewc.anchor[n], anchor[n] + step, atol=1e-6, rtol=0)


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


def test_a_brain_without_field_labels_keeps_its_weights() -> None:
    """No one-sided step: a brain holding only positives, or nothing, is not moved (not even
    by rehearsal) while a brain with a hard negative beside it learns."""
    bank = BrainBank(CFG, LC, k=3, seed=4)
    start = bank.read_flat()
    rng = np.random.default_rng(5)
    for t in range(8):
        bank.act(rng.standard_normal((3, CFG.input_dim)).astype(np.float32), t)
        bank.label([0, 1], [t, t], [0.0, 1.0])  # brain 0 a hard negative, brain 1 a positive
        bank.learn(t)
    moved = np.abs(bank.read_flat() - start).max(1)
    assert moved[0] > 1e-6 and moved[1] == 0 and moved[2] == 0


@pytest.mark.parametrize("n_sets, most", [(1, 4), (2, 4), (9, 4), (64, 64), (65, 64), (300, 64)])
def test_learn_slices_cover_the_sets_without_a_lone_one(n_sets: int, most: int) -> None:
    parts = learn_slices(n_sets, most)
    assert parts[0].start == 0 and parts[-1].stop == n_sets
    assert all(a.stop == b.start for a, b in itertools.pairwise(parts))
    sizes = [p.stop - p.start for p in parts]
    assert max(sizes) <= most and (n_sets < 2 or min(sizes) >= 2)


def test_sliced_learning_is_the_whole_bank_step_bit_for_bit(monkeypatch) -> None:
    """Independent brains learn only where a brain steps, in slices of at most LEARN_CHUNK
    sets (`_learn_sliced`); weights, Adam moments and later draws are those of one
    whole-bank pass (`_learn_whole`), bit for bit (pretrained weights, so the rehearsal and
    EWC terms are on; selection noise on; some brains idle, some stepping)."""
    cfg = YanConfig()
    init = load_pretrained(cfg)
    lc = LearnerConfig(learn_every=2, window=16)
    k = 7
    rng = np.random.default_rng(5)
    toks = rng.standard_normal((14, k, cfg.input_dim)).astype(np.float32)
    banks = []
    for way in ("whole", "sliced"):
        with monkeypatch.context() as mp:
            mp.setattr(bank_mod, "LEARN_CHUNK", 3)  # slices of 2-3 sets
            if way == "whole":
                mp.setattr(BrainBank, "_learn_sliced", BrainBank._learn_whole)
            bank = BrainBank(cfg, lc, k=k, seed=2, init=init)
            bank._from_checkpoint = False  # selection noise on: idle brains skip its draws
            for t in range(14):
                bank.act(toks[t], t)
                if t >= 1:  # brains 0, 2, 4 get both classes; 6 only negatives, late
                    brains = np.array([0, 2, 4] + ([6] if t >= 8 else []))
                    values = np.where(brains == 6, 0.0, (brains // 2 + t) % 2)
                    bank.label(brains, np.full(brains.size, t - 1), values)
                bank.learn(t)
        banks.append(bank)
    whole, sliced = banks
    assert whole.train_steps == sliced.train_steps > 0
    np.testing.assert_array_equal(whole.read_flat(), sliced.read_flat())
    for n in whole.params:
        assert torch.equal(whole.opt.v[n], sliced.opt.v[n]), n
    np.testing.assert_array_equal(
        whole.act(toks[0], 14)["detect"], sliced.act(toks[0], 14)["detect"]
    )


@pytest.mark.parametrize("rank_weight", [1.0, 0.0])
def test_train_tokens_counts_the_tokens_a_step_runs(monkeypatch, rank_weight: float) -> None:
    """`agents.config.train_tokens` (the train_flops cost) is what one weight set's step
    runs through the model once the reservoir is full: the reservoir, its ranking pairs,
    the photo positives and the rehearsal streams."""
    cfg = YanConfig()
    lc = LearnerConfig(
        learn_every=1, window=16, replay_per_class=2, photo_positives=3,
        rehearsal_streams=2, rehearsal_length=4, rank_weight=rank_weight,
    )  # fmt: skip
    k = 4
    bank = BrainBank(cfg, lc, k=k, seed=1, init=load_pretrained(cfg))
    rng = np.random.default_rng(0)
    for t in range(6):  # every brain gets two labels of each class: the reservoir is full
        bank.act(rng.standard_normal((k, cfg.input_dim)).astype(np.float32), t)
        if t >= 1:
            bank.label(np.arange(k), np.full(k, t - 1), np.full(k, float(t % 2)))
    runs: list[int] = []

    def counted(p, c, x, *args, **kwargs):
        runs.append(x.shape[1] * x.shape[2])  # (P, B, T, D): tokens per weight set
        return yan_apply(p, c, x, *args, **kwargs)

    monkeypatch.setattr(bank_mod, "yan_apply", counted)
    assert bank.learn(6) == k
    assert sum(runs) == train_tokens(lc) == 4 * (1 + (rank_weight > 0)) + 3 + 2 * 4

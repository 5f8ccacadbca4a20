"""Ring buffer order and late labels; per-set Adam with lazy groups; the field's loss terms
(photo positives, balanced BCE, ranking) and the anchored EWC; online adaptation."""

from __future__ import annotations

import numpy as np
import torch

from agents.bank import BrainBank
from agents.config import LearnerConfig, YanConfig
from agents.learner import (
    AnchoredEWC,
    LabelReservoir,
    RingBuffer,
    StackedAdam,
    balanced_bce,
    photo_positives,
    rank_losses,
)
from agents.model import YanModel
from agents.pretrain import load_pretrained
from agents.synthetic import SyntheticConfig, make_mission, make_stream, probe_auc
from protocols.batching import RowLayout

torch.set_num_threads(1)


def test_ring_buffer_order_states_and_late_labels() -> None:
    buf = RingBuffer(streams=2, window=4, input_dim=1, state_shape=(1,))
    for t in range(6):
        buf.push(torch.full((2, 1), float(t)), t, torch.full((2, 1), 10.0 + t))
    slots = buf.label(torch.tensor([0, 1, 0]), torch.tensor([3, 5, 0]), torch.ones(3))
    assert slots.tolist() == [3, 1, -1]  # tick 3 sits in slot 3, tick 5 in slot 1 (wrapped)
    assert buf.late_labels_dropped == 1  # tick 0 was evicted
    tokens, labels, start = buf.ordered()
    assert tokens[0, :, 0].tolist() == [2, 3, 4, 5]
    assert start[:, 0].tolist() == [12.0, 12.0]  # state before the oldest held token
    assert labels[0, 1] == 1 and labels[1, 3] == 1 and torch.isnan(labels[0, 0])


def test_adam_is_per_set_and_lazy_on_groups() -> None:
    p = {"w": torch.ones(2, 3, 4)}  # 2 sets, 3 groups along axis 0 (per set)
    opt = StackedAdam(p, lr=0.1, group_axes={"w": 0}, clip=1e9)
    g = torch.zeros(2, 3, 4)
    g[0, 1] = 1.0  # set 0, group 1 only
    opt.step({"w": g})
    assert torch.equal(p["w"][1], torch.ones(3, 4))  # set 1 untouched
    assert torch.equal(p["w"][0, 0], torch.ones(4)) and (p["w"][0, 1] < 1).all()


def test_ewc_pull_moves_toward_the_fixed_anchor_by_fisher() -> None:
    """pull: θ ← θ − min(1, rate F̂)(θ − θ₀), F̂ = Fisher / its mean per set; θ₀ stays put."""
    params = {"a": torch.zeros(2, 3), "b": torch.zeros(2, 2)}
    fisher = {"a": torch.tensor([1.0, 0.0, 3.0]), "b": torch.tensor([0.0, 0.0])}
    ewc = AnchoredEWC(params, fisher)  # mean Fisher 4 / 5 = 0.8 per set
    moved = {n: p + 1.0 for n, p in params.items()}
    ewc.pull(moved, rate=0.2)
    want_a = 1.0 - torch.clamp(0.2 * fisher["a"] / 0.8, max=1.0)
    torch.testing.assert_close(moved["a"], want_a.expand(2, 3))
    assert torch.equal(moved["b"], torch.ones(2, 2))  # F̂ = 0: the source does not care
    assert torch.equal(ewc.anchor["a"], torch.zeros(2, 3))
    assert ewc.fisher["a"].shape == (1, 3)  # one F̂ for every set, held once
    ewc.shift("a", 0, torch.ones(3))  # an accepted delta moves only that brain's anchor
    assert torch.equal(ewc.anchor["a"][0], torch.ones(3)) and ewc.anchor["a"][1].eq(0).all()


def test_photo_positives_place_the_photo_in_observed_tokens() -> None:
    """obs moves along the photo by rms(ctx) × u; ctx, ref, altitude stay; sim recomputed."""
    a = 4
    rng = np.random.default_rng(0)
    tok = torch.from_numpy(rng.standard_normal((5, 3 * a + 2)).astype(np.float32))
    tok[:, 2 * a : 3 * a] = torch.tensor([2.0, 0.0, 0.0, 0.0])  # the photo (not unit)
    out = photo_positives(tok, (1.0, 1.0), torch.Generator().manual_seed(0))
    ctx = tok[:, a : 2 * a]
    shift = out[:, :a] - tok[:, :a]
    torch.testing.assert_close(shift[:, 0], ctx.pow(2).mean(1).sqrt())
    assert torch.equal(shift[:, 1:], torch.zeros(5, a - 1))
    assert torch.equal(out[:, a:-1], tok[:, a:-1])
    diff = out[:, :a] - ctx
    torch.testing.assert_close(out[:, -1], diff[:, 0] / diff.norm(dim=1))


def test_balanced_bce_needs_both_classes_and_weighs_them_equally() -> None:
    logits = torch.tensor([[0.0, 0.0, 0.0, 2.0], [1.0, -1.0, 0.0, 0.0]])
    values = torch.tensor([[0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0]])
    mask = torch.tensor([[True, True, True, True], [True, True, False, False]])
    got = balanced_bce(logits, values, mask)
    neg = torch.nn.functional.softplus(torch.tensor(0.0))
    pos = torch.nn.functional.softplus(torch.tensor(-2.0))
    torch.testing.assert_close(got[0], 0.5 * (neg + pos))  # 3 negatives count as much as 1
    assert got[1] == 0  # one-sided: no supervised step at all


def test_rank_loss_pairs_each_negative_with_its_own_pair_and_every_true_positive() -> None:
    sp = torch.nn.functional.softplus
    neg, pair = torch.tensor([[1.0, 5.0, 3.0]]), torch.tensor([[0.0, 2.0, 9.0]])
    neg_mask = torch.tensor([[True, False, True]])
    no_pos = torch.zeros(1, 1, dtype=torch.bool)
    got = rank_losses(neg, neg_mask, pair, torch.zeros(1, 1), no_pos)
    torch.testing.assert_close(got[0], (sp(torch.tensor(1.0)) + sp(torch.tensor(-6.0))) / 2)
    got = rank_losses(neg, neg_mask, pair, torch.tensor([[2.0]]), ~no_pos)
    want = (sp(torch.tensor(1.0)) + sp(torch.tensor(-6.0)) + sp(torch.tensor(-1.0))
            + sp(torch.tensor(1.0))) / 4  # fmt: skip
    torch.testing.assert_close(got[0], want)
    none = rank_losses(neg, torch.zeros(1, 3, dtype=torch.bool), pair, torch.zeros(1, 1), ~no_pos)
    assert none[0] == 0


def test_reservoir_keeps_newest_per_class() -> None:
    res = LabelReservoir(streams=2, per_class=2, input_dim=1, state_shape=(1,))
    vals = torch.tensor([0.0, 0.0, 1.0, 0.0, 0.0])  # stream 0: 4 negatives, 1 positive
    toks = torch.arange(5.0)[:, None]
    res.add(torch.zeros(5, dtype=torch.long), vals, toks, 10 + toks)
    res.add(torch.tensor([1]), torch.tensor([1.0]), torch.tensor([[7.0]]), torch.tensor([[8.0]]))
    res.add(torch.tensor([0]), torch.tensor([0.0]), torch.tensor([[5.0]]), torch.tensor([[15.0]]))
    negs = sorted(res.tokens[0, 0, :, 0].tolist())
    assert negs == [4.0, 5.0]  # the newest two negatives; the lone positive is kept
    assert res.tokens[0, 1, 0, 0] == 2.0 and res.states[0, 1, 0, 0] == 12.0
    assert res.filled[0].sum() == 3 and res.filled[1].sum() == 1
    assert res.seen[0].tolist() == [5.0, 1.0]


def test_bank_copies_landed_labels_with_their_state_into_the_reservoir() -> None:
    cfg = YanConfig(chunk_size=8)
    bank = BrainBank(cfg, LearnerConfig(window=4), k=2, seed=1)
    toks = np.random.default_rng(0).standard_normal((6, 2, cfg.input_dim)).astype(np.float32)
    states = []
    for t in range(6):
        states.append(bank.state.clone())
        bank.act(toks[t], t)
    assert bank.label([0, 1], [4, 0], [1.0, 0.0]) == 1  # tick 0 has left the 4-token window
    assert bank.buffer.late_labels_dropped == 1
    assert torch.equal(bank.replay.tokens[0, 1, 0], torch.from_numpy(toks[4, 0]))
    assert torch.equal(bank.replay.states[0, 1, 0], states[4][0])
    assert bank.replay.filled.sum() == 1
    assert bank.learn(6) == 0  # a positive alone: no one-sided step
    bank.act(toks[0], 6)
    assert bank.label([1], [6], [0.0]) == 1  # a hard negative: brain 1 now holds both classes
    assert bank.learn(10) == 2


def test_online_learning_lifts_auc_on_shifted_stream() -> None:
    """Late labels + online steps beat the frozen pretrained model on shifted missions.

    Four missions of the shifted distribution, two drones (brains) each, all in one bank with
    the default LearnerConfig; labels arrive 5 ticks late. Each brain is scored on a held-out
    probe set of its own mission (8 other drones, other light and tint) against the frozen
    checkpoint it started from; the median lift over the 8 brains must be clear.
    """
    cfg = YanConfig()
    base = load_pretrained(cfg)  # the checkpoint the missions start from (cached)
    shifted, per, ticks, delay = SyntheticConfig.shifted(), 2, 400, 5
    missions = [5, 6, 7, 8]
    xs, ys, probes = [], [], []
    for ms in missions:
        mission = make_mission(shifted, np.random.default_rng(ms))
        x, y = make_stream(shifted, per, ticks, seed=100 + ms, mission=mission)
        xs.append(x)
        ys.append(y)
        probes.append(make_stream(shifted, 8, 256, seed=200 + ms, mission=mission))
    x, y = np.concatenate(xs), np.concatenate(ys)
    k = len(x)
    bank = BrainBank(cfg, LearnerConfig(), k=k, seed=0, init=base)
    for t in range(ticks):
        bank.act(x[:, t], t)
        if t >= delay:  # labels arrive `delay` ticks late
            bank.label(np.arange(k), np.full(k, t - delay), y[:, t - delay])
        bank.learn(t)
    frozen = YanModel(cfg)
    frozen.load_state_dict(base)
    src_x, src_y = make_stream(SyntheticConfig.source(), 8, 128, seed=999)
    lifts, lines, src = [], [], []
    for j, (px, py) in enumerate(probes):
        before = probe_auc(frozen, px, py)
        after = []
        for i in range(j * per, (j + 1) * per):
            m = YanModel(cfg)
            row = RowLayout(bank.flat_layout()).named(bank.read_flat()[i])
            weights = {n: torch.from_numpy(v.copy()) for n, v in row.items()}
            m.load_state_dict({**base, **weights})
            after.append(probe_auc(m, px, py))
            src.append(probe_auc(m, src_x, src_y))
        lifts += [a - before for a in after]
        lines.append(f"mission {missions[j]}: frozen {before:.3f}, learning {after[0]:.3f}")
        lines[-1] += "".join(f", {a:.3f}" for a in after[1:])
    src_frozen = probe_auc(frozen, src_x, src_y)
    report = (
        "; ".join(lines)
        + f"; median lift {np.median(lifts):+.3f}; source AUC frozen {src_frozen:.3f},"
        + f" learning median {np.median(src):.3f}"
    )
    print(report)
    assert np.median(lifts) >= 0.03, report
    assert np.median(src) >= src_frozen - 0.1, "forgot the source task: " + report


def test_adam_leaves_still_unmoved_sets_alone_bit_for_bit() -> None:
    """Sets with zero gradients and never-moved moments are skipped (`still`); every set's
    weights, moments and step count equal those of whole-stack steps, bit for bit."""
    torch.manual_seed(0)
    start = {"w": torch.randn(5, 3, 4), "ffn.w_in": torch.randn(5, 2, 3)}
    axes = {"ffn.w_in": 0}
    runs = []
    for use_still in (False, True):
        params = {n: t.clone() for n, t in start.items()}
        opt = StackedAdam(params, 1e-2, axes, clip=1.0)
        gen = torch.Generator().manual_seed(1)
        for busy in ([0, 1], [1, 3], [0, 1]):  # sets 2 and 4 never move
            still = torch.ones(5, dtype=torch.bool)
            still[busy] = False
            grads = {
                n: torch.randn(t.shape, generator=gen) * (~still).float().reshape(-1, 1, 1)
                for n, t in params.items()
            }
            grads["ffn.w_in"][:, 1] = 0.0  # an untouched group
            opt.step(grads, still=still if use_still else None)
        runs.append((params, opt))
    (p_a, o_a), (p_b, o_b) = runs
    for n in start:
        assert torch.equal(p_a[n], p_b[n]) and torch.equal(o_a.m[n], o_b.m[n]), n
        assert torch.equal(o_a.v[n], o_b.v[n]), n
    assert torch.equal(o_a.steps, o_b.steps) and o_b.steps.tolist() == [3.0] * 5
    assert o_b.moving.tolist() == [True, True, False, True, False]
    assert torch.equal(p_b["w"][2], start["w"][2])

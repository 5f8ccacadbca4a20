"""Ring buffer order and late labels; per-set Adam with lazy groups; online adaptation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agents.bank import BrainBank
from agents.config import LearnerConfig, YanConfig
from agents.learner import RingBuffer, StackedAdam
from agents.pretrain import pretrain
from agents.synthetic import SyntheticConfig, make_mission, make_stream, probe_auc
from agents.yan import YanModel

torch.set_num_threads(1)


def test_ring_buffer_order_states_and_late_labels() -> None:
    buf = RingBuffer(streams=2, window=4, input_dim=1, state_shape=(1,))
    for t in range(6):
        buf.push(torch.full((2, 1), float(t)), t, torch.full((2, 1), 10.0 + t))
    assert buf.label(torch.tensor([0, 1, 0]), torch.tensor([3, 5, 0]), torch.ones(3)) == 2
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


@pytest.mark.slow
def test_online_learning_lifts_auc_on_shifted_stream(tmp_path) -> None:
    """Late labels + online steps beat the frozen pretrained model on a shifted mission."""
    cfg = YanConfig()
    base = pretrain(cfg, {"steps": 150}).state_dict()
    shifted = SyntheticConfig.shifted()
    mission = make_mission(shifted, np.random.default_rng(5))
    k, ticks, delay = 2, 400, 5
    x, y = make_stream(shifted, k, ticks, seed=11, mission=mission)
    probe_x, probe_y = make_stream(shifted, 8, 256, seed=12, mission=mission)
    frozen = YanModel(cfg)
    frozen.load_state_dict(base)
    bank = BrainBank(cfg, LearnerConfig(lr=1e-2, learn_every=4), k=k, seed=0, init=base)
    for t in range(ticks):
        bank.act(x[:, t], t)
        if t >= delay:  # labels arrive `delay` ticks late
            bank.label(np.arange(k), np.full(k, t - delay), y[:, t - delay])
        bank.learn(t)
    adapted = []
    for i in range(k):
        m = YanModel(cfg)
        m.load_state_dict(
            {**base, **{n: torch.from_numpy(v) for n, v in bank.export_weights(i).items()}}
        )
        adapted.append(probe_auc(m, probe_x, probe_y))
    auc_frozen = probe_auc(frozen, probe_x, probe_y)
    print(f"probe AUC frozen {auc_frozen:.3f}, adapted {[round(a, 3) for a in adapted]}")
    assert np.mean(adapted) >= auc_frozen + 0.03

import numpy as np
import torch

from agents import BrainBank, LearnerConfig, YanConfig, YanModel
from agents.rng import BrainGenerators, integers, normal, uniform

CFG = YanConfig(
    d_model=16, n_layers=1, n_channels=4, ffn_groups=4, ffn_active=1, input_dim=26,
    heads={"detect": 1},
)  # fmt: skip


def test_a_brains_draws_do_not_depend_on_its_bank_mates():
    both, alone = BrainGenerators(7, [3, 5]), BrainGenerators(7, [5])
    for draw in (uniform, normal):
        torch.testing.assert_close(draw((2, 4), both)[1], draw((1, 4), alone)[0], rtol=0, atol=0)
    assert torch.equal(integers(9, (2, 3), both)[1], integers(9, (1, 3), alone)[0])
    other = BrainGenerators(8, [5])  # another seed: another stream
    assert not torch.equal(uniform((1, 4), other), uniform((1, 4), BrainGenerators(7, [5])))


def _fly(groups: list[list[int]], init) -> np.ndarray:
    banks = [BrainBank(CFG, LearnerConfig(learn_every=4, window=32), len(g), 5, init, ids=g)
             for g in groups]  # fmt: skip
    rng, out = np.random.default_rng(0), []
    for t in range(40):
        x = rng.normal(size=(4, 26)).astype(np.float32)
        lab = np.array([0, 0, 2, 3]) if t > 5 and t % 3 == 0 else np.zeros(0, np.int64)
        val = rng.integers(0, 2, size=lab.size).astype(np.float32)
        row = []
        for bank, g in zip(banks, groups, strict=True):
            row.append(bank.act(x[g], t)["detect"])
            mine = np.isin(lab, g)
            if mine.any():
                local = np.searchsorted(g, lab[mine])
                bank.label(local, np.full(local.size, t - 1), val[mine])
            bank.learn(t)
        out.append(np.concatenate(row))
    return np.array(out)


def test_brains_act_and_learn_alike_whichever_bank_holds_them():
    """Host-count invariance at the bank: 4 brains in one bank or two banks of 2 give
    bit-identical logits while learning (labels, replay, photo positives, rehearsal)."""
    torch.manual_seed(1)
    init = YanModel(CFG).state_dict()
    np.testing.assert_array_equal(_fly([[0, 1, 2, 3]], init), _fly([[0, 1], [2, 3]], init))

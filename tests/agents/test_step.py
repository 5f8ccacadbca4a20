"""yan_step (the decode fast path) is the same function as the recurrent form of yan_apply."""

from __future__ import annotations

import pytest
import torch

from agents.config import YanConfig
from agents.step import yan_step
from agents.yan import YanModel, init_state, yan_apply

torch.set_num_threads(1)


@pytest.mark.parametrize(
    ("cfg", "batch", "n_sets"),
    [
        (YanConfig(), 1, 3),  # gather path: 1 stream x 2 active <= 8 groups
        (YanConfig(), 5, 3),  # dense path: 5 streams x 2 active > 8 groups
        (YanConfig(d_model=64, n_layers=3, n_channels=8, ffn_groups=16, ffn_active=3), 2, 3),
        # many sets of one stream (the bank): 8-wide products take the multiply-and-sum path
        (YanConfig(), 1, 40),
        (YanConfig(d_model=64, n_channels=8, ffn_groups=16, ffn_active=1), 1, 40),
    ],
)
def test_step_equals_recurrent_form(cfg: YanConfig, batch: int, n_sets: int) -> None:
    torch.manual_seed(0)
    sets = [YanModel(cfg).state_dict() for _ in range(n_sets)]
    p = {n: torch.stack([s[n] for s in sets]) for n in sets[0]}
    for n in p:
        if n.endswith("usage_bias"):  # non-zero bias: selection must use it the same way
            p[n].normal_()
    with torch.no_grad():
        x = torch.randn(n_sets, batch, 20, cfg.input_dim)
        _, state, _ = yan_apply(p, cfg, x, init_state(cfg, batch, n_sets), "chunked")
        for _ in range(3):
            tok = torch.randn(n_sets, batch, cfg.input_dim)
            ref, ref_state, _ = yan_apply(p, cfg, tok[:, :, None], state, "recurrent")
            out, state = yan_step(p, cfg, tok, state)
            assert set(out) == set(ref)
            for name, y in out.items():
                assert torch.allclose(y, ref[name][:, :, 0], atol=1e-5), name
            assert torch.allclose(state, ref_state, atol=1e-5)


def test_step_rejects_a_sequence() -> None:
    m = YanModel(YanConfig())
    with pytest.raises(ValueError, match="one token per sequence"):
        m.step(torch.zeros(1, 4, 26), m.init_state(1))

"""YanModel: forms agree (outputs, state, gradients), step == forward, clear input errors."""

from __future__ import annotations

import pytest
import torch

from agents.config import YanConfig
from agents.yan import NEXT_HEAD, YanModel

torch.set_num_threads(1)
CFG = YanConfig(chunk_size=8)


def _model(seed: int = 0) -> YanModel:
    torch.manual_seed(seed)
    m = YanModel(CFG)
    with torch.no_grad():  # full-size heads so head errors are not hidden by a small init
        for p in m.parameters():
            if p.dim() == 2 and p.shape[0] == CFG.d_model:
                p.mul_(10)
    return m


def test_outputs_and_state_shapes() -> None:
    m = _model()
    y, s = m(torch.randn(3, 5, CFG.input_dim))
    assert y["detect"].shape == (3, 5, 1)
    assert y[NEXT_HEAD].shape == (3, 5, CFG.input_dim)
    assert s.shape == m.init_state(3).shape == (3, CFG.n_layers, 2 * CFG.d_model + CFG.n_channels)


@pytest.mark.parametrize("t", [5, 8, 17, 300])
def test_forms_agree_from_nonzero_state(t: int) -> None:
    m = _model()
    with torch.no_grad():
        _, s0 = m(torch.randn(2, 13, CFG.input_dim))
        x = torch.randn(2, t, CFG.input_dim)
        ref, s_ref = m(x, s0, mode="recurrent")
        for mode in ("chunked", "parallel"):
            y, s = m(x, s0, mode=mode)
            for k in ref:
                assert (y[k] - ref[k]).abs().max() <= 1e-5, (mode, k)
            assert ((s - s_ref).abs() / (s_ref.abs() + 1)).max() <= 1e-4  # sums up to ~256x


def test_step_matches_forward() -> None:
    m = _model()
    x = torch.randn(2, 20, CFG.input_dim)
    with torch.no_grad():
        ref, s_ref = m(x)
        s = m.init_state(2)
        for t in range(20):
            y, s = m.step(x[:, t], s)
            assert (y["detect"] - ref["detect"][:, t]).abs().max() <= 1e-5
    assert ((s - s_ref).abs() / (s_ref.abs() + 1)).max() <= 1e-4  # sums up to ~256x


def test_chunked_and_parallel_gradients_agree() -> None:
    grads = []
    x = torch.randn(2, 37, CFG.input_dim)
    for mode in ("chunked", "parallel"):
        m = _model()
        y, _ = m(x, mode=mode)
        (y["detect"].sum() + y[NEXT_HEAD].pow(2).mean()).backward()
        grads.append([p.grad.clone() for p in m.parameters()])
    for a, b in zip(*grads, strict=True):
        assert (a - b).abs().max() <= 1e-4 * (1 + b.abs().max())


def test_bad_inputs() -> None:
    m = _model()
    with pytest.raises(ValueError, match="input_dim"):
        m(torch.randn(1, 4, CFG.input_dim + 1))
    with pytest.raises(ValueError, match="T = 0"):
        m(torch.randn(1, 0, CFG.input_dim))
    with pytest.raises(ValueError, match="mode must be"):
        m(torch.randn(1, 2, CFG.input_dim), mode="fast")

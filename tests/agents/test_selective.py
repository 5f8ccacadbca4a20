"""Selective GeGLU: top-k routing, gather == dense, gradient only where groups fired."""

from __future__ import annotations

import pytest
import torch

from agents.selective import SelectiveGeGLU, balance_step, selective_apply

torch.set_num_threads(1)
D, H, G, K = 16, 32, 8, 2


def _params(seed: int = 0) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    m = SelectiveGeGLU(D, H, G)
    return {n: w.detach().unsqueeze(0) for n, w in m.state_dict().items()}


def test_gather_equals_dense() -> None:
    p = _params()
    x = torch.randn(1, 3, 5, D)
    y_g, load_g = selective_apply(p, x, K, path="gather")
    y_d, load_d = selective_apply(p, x, K, path="dense")
    assert (y_g - y_d).abs().max() <= 1e-5
    assert torch.equal(load_g, load_d)
    assert load_g.sum().item() == pytest.approx(1.0)


def test_only_selected_groups_and_selector_get_gradient() -> None:
    p = _params()
    leaves = {n: w.requires_grad_(n != "usage_bias") for n, w in p.items()}
    x = torch.randn(1, 1, 1, D)  # one token: exactly K groups fire
    logits = torch.einsum("pbtd,pdg->pbtg", x, leaves["w_sel"])
    chosen = set(torch.topk(logits[0, 0, 0], K).indices.tolist())
    y, _ = selective_apply(leaves, x, K, path="dense")
    y.pow(2).sum().backward()
    for name, axis in (("w_in", 1), ("w_out", 1), ("w_sel", 2)):
        g = leaves[name].grad
        fired = {i for i in range(G) if g.select(axis, i).abs().sum() > 0}
        assert fired == chosen, name


def test_noise_explores_and_bias_balances() -> None:
    p = _params()
    x = torch.randn(1, 64, 1, D)
    _, load_quiet = selective_apply(p, x, K)
    _, load_noisy = selective_apply(p, x, K, noise_std=torch.tensor([100.0]))
    assert (load_noisy > 0).all()  # 128 noisy picks reach every one of the 8 groups
    bias = p["usage_bias"].clone()
    balance_step(bias, load_quiet, 0.1)
    over, under = load_quiet[0] > 1 / G, load_quiet[0] < 1 / G
    assert (bias[0][over] < 0).all() and (bias[0][under] > 0).all()


def test_bad_path() -> None:
    with pytest.raises(ValueError, match="path must be"):
        selective_apply(_params(), torch.randn(1, 1, 1, D), K, path="sparse")

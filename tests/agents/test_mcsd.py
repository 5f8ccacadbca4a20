"""The MCSD mixer's three forms agree, from zero and non-zero states, across chunk edges."""

from __future__ import annotations

import pytest
import torch

from agents.mcsd import MCSDMixer, log_rates, mcsd_apply, state_width

torch.set_num_threads(1)
D, C = 16, 4


def _setup(t: int, b: int = 2, seed: int = 0, nonzero: bool = False):
    torch.manual_seed(seed)
    p = {n: w.unsqueeze(0) for n, w in MCSDMixer(D, C).named_parameters()}
    x = torch.randn(1, b, t, D)
    s = torch.zeros(1, b, state_width(D, C))
    if nonzero:  # a plausible state: sums and a positive count
        s = torch.randn(1, b, state_width(D, C))
        s[..., 2 * D :] = torch.rand(1, b, C) * 5 + 1
    return p, x, s


def test_rates_match_design() -> None:
    lg, la = log_rates(4)
    assert torch.allclose(lg, -torch.tensor([2**-2, 2**-4, 2**-6, 2**-8], dtype=torch.float64))
    assert torch.allclose(la.exp(), 1 - torch.tensor([2**-5, 2**-6, 2**-7, 2**-8]).double())


@pytest.mark.parametrize("t", [1, 7, 8, 9, 33, 100])
@pytest.mark.parametrize("nonzero", [False, True])
def test_forms_agree(t: int, nonzero: bool) -> None:
    p, x, s = _setup(t, nonzero=nonzero)
    y_r, s_r = mcsd_apply(p, x, s, "recurrent", C, 8)
    for mode in ("chunked", "parallel"):
        y, s_new = mcsd_apply(p, x, s, mode, C, 8)
        assert (y - y_r).abs().max() <= 1e-5
        assert ((s_new - s_r).abs() / (s_r.abs() + 1)).max() <= 1e-5


def test_forms_agree_at_4096() -> None:
    p, x, s = _setup(4096, b=1, nonzero=True)
    with torch.no_grad():
        y_r, s_r = mcsd_apply(p, x, s, "recurrent", C, 32)
        y_c, s_c = mcsd_apply(p, x, s, "chunked", C, 32)
        y_p, _ = mcsd_apply(p, x, s, "parallel", C, 32)
    assert (y_c - y_r).abs().max() <= 1e-5
    assert (y_p - y_r).abs().max() <= 1e-5
    assert ((s_c - s_r).abs() / (s_r.abs() + 1)).max() <= 1e-4


def test_first_token_sees_nothing() -> None:
    """Strictly past: with a zero state the first output ignores the first token's v and e."""
    p, x, s = _setup(3)
    y1, _ = mcsd_apply(p, x, s, "chunked", C, 8)
    x2 = x.clone()
    x2[:, :, 0] += 1.0
    y2, _ = mcsd_apply(p, x2, s, "chunked", C, 8)
    # u changes with the token itself but V' = E' = 0, so theta = 0 at t = 0 either way
    assert torch.equal(y1[:, :, 0], torch.zeros_like(y1[:, :, 0]))
    assert torch.equal(y2[:, :, 0], torch.zeros_like(y2[:, :, 0]))
    assert not torch.allclose(y1[:, :, 1], y2[:, :, 1])


def test_chunked_continues_from_state() -> None:
    """Two chunked calls chained through the state equal one call over the whole sequence."""
    p, x, s = _setup(50, nonzero=True)
    y, s_end = mcsd_apply(p, x, s, "chunked", C, 8)
    y_a, s_mid = mcsd_apply(p, x[:, :, :21], s, "chunked", C, 8)
    y_b, s_end2 = mcsd_apply(p, x[:, :, 21:], s_mid, "chunked", C, 8)
    assert (torch.cat([y_a, y_b], 2) - y).abs().max() <= 1e-5
    assert ((s_end2 - s_end).abs() / (s_end.abs() + 1)).max() <= 1e-5


def test_gradients_agree() -> None:
    p, x, s = _setup(40, nonzero=True)
    grads = {}
    for mode in ("chunked", "parallel"):
        leaves = {n: w.detach().requires_grad_(True) for n, w in p.items()}
        xx = x.clone().requires_grad_(True)
        y, _ = mcsd_apply(leaves, xx, s, mode, C, 8)
        (y * torch.linspace(-1, 1, D)).sum().backward()
        grads[mode] = [xx.grad] + [leaves[n].grad for n in sorted(leaves)]
    for a, b in zip(grads["chunked"], grads["parallel"], strict=True):
        assert (a - b).abs().max() <= 1e-4 * (1 + b.abs().max())


def test_bad_mode() -> None:
    p, x, s = _setup(3)
    with pytest.raises(ValueError, match="mode must be"):
        mcsd_apply(p, x, s, "fast", C, 8)

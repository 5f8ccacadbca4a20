"""One recurrent decode step of P stacked Yan models: the fast path behind `YanModel.step` and
`BrainBank.act`.

Same function as `yan_apply(..., mode="recurrent")` on one token (tests check they agree), but
written for T = 1: batched matmuls instead of general einsums, the channel rates computed once
per (C, dtype) and cached, no time axis, no stacking. Decoding is dominated by per-op overhead
at these sizes, so fewer and cheaper ops is what makes a step cost the same at any position.
For the bank's one-row products with an 8-wide side (channels, groups, width-1 heads), a
broadcast multiply-and-sum replaces batched GEMM, and the k selected groups' output rows are
gathered as one (k·Hg, D) matrix per stream so one product also sums the gated groups.

Shapes: x (P, B, input_dim), state (P, B, L, 2D + C) packed per layer as [A (D) | Ē (D) | Z (C)]
(see `agents.mcsd`); weights are the stacked named tensors of `agents.yan` (leading axis P).
"""

from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import Tensor

from agents.config import YanConfig
from agents.mcsd import log_rates
from agents.selective import selective_apply

__all__ = ["yan_step"]

_EPS = 1e-6
_ONE = torch.ones(())  # read-only constant: Z + 1 without wrapping a Python scalar each step
_SMALL = 16  # below this inner or outer width, one-row bmm batches lose to multiply-and-sum
_MANY = 32  # ... when there are at least this many matrices (few: one GEMM call is cheaper)


@lru_cache(maxsize=32)
def _rates(n_channels: int, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """γ_c and α_c as (C, 1) tensors, computed once per (C, dtype); never modified in place."""
    lg, la = log_rates(n_channels)
    return torch.exp(lg).to(dtype)[:, None], torch.exp(la).to(dtype)[:, None]


def _rms(x: Tensor, w: Tensor) -> Tensor:
    """RMSNorm over the last axis. x (P, B, D), w (P, D)."""
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + _EPS) * w.unsqueeze(1)


def _matvec(x: Tensor, w: Tensor) -> Tensor:
    """x (N, B, I) @ w (N, I, O) -> (N, B, O).

    With many matrices of one row each and a narrow side (I or O below 16, e.g. the bank's
    8-wide channels and groups), batched GEMM spends its time on per-matrix setup; a
    broadcast multiply and a sum over I is one pass over w and several times faster there."""
    if _narrow(x, w):
        return (x.transpose(1, 2) * w).sum(1, keepdim=True)
    return torch.bmm(x, w)


def _narrow(x: Tensor, w: Tensor) -> bool:
    return x.shape[1] == 1 and w.shape[0] >= _MANY and min(w.shape[1], w.shape[2]) < _SMALL


def _lin(p: dict[str, Tensor], name: str, x: Tensor) -> Tensor:
    """x (P, B, I) @ weight (P, I, O) + bias (P, O)."""
    w, bias = p[name + ".weight"], p[name + ".bias"]
    if _narrow(x, w):
        return _matvec(x, w) + bias.unsqueeze(1)
    return torch.baddbmm(bias.unsqueeze(1), x, w)


def _mixer(p: dict[str, Tensor], pre: str, x: Tensor, s: Tensor, c: int) -> tuple[Tensor, Tensor]:
    """MCSD on one token. x (P, B, D), s (P, B, 2D+C) -> y (P, B, D), new state.

    V' = γA / γZ is A / Z (0 while nothing is past: then A = 0 too), so the division uses the
    old sums and skips a select."""
    pp, b, d = x.shape
    dc = d // c
    w = p[pre + "w_uvef"].view(pp * c, dc, 4 * dc)  # block-diagonal: one matmul per channel
    xc = x.view(pp, b, c, dc).transpose(1, 2).reshape(pp * c, b, dc)
    proj = _matvec(xc, w).view(pp, c, b, 4, dc).transpose(1, 2)
    u, v, e, f = proj.unbind(3)  # (P, B, C, Dc) each
    g, al = _rates(c, x.dtype)
    a_old = s[..., :d].view(pp, b, c, dc)
    z_old = s[..., 2 * d :].unsqueeze(-1)  # (P, B, C, 1)
    e_sum = al * s[..., d : 2 * d].view(pp, b, c, dc)
    e_n = e_sum * torch.rsqrt(e_sum.pow(2).mean(-1, keepdim=True) + _EPS)
    e_n = e_n * p[pre + "e_norm"].view(pp, 1, c, dc)
    theta = torch.addcmul(u * F.silu(a_old / z_old.clamp_min(1e-30)), torch.sigmoid(f), e_n)
    new = torch.cat(
        [
            torch.addcmul(v, g, a_old).reshape(pp, b, d),
            (e_sum + e).reshape(pp, b, d),
            torch.addcmul(_ONE, g, z_old).view(pp, b, c),
        ],
        -1,
    )
    return torch.bmm(theta.reshape(pp, b, d), p[pre + "w_o"]), new


def _ffn(p: dict[str, Tensor], pre: str, x: Tensor, k: int) -> Tensor:
    """Selective GeGLU on one token, reading only the k selected groups. x (P, B, D).

    The gates scale each group's hidden units, so the k groups' output rows, gathered as one
    (k·Hg, D) matrix per stream, give the gated sum in a single product."""
    pp, b, d = x.shape
    w_in, w_out = p[pre + "w_in"], p[pre + "w_out"]  # (P, G, D, 2Hg), (P, G, Hg, D)
    g, two_hg = w_in.shape[1], w_in.shape[-1]
    if b * k > g:  # many streams on one weight set: all groups once beats gathering per stream
        sub = {n: p[pre + n] for n in ("w_sel", "w_in", "w_out", "usage_bias")}
        return selective_apply(sub, x[:, :, None], k, path="dense")[0][:, :, 0]
    logits = _matvec(x, p[pre + "w_sel"])  # (P, B, G)
    idx = torch.topk(logits + p[pre + "usage_bias"].unsqueeze(1), k, dim=-1).indices
    gates = torch.sigmoid(torch.gather(logits, -1, idx))  # (P, B, k)
    rows = (idx + _offsets(pp, g)).view(-1)  # selected groups as rows of (P·G, ...)
    w_in = w_in.view(pp * g, d, two_hg).index_select(0, rows)  # (P·B·k, D, 2Hg), contiguous
    w_out = w_out.view(pp * g, -1, d).index_select(0, rows)  # (P·B·k, Hg, D)
    xs = x.unsqueeze(2).expand(pp, b, k, d).reshape(-1, 1, d)
    a, lin = _matvec(xs, w_in).chunk(2, dim=-1)  # (P·B·k, 1, Hg) each
    hid = F.gelu(a) * lin * gates.view(-1, 1, 1)
    y = _matvec(hid.view(pp * b, 1, -1), w_out.view(pp * b, -1, d))  # sums the k groups
    return y.view(pp, b, d)


@lru_cache(maxsize=64)
def _offsets(pp: int, g: int) -> Tensor:
    """(P, 1, 1) row offsets p·G of each weight set's groups; never modified in place."""
    return (torch.arange(pp) * g).reshape(pp, 1, 1)


def yan_step(
    p: dict[str, Tensor], cfg: YanConfig, x: Tensor, state: Tensor
) -> tuple[dict[str, Tensor], Tensor]:
    """One token for P stacked models (no exploration noise: acting, not training).

    x (P, B, input_dim), state (P, B, L, 2D+C) -> ({head: (P, B, width), "next": (P, B,
    input_dim)}, new state (P, B, L, 2D+C)).
    """
    h = _lin(p, "embed", x)
    states = []
    for i in range(cfg.n_layers):
        pre = f"layers.{i}."
        mixed, s = _mixer(
            p, pre + "mixer.", _rms(h, p[pre + "norm1.weight"]), state[:, :, i], cfg.n_channels
        )
        states.append(s)
        h = h + mixed
        h = h + _ffn(p, pre + "ffn.", _rms(h, p[pre + "norm2.weight"]), cfg.ffn_active)
    h = _rms(h, p["norm_f.weight"])
    out = {name: _lin(p, f"heads.{name}", h) for name in cfg.heads}
    out["next"] = _lin(p, "next_head", h)
    return out, torch.stack(states, 2)

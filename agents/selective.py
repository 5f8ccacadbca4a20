"""Selective activation (DESIGN §5): a GeGLU FFN whose hidden width is split into G neuron
groups, of which only the top-k picked by a small learned selector fire for a token.

Selection score = selector logit + usage-balancing bias (+ exploration noise while training);
the bias and noise only decide *which* groups fire, the gate of a fired group is
sigmoid(selector logit), so the selector learns from the groups it picked. Weights are stored
group-major, w_in (G, D, 2·Hg) and w_out (G, Hg, D), so decoding gathers the k selected groups
as contiguous slices. Unselected groups get exactly zero gradient (their gate is a hard 0), so
an online step touches few parameters and the delta is sparse by group.

As in `agents.mcsd`, every tensor carries a leading weight-set axis P; x is (P, B, T, D).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["SelectiveGeGLU", "balance_step", "selective_apply"]


def _select(
    p: dict[str, Tensor],
    logits: Tensor,
    k: int,
    noise_std: Tensor | None,
    gen: torch.Generator | None,
) -> tuple[Tensor, Tensor]:
    """Pick k groups per token from selector logits (P, B, T, G). Returns indices and gates,
    each (P, B, T, k)."""
    score = logits.detach() + p["usage_bias"][:, None, None, :]
    if noise_std is not None:
        noise = torch.randn(score.shape, generator=gen, dtype=score.dtype)
        score = score + noise_std.to(score.dtype)[:, None, None, None] * noise
    idx = torch.topk(score, k, dim=-1).indices
    return idx, torch.sigmoid(torch.gather(logits, -1, idx))


def _dense_in(p: dict[str, Tensor], x: Tensor) -> tuple[Tensor, Tensor]:
    """Selector logits (P, B, T, G) and every group's input projection (P, B·T, G, 2Hg) from
    one batched matmul: the selector's columns ride along with the groups' (one weight copy
    into (P, D, G + G·2Hg) instead of two small products)."""
    pp, b, t, d = x.shape
    g = p["w_sel"].shape[-1]
    w = torch.cat([p["w_sel"], p["w_in"].permute(0, 2, 1, 3).reshape(pp, d, -1)], -1)
    h = torch.bmm(x.reshape(pp, b * t, d), w)  # (P, B·T, G + G·2Hg)
    logits, h = torch.split(h, [g, h.shape[-1] - g], -1)  # backward: one concatenation
    return logits.reshape(pp, b, t, g), h.reshape(pp, b * t, g, -1)


def _dense(p: dict[str, Tensor], h: Tensor, idx: Tensor, gates: Tensor) -> Tensor:
    """Training path: every group's input projection h (P, B·T, G, 2Hg) comes from one
    matmul, but only the k selected groups are activated (GELU on a quarter of the hidden
    units at k/G = 2/8); their gated outputs are scattered into a zero (P, B·T, G·Hg) hidden
    vector for one output matmul. Unselected groups get exactly zero gradient: their hidden
    entries are constant zeros, and the gather passes no gradient to their projections."""
    pp, n, g, two_hg = h.shape
    k, hg = idx.shape[-1], two_hg // 2
    sel = idx.reshape(pp, n, k)
    picked = torch.gather(h, 2, sel[..., None].expand(pp, n, k, two_hg))  # (P, B·T, k, 2Hg)
    a, lin = picked.chunk(2, dim=-1)
    act = F.gelu(a) * (lin * gates.reshape(pp, n, k, 1))  # (P, B·T, k, Hg)
    full = torch.zeros(pp, n, g, hg, dtype=h.dtype).scatter(2, sel[..., None].expand_as(act), act)
    y = torch.bmm(full.reshape(pp, n, g * hg), p["w_out"].reshape(pp, g * hg, -1))
    return y.reshape(*idx.shape[:-1], -1)


def _gathered(p: dict[str, Tensor], x: Tensor, idx: Tensor, gates: Tensor) -> Tensor:
    """Only the k selected groups' weight slices are read (decode path)."""
    pi = torch.arange(x.shape[0])[:, None, None, None]
    w_in = p["w_in"][pi, idx]  # (P, B, T, k, D, 2Hg)
    w_out = p["w_out"][pi, idx]  # (P, B, T, k, Hg, D)
    h = torch.einsum("pbtd,pbtkdj->pbtkj", x, w_in)
    a, b = h.chunk(2, dim=-1)
    return torch.einsum("pbtkh,pbtk,pbtkhd->pbtd", F.gelu(a) * b, gates, w_out)


def selective_apply(
    p: dict[str, Tensor],
    x: Tensor,
    k: int,
    noise_std: Tensor | None = None,
    gen: torch.Generator | None = None,
    path: str = "auto",
) -> tuple[Tensor, Tensor]:
    """Selective GeGLU for P weight sets. x (P, B, T, D) -> y (P, B, T, D), load (P, G).

    `load` is the fraction of (token, slot) picks that went to each group. `path` is "gather"
    (read k groups per token), "dense" (one matmul for all groups' inputs, only the selected
    ones activated) or "auto": gather when the gathered
    slices are no bigger than the whole weight (decode of few tokens), else dense.
    """
    pp, b, t, _ = x.shape
    g = p["w_in"].shape[1]
    if path == "auto":
        path = "gather" if b * t * k <= g else "dense"
    if path == "gather":
        logits = torch.einsum("pbtd,pdg->pbtg", x, p["w_sel"])
        idx, gates = _select(p, logits, k, noise_std, gen)
        y = _gathered(p, x, idx, gates)
    elif path == "dense":
        logits, h = _dense_in(p, x)
        idx, gates = _select(p, logits, k, noise_std, gen)
        y = _dense(p, h, idx, gates)
    else:
        raise ValueError(f"path must be 'auto', 'gather' or 'dense', got {path!r}")
    counts = torch.zeros(pp, g, dtype=x.dtype).scatter_add_(
        1, idx.reshape(pp, -1), torch.ones(pp, b * t * k, dtype=x.dtype)
    )
    return y, counts / max(b * t * k, 1)


@torch.no_grad()
def balance_step(usage_bias: Tensor, load: Tensor, rate: float) -> None:
    """Nudge the bias of over-used groups down and under-used ones up, in place.

    usage_bias, load (P, G). Sign update (bias-only balancing, no auxiliary loss): a group
    used more than the mean 1/G loses `rate`, one used less gains it.
    """
    usage_bias += rate * torch.sign(1.0 / load.shape[-1] - load)


class SelectiveGeGLU(nn.Module):
    """Holds one selective FFN's weights (no weight-set axis); maths in `selective_apply`."""

    def __init__(self, d_model: int, hidden: int, groups: int) -> None:
        super().__init__()
        hg = hidden // groups
        self.w_sel = nn.Parameter(torch.randn(d_model, groups) / math.sqrt(d_model))
        self.w_in = nn.Parameter(torch.randn(groups, d_model, 2 * hg) / math.sqrt(d_model))
        self.w_out = nn.Parameter(torch.randn(groups, hg, d_model) / math.sqrt(hidden))
        self.register_buffer("usage_bias", torch.zeros(groups))

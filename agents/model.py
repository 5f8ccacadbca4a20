"""The Yan-style model, read top-down: MCSD mixer, selective FFN, the block and model, and the
fast one-token decode path beside them. Sizes come from `agents.config.YanConfig`.

    h_0 = x W_embed + b                                    x (B, T, input_dim)
    for each layer:  h ← h + MCSD(RMSNorm h)               mixes strictly past tokens
                     h ← h + SelectiveGeGLU(RMSNorm h)      k of G neuron groups fire per token
    out[head] = RMSNorm(h) W_head + b                      heads of `YanConfig.heads`, plus
    out["next"] = RMSNorm(h) W_next + b                    the next token's features (SSL loss)

**MCSD mixer.** Width D is split into C channels of width Dc. Per channel c, with fixed rates
β_c = 2^(−8(c+1)/C) (slope γ_c = exp(−β_c)) and decay α_c = 1 − 2^(−5−c):

    V'_t = Σ_{j<t} γ^{t−j} v_j / Σ_{j<t} γ^{t−j}      (0 when nothing is past yet)
    E'_t = Σ_{j<t} α^{t−j} e_j
    θ_t  = u_t ⊙ SiLU(V'_t) + sigmoid(f_t) ⊙ RMSNorm_c(E'_t)
    y_t  = W_O · concat_c θ_t

with u, v, e, f block-diagonal per channel. It has three forms giving the same function:
"recurrent" (token by token), "chunked" (one matmul per chunk of `chunk_size` tokens, for
training and long prompts) and "parallel" (one T×T Toeplitz block, reference only). The
recurrent state per layer is one vector of 2D + C numbers, [A (D) | Ē (D) | Z (C)]: the decayed
sums of v and e up to and including the last token, and the decayed count; so a model's state
is (B, n_layers, 2D + C) whatever the sequence length. Powers of a rate are only ever formed as
exp(log(rate) × n) with n ≥ 0, never as g^(−j), so nothing overflows at long T.

**Selective FFN.** A GeGLU whose hidden width H is split into G groups, of which only the top-k
picked by a small learned selector fire. Selection score = selector logit + usage-balancing
bias (+ exploration noise while training); the bias and noise only decide *which* groups fire,
the gate of a fired group is sigmoid(selector logit), so the selector learns from the groups it
picked. Weights are stored group-major, w_in (G, D, 2·Hg) and w_out (G, Hg, D), so decoding
gathers the k selected groups as contiguous slices. Unselected groups get exactly zero gradient
(their gate is a hard 0), so an online step touches few parameters.

**Batched brains.** Every function below takes typed weights whose tensors carry a leading
weight-set axis P, and activations (P, B, ...): the same code runs one model (P = 1, `YanModel`)
or K stacked brains (P = K, `agents.bank.BrainBank`) in one call. Stacked weights are stored
under `YanModel`'s state-dict names (the checkpoint layout); `YanWeights.from_named` turns them
into the typed tree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from functools import cache, lru_cache

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from agents.config import YanConfig
from agents.rng import Draws, normal

__all__ = [
    "MODES",
    "NEXT_HEAD",
    "FFNWeights",
    "LayerWeights",
    "Linear",
    "MCSDMixer",
    "MixerWeights",
    "SelectiveGeGLU",
    "YanModel",
    "YanWeights",
    "balance_step",
    "init_state",
    "log_rates",
    "mcsd_apply",
    "rms_norm",
    "selective_apply",
    "skip_selection_noise",
    "state_width",
    "yan_apply",
    "yan_step",
]

NEXT_HEAD = "next"
MODES = ("chunked", "parallel", "recurrent")
_EPS = 1e-6


# ------------------------------------------------------------------------------------------
# Typed weights (leading weight-set axis P on every tensor)
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Linear:
    """An affine map stored as (in, out): weight (P, I, O), bias (P, O)."""

    weight: Tensor
    bias: Tensor


@dataclass(frozen=True, eq=False)
class MixerWeights:
    """One MCSD mixer: w_uvef (P, C, Dc, 4, Dc) block-diagonal u|v|e|f projections, e_norm
    (P, D) the per-channel RMSNorm gain of E', w_o (P, D, D) the output projection."""

    w_uvef: Tensor
    e_norm: Tensor
    w_o: Tensor


@dataclass(frozen=True, eq=False)
class FFNWeights:
    """One selective GeGLU: selector w_sel (P, D, G), group inputs w_in (P, G, D, 2Hg), group
    outputs w_out (P, G, Hg, D), and the usage-balancing bias (P, G) (a buffer, not trained)."""

    w_sel: Tensor
    w_in: Tensor
    w_out: Tensor
    usage_bias: Tensor


@dataclass(frozen=True, eq=False)
class LayerWeights:
    """One block: RMSNorm gains norm1, norm2 (P, D) before the mixer and the FFN."""

    norm1: Tensor
    mixer: MixerWeights
    norm2: Tensor
    ffn: FFNWeights


@dataclass(frozen=True, eq=False)
class YanWeights:
    """A whole model: embed (input_dim -> D), the layers, the final norm gain (P, D), the
    supervised heads (D -> width, in `YanConfig.heads` order) and the next-token head."""

    embed: Linear
    layers: tuple[LayerWeights, ...]
    norm_f: Tensor
    heads: dict[str, Linear]
    next_head: Linear

    @classmethod
    def from_named(cls, named: Mapping[str, Tensor], cfg: YanConfig) -> YanWeights:
        """Stacked tensors under `YanModel`'s state-dict names ("layers.0.mixer.w_o", ...),
        each with a leading axis P, as the typed tree. Views, not copies: in-place updates of
        the named tensors show through."""

        def lin(pre: str) -> Linear:
            return Linear(named[f"{pre}.weight"], named[f"{pre}.bias"])

        def part(kind: type, pre: str):
            return kind(**{n: named[f"{pre}.{n}"] for n in _field_names(kind)})

        try:
            layers = tuple(
                LayerWeights(
                    named[f"layers.{i}.norm1.weight"],
                    part(MixerWeights, f"layers.{i}.mixer"),
                    named[f"layers.{i}.norm2.weight"],
                    part(FFNWeights, f"layers.{i}.ffn"),
                )
                for i in range(cfg.n_layers)
            )
            heads = {name: lin(f"heads.{name}") for name in cfg.heads}
            return cls(lin("embed"), layers, named["norm_f.weight"], heads, lin("next_head"))
        except KeyError as missing:
            raise ValueError(
                f"named weights lack {missing.args[0]!r}: pass the names of "
                "YanModel(cfg).state_dict() (each tensor with a leading weight-set axis)"
            ) from None


@cache
def _field_names(kind: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(kind))


# ------------------------------------------------------------------------------------------
# Shared pieces
# ------------------------------------------------------------------------------------------


def _unit_rms(x: Tensor) -> Tensor:
    """x scaled to unit root-mean-square over its last axis (0 stays 0)."""
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + _EPS)


def rms_norm(x: Tensor, weight: Tensor) -> Tensor:
    """RMSNorm over the last axis. x (P, ..., D), weight (P, D)."""
    return _unit_rms(x) * weight.reshape(weight.shape[0], *[1] * (x.dim() - 2), weight.shape[-1])


def log_rates(n_channels: int) -> tuple[Tensor, Tensor]:
    """log γ_c and log α_c, each (C,) float64 (exact, then cast by the caller)."""
    c = torch.arange(n_channels, dtype=torch.float64)
    log_gamma = -torch.exp2(-8.0 * (c + 1) / n_channels)
    log_alpha = torch.log1p(-torch.exp2(-5.0 - c))
    return log_gamma, log_alpha


def state_width(d_model: int, n_channels: int) -> int:
    """Numbers of recurrent state per layer: A (D) + Ē (D) + Z (C)."""
    return 2 * d_model + n_channels


def init_state(cfg: YanConfig, batch: int, weight_sets: int | None = None) -> Tensor:
    """Zero recurrent state: (batch, L, 2D + C), or (P, batch, L, 2D + C) with weight_sets=P."""
    shape = (batch, cfg.n_layers, state_width(cfg.d_model, cfg.n_channels))
    return torch.zeros(shape if weight_sets is None else (weight_sets, *shape))


# ------------------------------------------------------------------------------------------
# MCSD mixer: recurrent, chunked and parallel forms. x (P, B, T, D), state (P, B, 2D+C)
# ------------------------------------------------------------------------------------------


class _Relayout(torch.autograd.Function):
    """x.permute(order).contiguous() whose backward also returns a contiguous gradient.

    A plain permute's backward hands the next op a transposed view, and every elementwise
    backward op that then mixes it with contiguous saved tensors runs several times slower;
    one explicit copy here keeps the whole backward pass on contiguous tensors."""

    @staticmethod
    def forward(ctx, x: Tensor, order: tuple[int, ...]) -> Tensor:
        ctx.inverse = tuple(sorted(range(len(order)), key=order.__getitem__))
        return x.permute(order).contiguous()

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
        return grad.permute(ctx.inverse).contiguous(), None


def _relayout(x: Tensor, *order: int) -> Tensor:
    return _Relayout.apply(x, order)


def _project(w: MixerWeights, x: Tensor, c: int) -> Tensor:
    """Block-diagonal u, v, e, f projections in one batched matmul.

    x (P, B, T, D) -> (P, C, B, T, 4, Dc): one (B·T, Dc) @ (Dc, 4·Dc) product per (set,
    channel), so the four projections cost one op and their outputs share one tensor."""
    pp, b, t, d = x.shape
    xc = x.reshape(pp, b * t, c, d // c).transpose(1, 2)  # (P, C, B·T, Dc)
    wc = w.w_uvef.reshape(pp, c, d // c, 4 * (d // c))  # (P, C, Dc, 4·Dc)
    return torch.matmul(xc, wc).reshape(pp, c, b, t, 4, d // c)


def _recurrent(v: Tensor, e: Tensor, state: Tensor, lg: Tensor, la: Tensor) -> tuple:
    """Token-by-token scan. v, e (P, B, T, C, Dc); state (P, B, 2D+C); lg, la (C,) log rates.
    Returns V', E' (P, B, T, C, Dc) and the new state (P, B, 2D+C)."""
    pp, b, t, c, dc = v.shape
    d = c * dc
    a_sum, e_sum, z = state[..., :d], state[..., d : 2 * d], state[..., 2 * d :]
    a_sum, e_sum = a_sum.reshape(pp, b, c, dc), e_sum.reshape(pp, b, c, dc)
    gz = torch.exp(lg)  # (C,): decays the count
    g, al = gz[:, None], torch.exp(la)[:, None]  # (C, 1)
    vs, es = [], []
    for i in range(t):
        a_sum, z, e_sum = g * a_sum, gz * z, al * e_sum
        zc = z[..., None]
        vs.append(torch.where(zc > 0, a_sum / zc.clamp_min(1e-30), torch.zeros_like(a_sum)))
        es.append(e_sum)
        a_sum, z, e_sum = a_sum + v[:, :, i], z + 1.0, e_sum + e[:, :, i]
    new = torch.cat([a_sum.reshape(pp, b, -1), e_sum.reshape(pp, b, -1), z], -1)
    return torch.stack(vs, 2), torch.stack(es, 2), new


@lru_cache(maxsize=64)
def _block(n: int, c: int, dtype: torch.dtype) -> Tensor:
    """Decay matrix of one chunk of n tokens with its carried state, (2C, n+1, n+1), for the
    rates ordered (γ_0, ..., γ_{C−1}, α_0, ..., α_{C−1}). Column 0 is the carried sum,
    column s+1 token s.
    Row t < n gives the strictly-past sum at token t: r^(t+1) × state + Σ_{s<t} r^(t−s) x_s;
    row n gives the carried sum after the chunk: r^n × state + Σ_s r^(n−1−s) x_s. Exponents
    are non-negative integers times log r ≤ 0, so nothing overflows. Cached per (n, C, dtype);
    never modified in place."""
    lg, la = log_rates(c)
    rates = torch.cat([lg, la]).reshape(2 * c, 1, 1)
    t = torch.arange(n + 1, dtype=torch.float64)[:, None]
    s = torch.arange(n + 1, dtype=torch.float64)[None, :]
    power = torch.where(t < n, t + 1 - s, n - s)  # row n: inclusive of the last token
    live = (s <= t) | (t == n)
    return torch.where(live, torch.exp(rates * power.clamp_min(0)), 0.0).to(dtype)


@lru_cache(maxsize=64)
def _count_tables(t: int, c: int, dtype: torch.dtype) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Normaliser tables for T tokens, (C, T) and (C,): past_t = Σ_{j<t} γ^(t−j) (closed form
    γ(1−γ^t)/(1−γ), via expm1 of non-positive exponents), carry_t = γ^(t+1), and after the
    last token past_T = (1−γ^T)/(1−γ), carry_T = γ^T. Cached; never modified in place."""
    lg = log_rates(c)[0][:, None]  # (C, 1)
    idx = torch.arange(t, dtype=torch.float64)[None, :]
    past = torch.exp(lg) * torch.expm1(lg * idx) / torch.expm1(lg)
    last = (torch.expm1(lg * t) / torch.expm1(lg))[:, 0]
    out = (past, torch.exp(lg * (idx + 1)), last, torch.exp(lg * t)[:, 0])
    return tuple(x.to(dtype) for x in out)


def _scan(ve: Tensor, s0: Tensor, chunk: int) -> tuple[Tensor, Tensor]:
    """Strictly-past decayed sums of v (rate γ) and e (rate α), chunk by chunk.

    ve (2, C, T, N) with N = P·B·Dc columns, s0 (2, C, N) carried sums. Each chunk is one
    batched matmul of its `_block` with [carried sum; chunk tokens], which also yields the
    next carried sum. Returns the sums (2, C, T, N) and the carried sum after the last token.
    """
    _, c, _, cols = ve.shape
    outs, s = [], s0
    for part in torch.split(ve, chunk, 2):  # one split: its backward is one concatenation
        n = part.shape[2]
        rhs = torch.cat([s.unsqueeze(2), part], 2).reshape(2 * c, n + 1, cols)
        y = torch.bmm(_block(n, c, ve.dtype), rhs).reshape(2, c, n + 1, cols)
        out, s = torch.split(y, [n, 1], 2)  # one split: its backward is one concatenation
        outs.append(out)
        s = s.squeeze(2)
    return (outs[0] if len(outs) == 1 else torch.cat(outs, 2)), s


def _matrix_form(
    ve: Tensor, state: Tensor, shape: tuple[int, ...], chunk: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Chunked (or, with chunk ≥ T, parallel Toeplitz) form.

    ve (2, C, T, P, B, Dc): v and e with the token axis before every (set, stream, feature)
    column, so each chunk is one matmul; state (P, B, 2D+C); shape = (P, B, T, C, Dc).
    Returns V', E' (C, T, P, B, Dc) each and the new state (P, B, 2D+C)."""
    pp, b, t, c, dc = shape
    d = c * dc
    z0 = state[..., 2 * d :]  # (P, B, C)
    s0 = state[..., : 2 * d].reshape(pp, b, 2, c, dc).permute(2, 3, 0, 1, 4)
    sums, s_last = _scan(ve.reshape(2, c, t, -1), s0.reshape(2, c, -1), chunk)
    a_sum, e_sum = sums.reshape(2, c, t, pp, b, dc).unbind(0)
    past, carry, past_last, carry_last = _count_tables(t, c, state.dtype)
    z = past[:, :, None, None] + carry[:, :, None, None] * z0.permute(2, 0, 1)[:, None]
    inv = torch.where(z > 0, 1.0 / z.clamp_min(1e-30), 0.0)  # (C, T, P, B); V' = 0 if no past
    s_last = s_last.reshape(2, c, pp, b, dc).permute(2, 3, 0, 1, 4).reshape(pp, b, 2 * d)
    new = torch.cat([s_last, carry_last * z0 + past_last], -1)
    return a_sum * inv[..., None], e_sum, new


def mcsd_apply(
    w: MixerWeights, x: Tensor, state: Tensor, mode: str, n_channels: int, chunk: int
) -> tuple[Tensor, Tensor]:
    """One MCSD mixer for P weight sets. x (P, B, T, D), state (P, B, 2D+C) -> y (P, B, T, D),
    new state (P, B, 2D+C). `mode` is "recurrent", "chunked" (chunks of `chunk` tokens) or
    "parallel" (one Toeplitz block of T×T per channel: reference only).
    """
    pp, b, t, d = x.shape
    c, dc = n_channels, d // n_channels
    # one layout for everything after the projection: (u|v|e|f, C, T, P, B, Dc), so the scan
    # is one matmul per chunk and the elementwise tail runs on contiguous tensors
    proj = _relayout(_project(w, x, c), 4, 1, 3, 0, 2, 5)
    u, ve, f = torch.split(proj, [1, 2, 1])  # one split: its backward is one concatenation
    if mode == "recurrent":
        lg, la = (r.to(x.dtype) for r in log_rates(c))
        v, e = (z.permute(2, 3, 1, 0, 4) for z in ve.unbind(0))  # (P, B, T, C, Dc)
        v_avg, e_sum, new = _recurrent(v, e, state, lg, la)
        v_avg, e_sum = (z.permute(3, 2, 0, 1, 4) for z in (v_avg, e_sum))  # (C, T, P, B, Dc)
    elif mode in ("chunked", "parallel"):
        n = max(chunk, 1) if mode == "chunked" else max(t, 1)
        v_avg, e_sum, new = _matrix_form(ve, state, (pp, b, t, c, dc), n)
    else:
        raise ValueError(f"mode must be 'recurrent', 'chunked' or 'parallel', got {mode!r}")
    e_n = _unit_rms(e_sum) * w.e_norm.reshape(pp, c, dc).transpose(0, 1)[:, None, :, None]
    theta = torch.addcmul(u[0] * F.silu(v_avg), torch.sigmoid(f[0]), e_n)  # (C, T, P, B, Dc)
    theta = _relayout(theta, 2, 3, 1, 0, 4).reshape(pp, b * t, d)  # (P, B·T, D)
    return torch.bmm(theta, w.w_o).reshape(pp, b, t, d), new


# ------------------------------------------------------------------------------------------
# Selective GeGLU. x (P, B, T, D)
# ------------------------------------------------------------------------------------------


def _select(
    w: FFNWeights,
    logits: Tensor,
    k: int,
    noise_std: Tensor | None,
    gen: Draws,
) -> tuple[Tensor, Tensor]:
    """Pick k groups per token from selector logits (P, B, T, G). Returns indices and gates,
    each (P, B, T, k)."""
    score = logits.detach() + w.usage_bias[:, None, None, :]
    if noise_std is not None:
        noise = normal(tuple(score.shape), gen, score.dtype)  # per brain: agents.rng
        score = score + noise_std.to(score.dtype)[:, None, None, None] * noise
    idx = torch.topk(score, k, dim=-1).indices
    return idx, torch.sigmoid(torch.gather(logits, -1, idx))


def skip_selection_noise(cfg: YanConfig, pp: int, b: int, t: int, gen: Draws) -> None:
    """Advance `gen` past the selection noise that a training pass of `yan_apply` over
    (P, B, T) tokens draws (one (P, B, T, G) draw per layer, as `_select`), without running it:
    a pass skipped as useless leaves every later draw what it would have been."""
    for _ in range(cfg.n_layers):
        normal((pp, b, t, cfg.ffn_groups), gen)


def _dense_in(w: FFNWeights, x: Tensor) -> tuple[Tensor, Tensor]:
    """Selector logits (P, B, T, G) and every group's input projection (P, B·T, G, 2Hg) from
    one batched matmul: the selector's columns ride along with the groups' (one weight copy
    into (P, D, G + G·2Hg) instead of two small products)."""
    pp, b, t, d = x.shape
    g = w.w_sel.shape[-1]
    wide = torch.cat([w.w_sel, w.w_in.permute(0, 2, 1, 3).reshape(pp, d, -1)], -1)
    h = torch.bmm(x.reshape(pp, b * t, d), wide)  # (P, B·T, G + G·2Hg)
    logits, h = torch.split(h, [g, h.shape[-1] - g], -1)  # backward: one concatenation
    return logits.reshape(pp, b, t, g), h.reshape(pp, b * t, g, -1)


class _PickGroups(torch.autograd.Function):
    """torch.gather(h, 2, index) of whole groups, whose backward places the gradient rows
    with one `index_add_` on the flattened groups instead of gather's `scatter_add_`.

    h (P, N, G, 2Hg), index (P, N, k, 2Hg) (a group index broadcast over the last axis, each
    token's k groups distinct). The values are the same: every picked group receives exactly
    0 + its gradient row in either form, but scatter_add_ walks the index element by element
    and index_add_ copies rows, several times faster at the bank's sizes."""

    @staticmethod
    def forward(ctx, h: Tensor, index: Tensor) -> Tensor:
        pp, n, g, _ = h.shape
        ctx.shape = h.shape
        rows = index[..., 0] + (torch.arange(pp * n) * g).reshape(pp, n, 1)
        ctx.save_for_backward(rows.reshape(-1))
        return torch.gather(h, 2, index)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
        (rows,) = ctx.saved_tensors
        pp, n, g, two_hg = ctx.shape
        out = grad.new_zeros(pp * n * g, two_hg)
        out.index_add_(0, rows, grad.reshape(-1, two_hg))
        return out.view(ctx.shape), None


def _dense(w: FFNWeights, h: Tensor, idx: Tensor, gates: Tensor) -> Tensor:
    """Training path: every group's input projection h (P, B·T, G, 2Hg) comes from one
    matmul, but only the k selected groups are activated (GELU on a quarter of the hidden
    units at k/G = 2/8); their gated outputs are scattered into a zero (P, B·T, G·Hg) hidden
    vector for one output matmul. Unselected groups get exactly zero gradient: their hidden
    entries are constant zeros, and the gather passes no gradient to their projections."""
    pp, n, g, two_hg = h.shape
    k, hg = idx.shape[-1], two_hg // 2
    sel = idx.reshape(pp, n, k)
    picked = _PickGroups.apply(h, sel[..., None].expand(pp, n, k, two_hg))  # (P, B·T, k, 2Hg)
    a, lin = picked.chunk(2, dim=-1)
    act = F.gelu(a) * (lin * gates.reshape(pp, n, k, 1))  # (P, B·T, k, Hg)
    full = torch.zeros(pp, n, g, hg, dtype=h.dtype).scatter(2, sel[..., None].expand_as(act), act)
    y = torch.bmm(full.reshape(pp, n, g * hg), w.w_out.reshape(pp, g * hg, -1))
    return y.reshape(*idx.shape[:-1], -1)


def _gathered(w: FFNWeights, x: Tensor, idx: Tensor, gates: Tensor) -> Tensor:
    """Only the k selected groups' weight slices are read (decode of few tokens)."""
    pi = torch.arange(x.shape[0])[:, None, None, None]
    w_in = w.w_in[pi, idx]  # (P, B, T, k, D, 2Hg)
    w_out = w.w_out[pi, idx]  # (P, B, T, k, Hg, D)
    h = torch.einsum("pbtd,pbtkdj->pbtkj", x, w_in)
    a, b = h.chunk(2, dim=-1)
    return torch.einsum("pbtkh,pbtk,pbtkhd->pbtd", F.gelu(a) * b, gates, w_out)


def selective_apply(
    w: FFNWeights,
    x: Tensor,
    k: int,
    noise_std: Tensor | None = None,
    gen: Draws = None,
    path: str = "auto",
) -> tuple[Tensor, Tensor]:
    """Selective GeGLU for P weight sets. x (P, B, T, D) -> y (P, B, T, D), load (P, G).

    `load` is the fraction of (token, slot) picks that went to each group. `noise_std` (P,)
    adds exploration noise to the selection (training). `path` is "gather" (read k groups per
    token), "dense" (one matmul for all groups' inputs, only the selected ones activated) or
    "auto": gather when the gathered slices are no bigger than the whole weight (decode of few
    tokens), else dense.
    """
    pp, b, t, _ = x.shape
    g = w.w_in.shape[1]
    if path == "auto":
        path = "gather" if b * t * k <= g else "dense"
    if path == "gather":
        logits = torch.einsum("pbtd,pdg->pbtg", x, w.w_sel)
        idx, gates = _select(w, logits, k, noise_std, gen)
        y = _gathered(w, x, idx, gates)
    elif path == "dense":
        logits, h = _dense_in(w, x)
        idx, gates = _select(w, logits, k, noise_std, gen)
        y = _dense(w, h, idx, gates)
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


# ------------------------------------------------------------------------------------------
# The model: P stacked Yan models over a sequence
# ------------------------------------------------------------------------------------------


def _check_weights(w: object) -> None:
    if not isinstance(w, YanWeights):
        raise TypeError(
            f"weights must be YanWeights, got {type(w).__name__}; wrap stacked tensors named "
            "as in YanModel's state dict with YanWeights.from_named(named, cfg)"
        )


def _linear(lin: Linear, x: Tensor) -> Tensor:
    """x (P, B, T, I) @ weight (P, I, O) + bias (P, O)."""
    return torch.einsum("pbti,pio->pbto", x, lin.weight) + lin.bias[:, None, None, :]


def yan_apply(
    w: YanWeights,
    cfg: YanConfig,
    x: Tensor,
    state: Tensor,
    mode: str = "chunked",
    noise_std: Tensor | None = None,
    gen: Draws = None,
    ffn_path: str = "auto",
    next_head: bool = True,
) -> tuple[dict[str, Tensor], Tensor, list[Tensor]]:
    """Run P stacked models. x (P, B, T, input_dim), state (P, B, L, 2D+C).

    Returns outputs {head: (P, B, T, width)} including "next" (P, B, T, input_dim) unless
    `next_head` is False (a pass whose loss does not read it skips its product), the new state
    (P, B, L, 2D+C) and each layer's group load (P, G). `noise_std` (P,) turns on selection
    noise (training), drawn from `gen`.
    """
    _check_weights(w)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    h = _linear(w.embed, x)
    states, loads = [], []
    for i, layer in enumerate(w.layers):
        mixed, s = mcsd_apply(
            layer.mixer,
            rms_norm(h, layer.norm1),
            state[:, :, i],
            mode,
            cfg.n_channels,
            cfg.chunk_size,
        )
        states.append(s)
        h = h + mixed
        ffn_out, load = selective_apply(
            layer.ffn, rms_norm(h, layer.norm2), cfg.ffn_active, noise_std, gen, ffn_path
        )
        h = h + ffn_out
        loads.append(load)
    h = rms_norm(h, w.norm_f)
    out = {name: _linear(head, h) for name, head in w.heads.items()}
    if next_head:
        out[NEXT_HEAD] = _linear(w.next_head, h)
    return out, torch.stack(states, 2), loads


# ------------------------------------------------------------------------------------------
# Fast decode: one token for P stacked models (behind YanModel.step and BrainBank.act)
# ------------------------------------------------------------------------------------------
# The same function as `yan_apply(..., mode="recurrent")` on one token (tests check they
# agree), written for T = 1: batched matmuls instead of general einsums, the channel rates
# computed once per (C, dtype), no time axis, no stacking. Decoding is dominated by per-op
# overhead at these sizes, so fewer and cheaper ops is what makes a step cost the same at any
# position. For the bank's one-row products with an 8-wide side (channels, groups, width-1
# heads), a broadcast multiply-and-sum replaces batched GEMM, and the k selected groups'
# output rows are gathered as one (k·Hg, D) matrix per stream so one product also sums the
# gated groups. Shapes: x (P, B, input_dim), state (P, B, L, 2D + C).

_ONE = torch.ones(())  # read-only constant: Z + 1 without wrapping a Python scalar each step
_SMALL = 16  # below this inner or outer width, one-row bmm batches lose to multiply-and-sum


@lru_cache(maxsize=32)
def _rates(n_channels: int, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """γ_c and α_c as (C, 1) tensors, computed once per (C, dtype); never modified in place."""
    lg, la = log_rates(n_channels)
    return torch.exp(lg).to(dtype)[:, None], torch.exp(la).to(dtype)[:, None]


def _narrow(x: Tensor, w: Tensor) -> bool:
    # Shapes of one matrix only, never how many there are: a brain's numbers must not depend
    # on how many brains its bank (host) holds (host-count invariance, docs/architecture.md).
    return x.shape[1] == 1 and min(w.shape[1], w.shape[2]) < _SMALL


def _matvec(x: Tensor, w: Tensor) -> Tensor:
    """x (N, B, I) @ w (N, I, O) -> (N, B, O).

    With many matrices of one row each and a narrow side (I or O below 16, e.g. the bank's
    8-wide channels and groups), batched GEMM spends its time on per-matrix setup; a
    broadcast multiply and a sum over I is one pass over w and several times faster there."""
    if _narrow(x, w):
        return (x.transpose(1, 2) * w).sum(1, keepdim=True)
    return torch.bmm(x, w)


def _linear_step(lin: Linear, x: Tensor) -> Tensor:
    """x (P, B, I) @ weight (P, I, O) + bias (P, O)."""
    if _narrow(x, lin.weight):
        return _matvec(x, lin.weight) + lin.bias.unsqueeze(1)
    return torch.baddbmm(lin.bias.unsqueeze(1), x, lin.weight)


def _mixer_step(w: MixerWeights, x: Tensor, s: Tensor, c: int) -> tuple[Tensor, Tensor]:
    """MCSD on one token. x (P, B, D), s (P, B, 2D+C) -> y (P, B, D), new state.

    V' = γA / γZ is A / Z (0 while nothing is past: then A = 0 too), so the division uses the
    old sums and skips a select."""
    pp, b, d = x.shape
    dc = d // c
    wc = w.w_uvef.view(pp * c, dc, 4 * dc)  # block-diagonal: one matmul per channel
    xc = x.view(pp, b, c, dc).transpose(1, 2).reshape(pp * c, b, dc)
    proj = _matvec(xc, wc).view(pp, c, b, 4, dc).transpose(1, 2)
    u, v, e, f = proj.unbind(3)  # (P, B, C, Dc) each
    g, al = _rates(c, x.dtype)
    a_old = s[..., :d].view(pp, b, c, dc)
    z_old = s[..., 2 * d :].unsqueeze(-1)  # (P, B, C, 1)
    e_sum = al * s[..., d : 2 * d].view(pp, b, c, dc)
    e_n = _unit_rms(e_sum) * w.e_norm.view(pp, 1, c, dc)
    theta = torch.addcmul(u * F.silu(a_old / z_old.clamp_min(1e-30)), torch.sigmoid(f), e_n)
    new = torch.cat(
        [
            torch.addcmul(v, g, a_old).reshape(pp, b, d),
            (e_sum + e).reshape(pp, b, d),
            torch.addcmul(_ONE, g, z_old).view(pp, b, c),
        ],
        -1,
    )
    return torch.bmm(theta.reshape(pp, b, d), w.w_o), new


@lru_cache(maxsize=64)
def _offsets(pp: int, g: int) -> Tensor:
    """(P, 1, 1) row offsets p·G of each weight set's groups; never modified in place."""
    return (torch.arange(pp) * g).reshape(pp, 1, 1)


def _ffn_step(w: FFNWeights, x: Tensor, k: int) -> Tensor:
    """Selective GeGLU on one token, reading only the k selected groups. x (P, B, D).

    The gates scale each group's hidden units, so the k groups' output rows, gathered as one
    (k·Hg, D) matrix per stream, give the gated sum in a single product."""
    pp, b, d = x.shape
    g, two_hg = w.w_in.shape[1], w.w_in.shape[-1]
    if b * k > g:  # many streams on one weight set: all groups once beats gathering per stream
        return selective_apply(w, x[:, :, None], k, path="dense")[0][:, :, 0]
    logits = _matvec(x, w.w_sel)  # (P, B, G)
    idx = torch.topk(logits + w.usage_bias.unsqueeze(1), k, dim=-1).indices
    gates = torch.sigmoid(torch.gather(logits, -1, idx))  # (P, B, k)
    rows = (idx + _offsets(pp, g)).view(-1)  # selected groups as rows of (P·G, ...)
    w_in = w.w_in.view(pp * g, d, two_hg).index_select(0, rows)  # (P·B·k, D, 2Hg), contiguous
    w_out = w.w_out.view(pp * g, -1, d).index_select(0, rows)  # (P·B·k, Hg, D)
    xs = x.unsqueeze(2).expand(pp, b, k, d).reshape(-1, 1, d)
    a, lin = _matvec(xs, w_in).chunk(2, dim=-1)  # (P·B·k, 1, Hg) each
    hid = F.gelu(a) * lin * gates.view(-1, 1, 1)
    y = _matvec(hid.view(pp * b, 1, -1), w_out.view(pp * b, -1, d))  # sums the k groups
    return y.view(pp, b, d)


def yan_step(
    w: YanWeights, cfg: YanConfig, x: Tensor, state: Tensor
) -> tuple[dict[str, Tensor], Tensor]:
    """One token for P stacked models (no exploration noise: acting, not training).

    x (P, B, input_dim), state (P, B, L, 2D+C) -> ({head: (P, B, width), "next": (P, B,
    input_dim)}, new state (P, B, L, 2D+C)).
    """
    _check_weights(w)
    h = _linear_step(w.embed, x)
    states = []
    for i, layer in enumerate(w.layers):
        mixed, s = _mixer_step(
            layer.mixer, rms_norm(h, layer.norm1), state[:, :, i], cfg.n_channels
        )
        states.append(s)
        h = h + mixed
        h = h + _ffn_step(layer.ffn, rms_norm(h, layer.norm2), cfg.ffn_active)
    h = rms_norm(h, w.norm_f)
    out = {name: _linear_step(head, h) for name, head in w.heads.items()}
    out[NEXT_HEAD] = _linear_step(w.next_head, h)
    return out, torch.stack(states, 2)


# ------------------------------------------------------------------------------------------
# Modules: where the weights live and how they start (no weight-set axis here)
# ------------------------------------------------------------------------------------------


class MCSDMixer(nn.Module):
    """One mixer's weights, shaped as `MixerWeights` without the P axis."""

    def __init__(self, d_model: int, n_channels: int) -> None:
        super().__init__()
        dc = d_model // n_channels
        self.w_uvef = nn.Parameter(torch.randn(n_channels, dc, 4, dc) / math.sqrt(dc))
        self.e_norm = nn.Parameter(torch.ones(d_model))
        self.w_o = nn.Parameter(torch.randn(d_model, d_model) / math.sqrt(d_model))


class SelectiveGeGLU(nn.Module):
    """One selective FFN's weights, shaped as `FFNWeights` without the P axis."""

    def __init__(self, d_model: int, hidden: int, groups: int) -> None:
        super().__init__()
        hg = hidden // groups
        self.w_sel = nn.Parameter(torch.randn(d_model, groups) / math.sqrt(d_model))
        self.w_in = nn.Parameter(torch.randn(groups, d_model, 2 * hg) / math.sqrt(d_model))
        self.w_out = nn.Parameter(torch.randn(groups, hg, d_model) / math.sqrt(hidden))
        self.register_buffer("usage_bias", torch.zeros(groups))


class _Norm(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))


class _Linear(nn.Module):
    """Stores weight as (in, out), the layout `Linear` contracts over."""

    def __init__(self, n_in: int, n_out: int, scale: float = 1.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_in, n_out) * scale / math.sqrt(n_in))
        self.bias = nn.Parameter(torch.zeros(n_out))


class _Layer(nn.Module):
    def __init__(self, cfg: YanConfig) -> None:
        super().__init__()
        d = cfg.d_model
        self.norm1 = _Norm(d)
        self.mixer = MCSDMixer(d, cfg.n_channels)
        self.norm2 = _Norm(d)
        self.ffn = SelectiveGeGLU(d, cfg.ffn_mult * d, cfg.ffn_groups)


class YanModel(nn.Module):
    """One Yan-style brain. Shapes: x (B, T, input_dim); state (B, n_layers, 2D + C).

    Its state-dict names ("embed.weight", "layers.0.mixer.w_uvef", ...) are the checkpoint
    layout that `YanWeights.from_named` reads."""

    def __init__(self, cfg: YanConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = _Linear(cfg.input_dim, cfg.d_model)
        self.layers = nn.ModuleList(_Layer(cfg) for _ in range(cfg.n_layers))
        self.norm_f = _Norm(cfg.d_model)
        self.heads = nn.ModuleDict({n: _Linear(cfg.d_model, w, 0.1) for n, w in cfg.heads.items()})
        self.next_head = _Linear(cfg.d_model, cfg.input_dim, 0.1)
        self._views: YanWeights | None = None

    def _apply(self, fn, recurse=True):  # .to(), .double(), ...: tensors may be replaced
        self._views = None
        return super()._apply(fn, recurse)

    def weights(self) -> YanWeights:
        """The weights as a P = 1 typed tree that gradients flow through."""
        named = self.state_dict(keep_vars=True).items()
        return YanWeights.from_named({n: t.unsqueeze(0) for n, t in named}, self.cfg)

    def _decode_views(self) -> YanWeights:
        """Weights as detached P = 1 views, built once: views share storage, so in-place
        updates (optimiser steps, load_state_dict) show through without rebuilding."""
        if self._views is None:
            named = self.state_dict(keep_vars=True).items()
            detached = {n: t.detach().unsqueeze(0) for n, t in named}
            self._views = YanWeights.from_named(detached, self.cfg)
        return self._views

    def init_state(self, batch_size: int) -> Tensor:
        """Zero state (batch_size, n_layers, 2D + C): the model before any token."""
        return init_state(self.cfg, batch_size)

    def forward(
        self, x: Tensor, state: Tensor | None = None, mode: str = "chunked", explore: float = 0.0
    ) -> tuple[dict[str, Tensor], Tensor]:
        """x (B, T, input_dim) -> ({head: (B, T, width), "next": (B, T, input_dim)}, state).

        `mode`: "chunked" (training and long prompts), "parallel" (O(T²) reference) or
        "recurrent"; all three give the same function. `explore` > 0 adds selection noise of
        that std (training only).
        """
        if x.dim() != 3 or x.shape[-1] != self.cfg.input_dim:
            raise ValueError(
                f"x must be (B, T, {self.cfg.input_dim}), got {tuple(x.shape)}; "
                "check YanConfig.input_dim against the scenario's token width"
            )
        if x.shape[1] == 0:
            raise ValueError("x has T = 0 tokens; pass at least one token per sequence")
        state = self.init_state(x.shape[0]) if state is None else state
        noise = torch.tensor([explore]) if explore > 0 else None
        out, new, _ = yan_apply(
            self.weights(), self.cfg, x.unsqueeze(0), state.unsqueeze(0), mode, noise
        )
        return {k: v[0] for k, v in out.items()}, new[0]

    @torch.no_grad()
    def step(self, x_t: Tensor, state: Tensor) -> tuple[dict[str, Tensor], Tensor]:
        """One recurrent decode step (no gradient: train with `forward`).

        x_t (B, input_dim), state (B, n_layers, 2D + C) -> ({head: (B, width)}, new state).
        Same function as `forward(x_t[:, None], state, "recurrent")`, via the fast `yan_step`.
        """
        if x_t.dim() != 2 or x_t.shape[-1] != self.cfg.input_dim:
            raise ValueError(
                f"x_t must be (B, {self.cfg.input_dim}), got {tuple(x_t.shape)}; "
                "step takes one token per sequence"
            )
        out, new = yan_step(self._decode_views(), self.cfg, x_t[None], state[None])
        return {k: v[0] for k, v in out.items()}, new[0]

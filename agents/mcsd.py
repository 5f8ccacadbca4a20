"""The MCSD mixer (DESIGN §5): slope and decay over strictly past tokens, in three forms.

Width D is split into C channels of width Dc. Per channel c, with fixed rates
β_c = 2^(−8(c+1)/C) (slope γ_c = exp(−β_c)) and decay α_c = 1 − 2^(−5−c):

    V'_t = Σ_{j<t} γ^{t−j} v_j / Σ_{j<t} γ^{t−j}      (0 when nothing is past yet)
    E'_t = Σ_{j<t} α^{t−j} e_j
    θ_t  = u_t ⊙ SiLU(V'_t) + sigmoid(f_t) ⊙ RMSNorm_c(E'_t)
    y_t  = W_O · concat_c θ_t

The recurrent state per layer is packed as one vector of 2D + C numbers: [A (D) | Ē (D) | Z (C)],
where A and Ē are the decayed sums of v and e up to and including the last token, and Z the
decayed count. All tensors carry a leading weight-set axis P (P = K brains, or 1), so one call
evaluates K independent mixers; x is (P, B, T, D). Powers of a rate are only ever formed as
exp(log(rate) × n) with n ≥ 0, never as g^(−j), so nothing overflows at long T.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["MCSDMixer", "log_rates", "mcsd_apply", "state_width"]

_EPS = 1e-6


def log_rates(n_channels: int) -> tuple[Tensor, Tensor]:
    """log γ_c and log α_c, each (C,) float64 (exact, then cast by the caller)."""
    c = torch.arange(n_channels, dtype=torch.float64)
    log_gamma = -torch.exp2(-8.0 * (c + 1) / n_channels)
    log_alpha = torch.log1p(-torch.exp2(-5.0 - c))
    return log_gamma, log_alpha


def state_width(d_model: int, n_channels: int) -> int:
    """Numbers of recurrent state per layer: A (D) + Ē (D) + Z (C)."""
    return 2 * d_model + n_channels


def _split_state(state: Tensor, d: int) -> tuple[Tensor, Tensor, Tensor]:
    """(..., 2D+C) -> A (..., D), Ē (..., D), Z (..., C)."""
    return state[..., :d], state[..., d : 2 * d], state[..., 2 * d :]


def _rms_norm_channels(x: Tensor, weight: Tensor, c: int) -> Tensor:
    """RMSNorm within each channel (its Dc features); 0 stays 0. x (P, B, T, D), weight (P, D)."""
    shp = x.shape
    xc = x.reshape(*shp[:-1], c, shp[-1] // c)
    xc = xc * torch.rsqrt(xc.pow(2).mean(-1, keepdim=True) + _EPS)
    return xc.reshape(shp) * weight[:, None, None, :]


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


def _project(p: dict[str, Tensor], x: Tensor, c: int) -> Tensor:
    """Block-diagonal u, v, e, f projections in one batched matmul.

    x (P, B, T, D) -> (P, C, B, T, 4, Dc): one (B·T, Dc) @ (Dc, 4·Dc) product per (set,
    channel), so the four projections cost one op and their outputs share one tensor."""
    pp, b, t, d = x.shape
    xc = x.reshape(pp, b * t, c, d // c).transpose(1, 2)  # (P, C, B·T, Dc)
    w = p["w_uvef"].reshape(pp, c, d // c, 4 * (d // c))  # (P, C, Dc, 4·Dc)
    return torch.matmul(xc, w).reshape(pp, c, b, t, 4, d // c)


def _recurrent(v: Tensor, e: Tensor, state: Tensor, lg: Tensor, la: Tensor) -> tuple:
    """Token-by-token scan. v, e (P, B, T, C, Dc); state (P, B, 2D+C). Returns V', E', state."""
    pp, b, t, c, dc = v.shape
    a_sum, e_sum, z = _split_state(state, c * dc)
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
    p: dict[str, Tensor], x: Tensor, state: Tensor, mode: str, n_channels: int, chunk: int
) -> tuple[Tensor, Tensor]:
    """One MCSD mixer for P weight sets. x (P, B, T, D), state (P, B, 2D+C) -> y, new state.

    `p` holds w_uvef (P, C, Dc, 4, Dc), e_norm (P, D), w_o (P, D, D). `mode` is "recurrent",
    "chunked" or "parallel" (one Toeplitz block of T×T per channel: reference only).
    """
    pp, b, t, d = x.shape
    c, dc = n_channels, d // n_channels
    # one layout for everything after the projection: (u|v|e|f, C, T, P, B, Dc), so the scan
    # is one matmul per chunk and the elementwise tail runs on contiguous tensors
    proj = _relayout(_project(p, x, c), 4, 1, 3, 0, 2, 5)
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
    e_n = e_sum * torch.rsqrt(e_sum.pow(2).mean(-1, keepdim=True) + _EPS)
    e_n = e_n * p["e_norm"].reshape(pp, c, dc).transpose(0, 1)[:, None, :, None]
    theta = torch.addcmul(u[0] * F.silu(v_avg), torch.sigmoid(f[0]), e_n)  # (C, T, P, B, Dc)
    theta = _relayout(theta, 2, 3, 1, 0, 4).reshape(pp, b * t, d)  # (P, B·T, D)
    return torch.bmm(theta, p["w_o"]).reshape(pp, b, t, d), new


class MCSDMixer(nn.Module):
    """Holds one mixer's weights (no weight-set axis); the maths lives in `mcsd_apply`."""

    def __init__(self, d_model: int, n_channels: int) -> None:
        super().__init__()
        dc = d_model // n_channels
        self.w_uvef = nn.Parameter(torch.randn(n_channels, dc, 4, dc) / math.sqrt(dc))
        self.e_norm = nn.Parameter(torch.ones(d_model))
        self.w_o = nn.Parameter(torch.randn(d_model, d_model) / math.sqrt(d_model))

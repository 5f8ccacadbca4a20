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


def _project(p: dict[str, Tensor], x: Tensor, c: int) -> Tensor:
    """Block-diagonal u, v, e, f projections. x (P, B, T, D) -> (4, P, B, T, C, Dc)."""
    pp, b, t, d = x.shape
    xc = x.reshape(pp, b, t, c, d // c)  # (P, B, T, C, Dc)
    w = p["w_uvef"]  # (P, C, Dc, 4, Dc)
    out = torch.einsum("pbtci,pcikj->kpbtcj", xc, w)
    return out


def _recurrent(v: Tensor, e: Tensor, state: Tensor, lg: Tensor, la: Tensor) -> tuple:
    """Token-by-token scan. v, e (P, B, T, C, Dc); state (P, B, 2D+C). Returns V', E', state."""
    pp, b, t, c, dc = v.shape
    a_sum, e_sum, z = _split_state(state, c * dc)
    a_sum, e_sum = a_sum.reshape(pp, b, c, dc), e_sum.reshape(pp, b, c, dc)
    g, al = torch.exp(lg)[:, None], torch.exp(la)[:, None]  # (C, 1)
    vs, es = [], []
    for i in range(t):
        a_sum, z, e_sum = g * a_sum, torch.exp(lg) * z, al * e_sum
        zc = z[..., None]
        vs.append(torch.where(zc > 0, a_sum / zc.clamp_min(1e-30), torch.zeros_like(a_sum)))
        es.append(e_sum)
        a_sum, z, e_sum = a_sum + v[:, :, i], z + 1.0, e_sum + e[:, :, i]
    new = torch.cat([a_sum.reshape(pp, b, -1), e_sum.reshape(pp, b, -1), z], -1)
    return torch.stack(vs, 2), torch.stack(es, 2), new


def _decay_tables(log_rate: Tensor, n: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """For one chunk of n tokens and rates (C,): intra (C, n, n) with r^(t−s) for s < t,
    from_start (C, n) = r^(t+1), to_end (C, n) = r^(n−1−s), across (C,) = r^n."""
    idx = torch.arange(n, dtype=log_rate.dtype)
    diff = idx[:, None] - idx[None, :]  # (n, n): t − s
    intra = torch.exp(log_rate[:, None, None] * diff.clamp_min(0))  # exponent ≤ 0 always
    intra = torch.where(diff > 0, intra, torch.zeros_like(intra))
    from_start = torch.exp(log_rate[:, None] * (idx + 1))
    to_end = torch.exp(log_rate[:, None] * (n - 1 - idx))
    return intra, from_start, to_end, torch.exp(log_rate * n)


def _chunks(x: Tensor, n: int) -> Tensor:
    """(P, B, T, C, Dc) with T = N·n -> (P, B, N, n, C, Dc)."""
    pp, b, t, c, dc = x.shape
    return x.reshape(pp, b, t // n, n, c, dc)


def _scan_chunks(x: Tensor, s0: Tensor, log_rate: Tensor, n: int) -> tuple[Tensor, Tensor]:
    """Decayed strictly-past sums of x over equal chunks of n tokens, from carried sum s0.

    x (P, B, T, C, Dc) with T divisible by n; s0 (P, B, C, Dc). Returns the sums
    (P, B, T, C, Dc) and the carried sum after the last token (P, B, C, Dc).
    """
    intra, from_start, to_end, across = (t.to(x.dtype) for t in _decay_tables(log_rate, n))
    xc = _chunks(x, n)  # (P, B, N, n, C, Dc)
    local = torch.einsum("cts,pbnscd->pbntcd", intra, xc)
    ends = torch.einsum("cs,pbnscd->pbncd", to_end, xc)  # each chunk's own sum at its end
    carried, s = [], s0
    for i in range(xc.shape[2]):  # sequential over chunks only: N = T / n small steps
        carried.append(s)
        s = across[:, None] * s + ends[:, :, i]
    starts = torch.stack(carried, 2)  # (P, B, N, C, Dc): sum before each chunk
    out = local + from_start.T[None, None, None, :, :, None] * starts[:, :, :, None]
    return out.reshape(x.shape), s


def _scan(x: Tensor, s0: Tensor, log_rate: Tensor, chunk: int) -> tuple[Tensor, Tensor]:
    """`_scan_chunks` over any T: full chunks first, then the remainder as one short chunk."""
    t = x.shape[2]
    full = (t // chunk) * chunk
    parts, s = [], s0
    if full:
        out, s = _scan_chunks(x[:, :, :full], s, log_rate, chunk)
        parts.append(out)
    if t > full:
        out, s = _scan_chunks(x[:, :, full:], s, log_rate, t - full)
        parts.append(out)
    return torch.cat(parts, 2), s


def _count(t: int, z0: Tensor, log_gamma: Tensor) -> tuple[Tensor, Tensor]:
    """Normaliser Z_t = γ^(t+1)·z0 + Σ_{j<t} γ^(t−j) for t < T, and Z after the last token.

    z0 (P, B, C). Closed forms: Σ_{j<t} γ^(t−j) = γ(1−γ^t)/(1−γ) and, after T tokens,
    γ^T·z0 + (1−γ^T)/(1−γ); both evaluated with expm1 of non-positive multiples of log γ.
    """
    idx = torch.arange(t, dtype=log_gamma.dtype)[:, None]  # (T, 1)
    lg = log_gamma[None, :]
    past = torch.exp(lg) * torch.expm1(lg * idx) / torch.expm1(lg)  # (T, C)
    z = past.to(z0.dtype) + torch.exp(lg * (idx + 1)).to(z0.dtype) * z0[:, :, None]
    last = torch.exp(lg * t) * z0 + torch.expm1(lg * t) / torch.expm1(lg)
    return z, last.to(z0.dtype)


def _matrix_form(v: Tensor, e: Tensor, state: Tensor, lg: Tensor, la: Tensor, chunk: int):
    """Chunked (or, with chunk ≥ T, parallel Toeplitz) form. Returns V', E', state."""
    pp, b, t, c, dc = v.shape
    a0, e0, z0 = _split_state(state, c * dc)
    a_sum, a_last = _scan(v, a0.reshape(pp, b, c, dc), lg, chunk)
    e_sum, e_last = _scan(e, e0.reshape(pp, b, c, dc), la, chunk)
    z, z_last = _count(t, z0, lg)  # (P, B, T, C), (P, B, C)
    zc = z[..., None]
    v_avg = torch.where(zc > 0, a_sum / zc.clamp_min(1e-30), torch.zeros_like(a_sum))
    new = torch.cat([a_last.reshape(pp, b, -1), e_last.reshape(pp, b, -1), z_last], -1)
    return v_avg, e_sum, new


def mcsd_apply(
    p: dict[str, Tensor], x: Tensor, state: Tensor, mode: str, n_channels: int, chunk: int
) -> tuple[Tensor, Tensor]:
    """One MCSD mixer for P weight sets. x (P, B, T, D), state (P, B, 2D+C) -> y, new state.

    `p` holds w_uvef (P, C, Dc, 4, Dc), e_norm (P, D), w_o (P, D, D). `mode` is "recurrent",
    "chunked" or "parallel" (one Toeplitz block of T×T per channel: reference only).
    """
    pp, b, t, d = x.shape
    lg, la = (r.to(x.dtype) for r in log_rates(n_channels))
    u, v, e, f = _project(p, x, n_channels)  # each (P, B, T, C, Dc)
    if mode == "recurrent":
        v_avg, e_sum, new = _recurrent(v, e, state, lg, la)
    elif mode == "chunked":
        v_avg, e_sum, new = _matrix_form(v, e, state, lg, la, chunk)
    elif mode == "parallel":
        v_avg, e_sum, new = _matrix_form(v, e, state, lg, la, max(t, 1))
    else:
        raise ValueError(f"mode must be 'recurrent', 'chunked' or 'parallel', got {mode!r}")
    e_n = _rms_norm_channels(e_sum.reshape(pp, b, t, d), p["e_norm"], n_channels)
    theta = u.reshape(pp, b, t, d) * F.silu(v_avg.reshape(pp, b, t, d))
    theta = theta + torch.sigmoid(f.reshape(pp, b, t, d)) * e_n
    return torch.einsum("pbti,pio->pbto", theta, p["w_o"]), new


class MCSDMixer(nn.Module):
    """Holds one mixer's weights (no weight-set axis); the maths lives in `mcsd_apply`."""

    def __init__(self, d_model: int, n_channels: int) -> None:
        super().__init__()
        dc = d_model // n_channels
        self.w_uvef = nn.Parameter(torch.randn(n_channels, dc, 4, dc) / math.sqrt(dc))
        self.e_norm = nn.Parameter(torch.ones(d_model))
        self.w_o = nn.Parameter(torch.randn(d_model, d_model) / math.sqrt(d_model))

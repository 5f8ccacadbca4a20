"""The Yan-style model (DESIGN §5): token embedding, n layers of
`x ← x + MCSD(RMSNorm x)` then `x ← x + SelectiveGeGLU(RMSNorm x)`, a final RMSNorm, the
supervised heads (config `heads`, default {"detect": 1}) and a next-token head "next" that
predicts the next token's features for the self-supervised loss.

`yan_apply` is the whole computation as a pure function of named tensors that carry a leading
weight-set axis P, so the same code runs one model (P = 1) or K stacked brains (P = K, see
`agents.bank`). `YanModel` is the ordinary `nn.Module` face of it. Recurrent state is one
tensor (B, n_layers, 2D + C) per model, whatever the sequence length.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from agents.config import YanConfig
from agents.mcsd import MCSDMixer, mcsd_apply, state_width
from agents.selective import SelectiveGeGLU, selective_apply
from agents.step import yan_step

__all__ = ["NEXT_HEAD", "YanModel", "init_state", "yan_apply"]

NEXT_HEAD = "next"
_EPS = 1e-6
_MODES = ("chunked", "parallel", "recurrent")


def _rms(x: Tensor, weight: Tensor) -> Tensor:
    """RMSNorm over the last axis. x (P, B, T, D), weight (P, D)."""
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + _EPS) * weight[:, None, None, :]


def _linear(p: dict[str, Tensor], name: str, x: Tensor) -> Tensor:
    """x (P, B, T, I) @ weight (P, I, O) + bias (P, O)."""
    w, b = p[f"{name}.weight"], p[f"{name}.bias"]
    return torch.einsum("pbti,pio->pbto", x, w) + b[:, None, None, :]


def _sub(p: dict[str, Tensor], prefix: str) -> dict[str, Tensor]:
    """The tensors under `prefix.`, with the prefix stripped."""
    n = len(prefix) + 1
    return {k[n:]: v for k, v in p.items() if k.startswith(prefix + ".")}


def init_state(cfg: YanConfig, batch: int, weight_sets: int | None = None) -> Tensor:
    """Zero recurrent state: (batch, L, 2D + C), or (P, batch, L, 2D + C) with weight_sets=P."""
    shape = (batch, cfg.n_layers, state_width(cfg.d_model, cfg.n_channels))
    return torch.zeros(shape if weight_sets is None else (weight_sets, *shape))


def yan_apply(
    p: dict[str, Tensor],
    cfg: YanConfig,
    x: Tensor,
    state: Tensor,
    mode: str = "chunked",
    noise_std: Tensor | None = None,
    gen: torch.Generator | None = None,
    ffn_path: str = "auto",
) -> tuple[dict[str, Tensor], Tensor, list[Tensor]]:
    """Run P stacked models. x (P, B, T, input_dim), state (P, B, L, 2D+C).

    Returns outputs {head: (P, B, T, width)} including "next" (P, B, T, input_dim), the new state
    and each layer's group load (P, G). `noise_std` (P,) turns on selection noise (training).
    """
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
    h = _linear(p, "embed", x)
    states, loads = [], []
    for i in range(cfg.n_layers):
        lp = _sub(p, f"layers.{i}")
        mixed, s = mcsd_apply(
            _sub(lp, "mixer"),
            _rms(h, lp["norm1.weight"]),
            state[:, :, i],
            mode,
            cfg.n_channels,
            cfg.chunk_size,
        )
        states.append(s)
        h = h + mixed
        ffn_out, load = selective_apply(
            _sub(lp, "ffn"), _rms(h, lp["norm2.weight"]), cfg.ffn_active, noise_std, gen, ffn_path
        )
        h = h + ffn_out
        loads.append(load)
    h = _rms(h, p["norm_f.weight"])
    out = {name: _linear(p, f"heads.{name}", h) for name in cfg.heads}
    out[NEXT_HEAD] = _linear(p, "next_head", h)
    return out, torch.stack(states, 2), loads


class _Norm(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))


class _Linear(nn.Module):
    """Stores weight as (in, out), the layout `yan_apply` contracts over."""

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
    """One Yan-style brain. Shapes: x (B, T, input_dim); state (B, n_layers, 2D + C)."""

    def __init__(self, cfg: YanConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = _Linear(cfg.input_dim, cfg.d_model)
        self.layers = nn.ModuleList(_Layer(cfg) for _ in range(cfg.n_layers))
        self.norm_f = _Norm(cfg.d_model)
        self.heads = nn.ModuleDict({n: _Linear(cfg.d_model, w, 0.1) for n, w in cfg.heads.items()})
        self.next_head = _Linear(cfg.d_model, cfg.input_dim, 0.1)
        self._views: dict[str, Tensor] | None = None

    def _apply(self, fn, recurse=True):  # .to(), .double(), ...: tensors may be replaced
        self._views = None
        return super()._apply(fn, recurse)

    def _decode_views(self) -> dict[str, Tensor]:
        """Weights as detached P = 1 views, built once: views share storage, so in-place
        updates (optimiser steps, load_state_dict) show through without rebuilding."""
        if self._views is None:
            named = self.state_dict(keep_vars=True).items()
            self._views = {n: t.detach().unsqueeze(0) for n, t in named}
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
        p = {n: t.unsqueeze(0) for n, t in self.state_dict(keep_vars=True).items()}
        noise = torch.tensor([explore]) if explore > 0 else None
        out, new, _ = yan_apply(p, self.cfg, x.unsqueeze(0), state.unsqueeze(0), mode, noise)
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

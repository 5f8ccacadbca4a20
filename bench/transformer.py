"""Baseline for bench/yan.py: a same-size decoder-only Transformer with a preallocated KV cache.

Same width, depth and FFN hidden width as the Yan config it mirrors (dense GeGLU, heads = C).
The cache is allocated once for the longest sequence (no per-token reallocation, as a real
decoder does it); decoding one token writes its key and value in place and attends over the
`pos + 1` tokens held, so its cost and memory grow with the position T.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from agents.config import YanConfig

__all__ = ["KVCache", "KVTransformer"]


class KVCache:
    """Keys and values (L, 2, B, heads, capacity, Dh) and how many positions are filled."""

    def __init__(self, layers: int, batch: int, heads: int, capacity: int, dh: int) -> None:
        self.kv = torch.zeros(layers, 2, batch, heads, capacity, dh)
        self.pos = 0

    @property
    def nbytes(self) -> int:
        """Bytes of the filled part (what a growing cache would hold at this position)."""
        return self.kv[:, :, :, :, : self.pos].numel() * self.kv.element_size()


class _Block(nn.Module):
    def __init__(self, d: int, hidden: int) -> None:
        super().__init__()
        self.n1, self.n2 = nn.RMSNorm(d), nn.RMSNorm(d)
        self.qkv, self.o = nn.Linear(d, 3 * d, bias=False), nn.Linear(d, d, bias=False)
        self.up, self.down = nn.Linear(d, 2 * hidden, bias=False), nn.Linear(hidden, d, bias=False)


class KVTransformer(nn.Module):
    """x (B, input_dim) per decode step; one `KVCache` per sequence batch."""

    def __init__(self, cfg: YanConfig) -> None:
        super().__init__()
        d = cfg.d_model
        self.heads, self.d = cfg.n_channels, d
        self.embed = nn.Linear(cfg.input_dim, d)
        self.blocks = nn.ModuleList(_Block(d, cfg.ffn_mult * d) for _ in range(cfg.n_layers))
        self.out = nn.Linear(d, 1)

    def new_cache(self, batch: int, capacity: int, filled: int = 0) -> KVCache:
        """A cache for `capacity` positions whose first `filled` hold (random) past tokens:
        a stand-in for a prefill, whose cost is not what the benchmark measures."""
        if not 0 <= filled <= capacity:
            raise ValueError(f"filled ({filled}) must lie in [0, capacity={capacity}]")
        cache = KVCache(len(self.blocks), batch, self.heads, capacity, self.d // self.heads)
        cache.kv[:, :, :, :, :filled].normal_()
        cache.pos = filled
        return cache

    @torch.no_grad()
    def step(self, x: Tensor, cache: KVCache) -> Tensor:
        """One token (B, input_dim) -> logit (B, 1); writes its keys/values at `cache.pos`.

        Functional calls on the weights (no per-submodule dispatch), as lean as `yan_step`."""
        b, t = x.shape[0], cache.pos
        if t >= cache.kv.shape[4]:
            raise ValueError(f"cache full at {t} positions; allocate a larger capacity")
        h = F.linear(x, self.embed.weight, self.embed.bias)
        for i, blk in enumerate(self.blocks):
            qkv = F.linear(_rms(h, blk.n1.weight), blk.qkv.weight)
            q, k, v = qkv.view(b, 3, self.heads, 1, -1).unbind(1)
            cache.kv[i, :, :, :, t] = torch.stack([k[:, :, 0], v[:, :, 0]])
            keys, vals = cache.kv[i, 0, :, :, : t + 1], cache.kv[i, 1, :, :, : t + 1]
            att = F.scaled_dot_product_attention(q, keys, vals)  # (B, heads, 1, Dh)
            h = h + F.linear(att.reshape(b, self.d), blk.o.weight)
            a, g = F.linear(_rms(h, blk.n2.weight), blk.up.weight).chunk(2, -1)
            h = h + F.linear(F.gelu(a) * g, blk.down.weight)
        cache.pos = t + 1
        return F.linear(h, self.out.weight, self.out.bias)


def _rms(x: Tensor, w: Tensor) -> Tensor:
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * w

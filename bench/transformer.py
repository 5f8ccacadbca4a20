"""Baseline for bench/yan.py: a same-size decoder-only Transformer with a KV cache.

Same width, depth and FFN hidden width as the Yan config it mirrors (dense GeGLU, heads = C);
decoding one token reads the whole cache, so its cost and memory grow with T.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from agents.config import YanConfig

__all__ = ["KVTransformer"]


class _Block(nn.Module):
    def __init__(self, d: int, hidden: int) -> None:
        super().__init__()
        self.n1, self.n2 = nn.RMSNorm(d), nn.RMSNorm(d)
        self.qkv, self.o = nn.Linear(d, 3 * d, bias=False), nn.Linear(d, d, bias=False)
        self.up, self.down = nn.Linear(d, 2 * hidden, bias=False), nn.Linear(hidden, d, bias=False)


class KVTransformer(nn.Module):
    """x (B, input_dim) per decode step; cache: per layer (k, v) each (B, heads, T, Dh)."""

    def __init__(self, cfg: YanConfig) -> None:
        super().__init__()
        d = cfg.d_model
        self.heads, self.d = cfg.n_channels, d
        self.embed = nn.Linear(cfg.input_dim, d)
        self.blocks = nn.ModuleList(_Block(d, cfg.ffn_mult * d) for _ in range(cfg.n_layers))
        self.out = nn.Linear(d, 1)

    def empty_cache(self, batch: int, length: int) -> list[tuple[Tensor, Tensor]]:
        """A cache already holding `length` (random) past tokens per layer."""
        dh = self.d // self.heads
        return [
            (torch.randn(batch, self.heads, length, dh), torch.randn(batch, self.heads, length, dh))
            for _ in self.blocks
        ]

    @torch.no_grad()
    def step(self, x: Tensor, cache: list[tuple[Tensor, Tensor]]):
        """One token (B, input_dim) -> logit (B, 1), cache grown by one token."""
        b = x.shape[0]
        h = self.embed(x)
        new_cache = []
        for blk, (k_c, v_c) in zip(self.blocks, cache, strict=True):
            q, k, v = blk.qkv(blk.n1(h)).view(b, 3, self.heads, 1, -1).unbind(1)
            k_c, v_c = torch.cat([k_c, k], 2), torch.cat([v_c, v], 2)
            att = (q @ k_c.transpose(-1, -2)) / math.sqrt(q.shape[-1])  # (B, H, 1, T)
            h = h + blk.o((att.softmax(-1) @ v_c).reshape(b, self.d))
            a, g = blk.up(blk.n2(h)).chunk(2, -1)
            h = h + blk.down(F.gelu(a) * g)
            new_cache.append((k_c, v_c))
        return self.out(h), new_cache

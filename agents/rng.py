"""Per-brain random streams: one torch generator per weight set, keyed by (seed, brain id).

A bank's K brains learn in one batched computation, but each brain's randomness (replayed
photo positives, the selector's exploration noise, rehearsal streams) comes from its own
stream, so what a brain draws depends only on the run's seed and its global id, never on
which other brains share its bank (its host). Draws are batched over the leading weight-set
axis: `uniform((K, n), gens)` is K draws of (n,), row i from brain i's generator.

    gens = BrainGenerators(seed=3, ids=[4, 5, 6])     # brains 4..6 of the team
    u = uniform((3, 8), gens)                          # (3, 8), row i from brain ids[i]
    z = normal((3, 2, 5), gens); s = integers(10, (3, 4), gens)

A plain `torch.Generator` (or None: torch's global one) draws the whole shape at once, as
torch does; a shared-weight bank (one set, all streams on one host) uses one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import torch
from torch import Tensor

__all__ = ["BrainGenerators", "Draws", "brain_seed", "integers", "normal", "uniform"]


def brain_seed(seed: int, brain: int) -> int:
    """A 63-bit torch seed for brain `brain` of a run seeded `seed` (numpy SeedSequence with
    spawn key (brain,): independent streams for distinct ids, the same for the same pair)."""
    ss = np.random.SeedSequence(int(seed), spawn_key=(int(brain),))
    return int(ss.generate_state(1, np.uint64)[0] >> np.uint64(1))


class BrainGenerators:
    """One `torch.Generator` per brain (row of a bank), seeded by `brain_seed(seed, id)`."""

    def __init__(self, seed: int, ids: Iterable[int]) -> None:
        self.ids = [int(i) for i in ids]
        self.gens = [torch.Generator().manual_seed(brain_seed(seed, i)) for i in self.ids]

    def __len__(self) -> int:
        return len(self.gens)

    def subset(self, rows: Sequence[int]) -> BrainGenerators:
        """The brains at `rows` of this bank: the same generator objects, so draws through
        the subset advance the brains' own streams."""
        sub = object.__new__(BrainGenerators)
        sub.ids = [self.ids[r] for r in rows]
        sub.gens = [self.gens[r] for r in rows]
        return sub

    def draw(self, shape: tuple[int, ...], fn, dtype: torch.dtype = torch.float32) -> Tensor:
        """(K, *shape[1:]) of `dtype`: row i is `fn(row_i, generator_i)` filling row i in place
        (one draw of shape[1:] per brain, written straight into the result: no stacking)."""
        if shape[0] != len(self.gens):
            raise ValueError(
                f"a per-brain draw needs a leading axis of {len(self.gens)} brains, got {shape}"
            )
        out = torch.empty(shape, dtype=dtype)
        for row, g in zip(out, self.gens, strict=True):
            fn(row, g)
        return out


Draws = torch.Generator | BrainGenerators | None


def uniform(shape: tuple[int, ...], gen: Draws) -> Tensor:
    """U[0, 1) float32 of `shape` (per brain along axis 0 when `gen` is per brain)."""
    if isinstance(gen, BrainGenerators):
        return gen.draw(tuple(shape), lambda row, g: row.uniform_(generator=g))
    return torch.rand(tuple(shape), generator=gen)


def normal(shape: tuple[int, ...], gen: Draws, dtype: torch.dtype = torch.float32) -> Tensor:
    """N(0, 1) of `shape` and `dtype` (per brain along axis 0 when `gen` is per brain)."""
    if isinstance(gen, BrainGenerators):
        return gen.draw(tuple(shape), lambda row, g: row.normal_(generator=g), dtype)
    return torch.randn(tuple(shape), generator=gen, dtype=dtype)


def integers(high: int, shape: tuple[int, ...], gen: Draws) -> Tensor:
    """Integers in [0, high) of `shape` (per brain along axis 0 when `gen` is per brain)."""
    if isinstance(gen, BrainGenerators):
        return gen.draw(tuple(shape), lambda row, g: row.random_(high, generator=g), torch.long)
    return torch.randint(high, tuple(shape), generator=gen)

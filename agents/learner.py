"""Online learning parts ("train while infer", docs/model.md), batched over K streams or brains.

- `RingBuffer`: each stream's last W tokens, their (possibly late) labels by tick, and the
  recurrent state the stream had *before* each token, so a learning step can start the chunked
  form exactly from the state the brain used while acting.
- `LabelReservoir`: each stream's latest labelled tokens per class (with their states), so
  a rare, late label keeps training after its token has left the window (replay).
- `stream_losses`: BCE on labelled tokens (head "detect", `pos_weight`) + `ssl_weight` × MSE of
  the next-token prediction, one value per stream (pretraining); `ssl_losses`: the MSE alone.
- `photo_positives`: positives a brain makes itself by placing the photo's signature into
  tokens it observed (its own backgrounds, altitude, light and noise).
- `balanced_bce` / `rank_losses`: the field's supervised terms (class-balanced, and each
  look-alike below its own view with the photo placed in), taken only where a brain holds
  both classes.
- `StackedAdam`: Adam over stacked tensors (P, ...): moments, steps and gradient clipping are
  per weight set by construction. Tensors with a group axis update lazily: a group with zero
  gradient (not selected) keeps its weights and moments, so deltas stay group-sparse.
- `AnchoredEWC`: the forgetting guard; a Fisher computed once on the source task (normalised
  to mean 1 per brain) weighting the squared distance to the pretrained weights (moved only by
  deltas accepted from peers).

docs/learner.md says why each part is there, with the measurements.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import Tensor

from agents.model import NEXT_HEAD
from agents.rng import Draws, uniform

__all__ = [
    "AnchoredEWC",
    "LabelReservoir",
    "RingBuffer",
    "StackedAdam",
    "balanced_bce",
    "photo_positives",
    "rank_losses",
    "ssl_losses",
    "stream_losses",
]


class RingBuffer:
    """Last `window` tokens of `streams` streams, in tick order, with labels and states."""

    def __init__(self, streams: int, window: int, input_dim: int, state_shape: tuple) -> None:
        self.window = window
        self.tokens = torch.zeros(streams, window, input_dim)
        self.labels = torch.full((streams, window), float("nan"))
        self.ticks = torch.full((window,), -1, dtype=torch.long)  # streams act in lockstep
        self.states = torch.zeros(streams, window, *state_shape)
        self.count = 0  # tokens held (≤ window)
        self.head = 0  # slot of the next write
        self.late_labels_dropped = 0

    def push(self, tokens: Tensor, tick: int, state_before: Tensor) -> None:
        """tokens (S, input_dim) emitted at `tick`; state_before (S, *state_shape)."""
        self.tokens[:, self.head] = tokens
        self.labels[:, self.head] = float("nan")
        self.ticks[self.head] = tick
        self.states[:, self.head] = state_before
        self.head = (self.head + 1) % self.window
        self.count = min(self.count + 1, self.window)

    def find(self, tick: Tensor) -> Tensor:
        """Slot holding each tick (M,), or -1 where it is not (or no longer) buffered."""
        held = self.ticks >= 0
        eq = (tick[:, None] == self.ticks[None, :]) & held[None, :]  # (M, W)
        return torch.where(eq.any(1), eq.float().argmax(1), torch.full_like(tick, -1))

    def label(self, stream: Tensor, tick: Tensor, value: Tensor) -> Tensor:
        """Attach labels to the tokens stream[m] emitted at tick[m]. Returns each label's slot
        (M,), -1 where the token already left the window (counted in `late_labels_dropped`)."""
        slot = self.find(tick.long())
        ok = slot >= 0
        self.late_labels_dropped += int((~ok).sum())
        self.labels[stream[ok], slot[ok]] = value[ok]
        return slot

    def ordered(self) -> tuple[Tensor, Tensor, Tensor]:
        """Oldest-first tokens (S, n, input_dim), labels (S, n), state before the oldest."""
        start = (self.head - self.count) % self.window
        idx = (start + torch.arange(self.count)) % self.window
        return self.tokens[:, idx], self.labels[:, idx], self.states[:, idx[0]]


class LabelReservoir:
    """Per stream, the latest `per_class` labelled negatives and positives (class 0 and 1),
    each with the recurrent state before its token, so a replayed token sees the context it
    was acted on. Labels are rare and late (only inspected or reported tokens get one), so
    without a reservoir each label trains only the few steps its token stays in the window.

    Classes are kept apart so a rare positive is not pushed out by a run of negatives; the
    learner weighs the two classes equally (`balanced_bce`), whatever their counts.
    """

    def __init__(self, streams: int, per_class: int, input_dim: int, state_shape: tuple) -> None:
        self.per_class = per_class
        self.tokens = torch.zeros(streams, 2, per_class, input_dim)
        self.states = torch.zeros(streams, 2, per_class, *state_shape)
        self.values = torch.zeros(streams, 2, per_class)
        self.filled = torch.zeros(streams, 2, per_class, dtype=torch.bool)
        self.next = torch.zeros(streams, 2, dtype=torch.long)  # FIFO write slot per class
        self.seen = torch.zeros(streams, 2)  # labels seen per class

    def add(self, stream: Tensor, value: Tensor, tokens: Tensor, states: Tensor) -> None:
        """Store M labelled tokens: stream (M,), value (M,) in [0, 1] (≥ 0.5 = positive),
        tokens (M, input_dim), states (M, *state_shape). Oldest of a class goes first."""
        if stream.numel() == 0:
            return
        cls = (value >= 0.5).long()
        key = stream * 2 + cls
        order = torch.argsort(key, stable=True)  # arrival order kept within a (stream, class)
        key, stream, cls, value = key[order], stream[order], cls[order], value[order]
        first = torch.searchsorted(key, key)  # index of the first entry of each key
        rank = torch.arange(key.numel()) - first
        self.seen.index_put_((stream, cls), torch.ones(key.numel()), accumulate=True)
        slot = (self.next[stream, cls] + rank) % self.per_class
        count = torch.bincount(key, minlength=self.next.numel()).reshape(self.next.shape)
        keep = rank >= count[stream, cls] - self.per_class  # only the newest per_class survive
        s, c, k, o = stream[keep], cls[keep], slot[keep], order[keep]
        self.values[s, c, k] = value[keep]
        self.tokens[s, c, k] = tokens[o]
        self.states[s, c, k] = states[o]
        self.filled[s, c, k] = True
        self.next = (self.next + count) % self.per_class

    @property
    def empty(self) -> bool:
        return not bool(self.filled.any())


def ssl_losses(out: dict[str, Tensor], tokens: Tensor) -> Tensor:
    """Per-stream next-token MSE (S,): out["next"] (S, n, input_dim), tokens (S, n, input_dim);
    zeros when fewer than two tokens are held."""
    if tokens.shape[1] < 2:
        return torch.zeros(tokens.shape[0])
    return (out[NEXT_HEAD][:, :-1] - tokens[:, 1:]).pow(2).mean((1, 2))


def stream_losses(
    out: dict[str, Tensor], tokens: Tensor, labels: Tensor, pos_weight: float, ssl_weight: float
) -> Tensor:
    """Per-stream loss (S,). out["detect"] (S, n, 1), out["next"] (S, n, input_dim),
    tokens (S, n, input_dim), labels (S, n) with NaN where unknown."""
    known = ~torch.isnan(labels)
    target = torch.where(known, labels, torch.zeros_like(labels))
    bce = F.binary_cross_entropy_with_logits(
        out["detect"][..., 0], target, pos_weight=torch.tensor(pos_weight), reduction="none"
    )
    sup = (bce * known).sum(1) / known.sum(1).clamp_min(1)
    if ssl_weight == 0:
        return sup
    return sup + ssl_weight * ssl_losses(out, tokens)


def photo_positives(tokens: Tensor, scale: tuple[float, float], gen: Draws = None) -> Tensor:
    """Tokens (..., 3A+2) with the photo placed into the candidate: the positives a brain makes.

    A person in a cell adds their look to the cell's, and the light scales both; the drone
    knows the look only from the photo (`ref`, in every token) and the light only from what it
    sees. So each synthetic positive is one of the brain's own observed tokens with
    obs' = obs + m · ref/|ref|, m = rms(ctx) × U(scale): `rms(ctx)` (the footprint's mean
    brightness per channel) carries the light, U(scale) the unknown contrast of a person.
    ctx, ref and altitude stay, sim = cos(obs' − ctx, ref) is recomputed (as `build_tokens`).
    No simulator truth is read: only the brain's own tokens.
    """
    a = (tokens.shape[-1] - 2) // 3
    obs, ctx, ref = tokens[..., :a], tokens[..., a : 2 * a], tokens[..., 2 * a : 3 * a]
    unit = ref / torch.linalg.vector_norm(ref, dim=-1, keepdim=True).clamp_min(1e-12)
    lo, hi = scale
    u = lo + (hi - lo) * uniform(tuple(tokens.shape[:-1]), gen)  # per brain: agents.rng
    m = ctx.pow(2).mean(-1).sqrt() * u
    new_obs = obs + m[..., None] * unit
    diff = new_obs - ctx
    sim = (diff * unit).sum(-1) / torch.linalg.vector_norm(diff, dim=-1).clamp_min(1e-12)
    out = tokens.clone()
    out[..., :a] = new_obs
    out[..., -1] = sim.clamp(-1.0, 1.0)
    return out


def balanced_bce(logits: Tensor, values: Tensor, mask: Tensor) -> Tensor:
    """Class-balanced BCE per stream (S,): the mean over each class's masked entries, averaged
    over the two classes; 0 for a stream lacking either class (no one-sided supervised step).

    logits, values, mask: (S, m); values in [0, 1] (≥ 0.5 = positive)."""
    pos, neg = mask & (values >= 0.5), mask & (values < 0.5)
    bce = F.binary_cross_entropy_with_logits(logits, values, reduction="none")
    n_pos, n_neg = pos.sum(1), neg.sum(1)
    both = (n_pos > 0) & (n_neg > 0)
    per = (bce * pos).sum(1) / n_pos.clamp_min(1) + (bce * neg).sum(1) / n_neg.clamp_min(1)
    return torch.where(both, 0.5 * per, torch.zeros_like(per))


def rank_losses(
    neg: Tensor, neg_mask: Tensor, pair: Tensor, pos: Tensor, pos_mask: Tensor
) -> Tensor:
    """Logistic ranking of hard negatives per stream (S,): the mean of softplus(neg − pos)
    over every (hard negative, its own pair) and every (hard negative, true positive).

    pair[s, i] is the logit of negative i's own token with the photo placed into it
    (`photo_positives`): "this look-alike scores below the same view with the person in it".
    That pair differs only by the person, so it teaches the photo's direction and nothing about
    the background, light or altitude of the few tokens that were flagged (synthesized
    positives from other tokens let the term fit those; docs/learner.md measures it). True
    positives (labelled by the field) are ranked against every negative. Asks for an order,
    not a low absolute logit; 0 for a stream without a negative.

    neg, neg_mask, pair: (S, m); pos, pos_mask: (S, q)."""
    cross = neg_mask[:, :, None] & pos_mask[:, None, :]  # (S, m, q)
    total = (F.softplus(neg[:, :, None] - pos[:, None, :]) * cross).sum((1, 2))
    total = total + (F.softplus(neg - pair) * neg_mask).sum(1)
    return total / (cross.sum((1, 2)) + neg_mask.sum(1)).clamp_min(1)


def _per_set(x: Tensor) -> Tensor:
    """Sum over all but the leading weight-set axis: (P, ...) -> (P,)."""
    return x.reshape(x.shape[0], -1).sum(1)


def _bcast(v: Tensor, like: Tensor) -> Tensor:
    """(P,) -> (P, 1, ..., 1) matching `like`'s rank."""
    return v.reshape(-1, *([1] * (like.dim() - 1)))


class StackedAdam:
    """Adam over named stacked tensors (P, ...), independent per weight set.

    `group_axes` maps a name to its group axis (in per-brain coordinates); those tensors update
    only the groups whose gradient is non-zero.
    """

    def __init__(
        self,
        params: dict[str, Tensor],
        lr: float,
        group_axes: dict[str, int],
        clip: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ):
        self.params, self.lr, self.clip, self.betas, self.eps = params, lr, clip, betas, eps
        self.group_axes = group_axes
        self.m = {n: torch.zeros_like(p) for n, p in params.items()}
        self.v = {n: torch.zeros_like(p) for n, p in params.items()}
        self.steps = torch.zeros(next(iter(params.values())).shape[0])
        # (P,): the set's moments may be non-zero (False: never updated, so all zero)
        self.moving = torch.zeros(self.steps.shape[0], dtype=torch.bool)

    def _touched(self, name: str, grad: Tensor) -> Tensor:
        """Mask (broadcastable to grad) of groups with any non-zero task gradient."""
        axis = self.group_axes[name] + 1  # +1 for the weight-set axis
        others = [a for a in range(1, grad.dim()) if a != axis]
        peak = torch.linalg.vector_norm(grad, float("inf"), dim=others, keepdim=True)
        return (peak > 0).to(grad.dtype)

    @torch.no_grad()
    def step(
        self,
        grads: dict[str, Tensor],
        task_grads: dict[str, Tensor] | None = None,
        still: Tensor | None = None,
    ) -> None:
        """One Adam step with per-set gradient-norm clipping.

        `task_grads` (default `grads`) decide which groups were touched, so a regulariser's
        gradient (EWC) does not wake groups the selector did not pick. `still` (P,) marks sets
        whose gradients are all zero: a still set whose moments are zero too (never moved)
        would be left exactly as it is, so only its step count advances; the other sets'
        rows are updated alone, bit-identical to a whole-stack step.
        """
        if still is not None and bool((still & ~self.moving).any()):
            sets = torch.nonzero(~still | self.moving).reshape(-1)
            sub = copy.copy(self)  # the same optimiser on copies of the sets' rows
            sub.steps, sub.moving = self.steps[sets], self.moving[sets]
            for name in ("params", "m", "v"):
                setattr(sub, name, {n: t[sets] for n, t in getattr(self, name).items()})
            tg = grads if task_grads is None else task_grads
            sub.step({n: g[sets] for n, g in grads.items()}, {n: g[sets] for n, g in tg.items()})
            for name in ("params", "m", "v"):
                for n, t in getattr(self, name).items():
                    t[sets] = getattr(sub, name)[n]
            self.steps += 1
            self.moving[sets] = True
            return
        self.moving[:] = True
        task_grads = grads if task_grads is None else task_grads
        pp = self.steps.shape[0]
        sq = [torch.linalg.vector_norm(g.reshape(pp, -1), dim=1).square() for g in grads.values()]
        scale = (self.clip / (torch.sqrt(sum(sq)) + 1e-12)).clamp(max=1.0)
        self.steps += 1
        b1, b2 = self.betas
        c1, c2 = 1 - b1**self.steps, 1 - b2**self.steps
        # p -= lr·(m/c1) / (sqrt(v/c2) + eps) as one addcdiv_ with the per-set factors folded
        # into the denominator: few passes over the (P, ...) tensors, the step is memory-bound
        den_scale, den_eps = torch.rsqrt(c2) * c1 / self.lr, self.eps * c1 / self.lr
        for n, p in self.params.items():
            g = grads[n] * _bcast(scale, grads[n])
            m, v = self.m[n], self.v[n]
            if n in self.group_axes:  # untouched groups keep weights and moments
                touched = self._touched(n, task_grads[n])
                m.lerp_(g, touched * (1 - b1))
                v.lerp_(g.square_(), touched * (1 - b2))
            else:
                m.lerp_(g, 1 - b1)
                v.lerp_(g.square_(), 1 - b2)
            denom = torch.sqrt(v).mul_(_bcast(den_scale, p)).add_(_bcast(den_eps, p))
            if n in self.group_axes:
                denom.masked_fill_(touched == 0, float("inf"))  # m / inf = 0: weight kept
            p.addcdiv_(m, denom, value=-1.0)


class AnchoredEWC:
    """Forgetting guard: a pull toward θ₀ weighted by F̂, per weight set. θ₀ the weights the
    bank was built with (the pretrained checkpoint), F̂ a Fisher computed once on the source
    task (normalised to mean 1).

    F̂ is one Fisher for every set (the bank computes it at the starting weights), so it is
    held once, as (1, ...) tensors broadcast over the P sets; P copies of it and of the
    clamped step made from it were two of the three weight-sized tensors EWC held per brain.

    The anchor is fixed: an anchor that follows the weights (an EMA) drifts with them and
    guards nothing, and a Fisher from the field's one-sided labels marks the wrong weights
    (docs/learner.md). Only deltas accepted from peers move it (`shift`): shared knowledge is
    not fought.
    """

    def __init__(self, params: dict[str, Tensor], fisher: dict[str, Tensor] | None) -> None:
        self.anchor = {n: p.detach().clone() for n, p in params.items()}
        if fisher is None:
            self.fisher = {n: torch.zeros_like(p[:1]) for n, p in params.items()}
        else:
            self.fisher = {n: fisher[n].reshape(p[:1].shape).clone() for n, p in params.items()}
        total = sum(_per_set(f) for f in self.fisher.values())
        count = sum(f[0].numel() for f in self.fisher.values())
        mean = (total / count).clamp_min(1e-12)  # (1,)
        self.fisher = {n: f / _bcast(mean, f) for n, f in self.fisher.items()}
        # min(1, rate · F̂) for the last rate pulled with: F̂ is fixed, so it is made once
        self._step: tuple[float, dict[str, Tensor]] | None = None

    @torch.no_grad()
    def pull(self, params: dict[str, Tensor], rate: float) -> None:
        """Decoupled pull toward the anchor after an optimiser step, in place:
        θ ← θ − min(1, rate · F̂) ⊙ (θ − θ₀). Applied outside Adam on purpose: Adam rescales
        every coordinate's gradient to about lr, so a penalty gradient inside it pushes
        weights the source task does not care about (F̂ ≈ 0) as hard as those it does."""
        if self._step is None or self._step[0] != rate:
            step = {n: f.mul(rate).clamp_(max=1.0) for n, f in self.fisher.items()}
            self._step = (rate, step)
        for n, p in params.items():
            p.sub_((p - self.anchor[n]).mul_(self._step[1][n]))

    @torch.no_grad()
    def shift(self, name: str, index: int | slice, delta: Tensor) -> None:
        """Move the anchor of brain `index` (or a slice of brains) with an accepted delta."""
        self.anchor[name][index] += delta

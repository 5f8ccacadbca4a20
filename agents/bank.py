"""`BrainBank`: K Yan brains of one host as one batched computation (docs/architecture.md §3).

Each brain's weights are one slice of stacked tensors (K, ...), evaluated together by
`agents.model.yan_apply` (batched einsums: one call costs about one model call, not K). Each brain
still has its own weights, its own Adam moments (`StackedAdam` is per slice by construction),
its own recurrent state, its own ring buffer and its own replay reservoir of labelled
tokens (`agents.learner.LabelReservoir`). `shared=True` keeps one weight set for K
recurrent states (the central team's large model): then a learning step averages the K
buffers' losses into one update. A learning step of independent brains runs only for the brains
that step, in slices of `LEARN_CHUNK` weight sets (`learn_slices`), bit-identical to one pass
over the whole bank (docs/model.md).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from agents.config import LearnerConfig, YanConfig, count_params
from agents.learner import (
    AnchoredEWC,
    LabelReservoir,
    RingBuffer,
    StackedAdam,
    balanced_bce,
    photo_positives,
    rank_losses,
    ssl_losses,
)
from agents.model import (
    YanModel,
    YanWeights,
    balance_step,
    init_state,
    skip_selection_noise,
    yan_apply,
    yan_step,
)
from agents.pretrain import rehearsal_set, source_fisher
from agents.rng import BrainGenerators, Draws, brain_seed, integers, uniform
from agents.synthetic import SyntheticConfig

__all__ = ["BrainBank"]

_BUFFER_SUFFIX = "usage_bias"
#: Weight sets per slice of a learning step (`BrainBank.learn`). Each brain's step depends only
#: on its own slice of the stacked tensors (host-count invariance, docs/architecture.md), so
#: the step runs slice by slice with bit-identical results, its transients a few MB that stay
#: in cache instead of growing with the bank (what made a brain's step dearer at large K).
LEARN_CHUNK = 64
SOURCE_INPUT_DIM = SyntheticConfig.source().input_dim


def _as_tensor(x: Tensor | np.ndarray) -> Tensor:
    return x.detach().float() if isinstance(x, Tensor) else torch.as_tensor(np.asarray(x)).float()


@dataclass(frozen=True, eq=False)
class _FieldBatch:
    """One learning step's field tokens, K streams × m: tokens x (K, m, input_dim), the states
    before them (K, m, *state_shape), values and mask (K, n_field) of the supervised ones (the
    first n_field), `lead` reservoir tokens whose photo-placed pairs follow them (0: no
    ranking term), and `active` (K,) streams holding both classes."""

    x: Tensor
    states: Tensor
    values: Tensor
    mask: Tensor
    n_field: int
    lead: int
    active: Tensor

    def rows(self, part: slice | Tensor) -> _FieldBatch:
        """The streams `part` (a slice or an index tensor) of this batch."""
        return _FieldBatch(
            self.x[part], self.states[part], self.values[part], self.mask[part],
            self.n_field, self.lead, self.active[part],
        )  # fmt: skip


def learn_slices(n_sets: int, most: int) -> list[slice]:
    """Consecutive weight-set slices of at most about `most` sets, near-equal in size, none
    of a lone set when n_sets ≥ 2 (batch-1 products round differently, docs/architecture.md)."""
    parts = -(-n_sets // most)
    bounds = np.linspace(0, n_sets, parts + 1).round().astype(int)
    return [slice(int(a), int(b)) for a, b in itertools.pairwise(bounds)]


class BrainBank:
    """K brains (or one shared model for K streams) acting and learning in lockstep."""

    def __init__(
        self,
        model_cfg: YanConfig,
        learner_cfg: LearnerConfig,
        k: int,
        seed: int = 0,
        init: Mapping[str, Tensor | np.ndarray] | None = None,
        shared: bool = False,
        ids: Sequence[int] | None = None,
    ) -> None:
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        self.cfg, self.lcfg, self.k, self.shared = model_cfg, learner_cfg, k, shared
        self.n_sets = 1 if shared else k
        # global brain ids of the weight sets: each brain's randomness (and, without a
        # checkpoint, its init) is keyed by (seed, id), whichever bank (host) holds it
        self.ids = list(range(self.n_sets)) if ids is None else [int(i) for i in ids]
        if len(self.ids) != self.n_sets:
            raise ValueError(f"ids must name the bank's {self.n_sets} weight sets, got {ids}")
        self.params_per_brain = count_params(model_cfg)
        self.train_steps = 0
        template = YanModel(model_cfg).state_dict()
        self._shapes = {n: tuple(t.shape) for n, t in template.items()}
        stacked = self._initial(template, seed, init)
        self.buffers = {n: t for n, t in stacked.items() if n.endswith(_BUFFER_SUFFIX)}
        self.params = {n: t for n, t in stacked.items() if n not in self.buffers}
        self._group_axes = {
            n: (1 if n.endswith("w_sel") else 0)
            for n in self.params
            if n.endswith(("ffn.w_sel", "ffn.w_in", "ffn.w_out"))
        }
        self.opt = StackedAdam(self.params, learner_cfg.lr, self._group_axes, learner_cfg.grad_clip)
        # rehearsal and the source Fisher need the source task's token layout
        self._source_layout = model_cfg.input_dim == SOURCE_INPUT_DIM
        lc = learner_cfg  # rehearsal runs in a field step only (`learn`)
        self._rehearses = self._source_layout and lc.rehearsal_weight * lc.rehearsal_streams > 0
        self.ewc = AnchoredEWC(self.params, self._fisher(template, init))
        self.state = init_state(model_cfg, k)  # (K, L, S): one stream per brain
        self.buffer = RingBuffer(k, learner_cfg.window, model_cfg.input_dim, self.state.shape[1:])
        self.replay = LabelReservoir(
            k, max(learner_cfg.replay_per_class, 1), model_cfg.input_dim, self.state.shape[1:]
        )
        self._last_learn: int | None = None
        self._from_checkpoint = init is not None
        # Per-brain streams (agents.rng): a brain's draws do not depend on its bank-mates.
        # A shared model (one set, every stream on one host) draws from one generator.
        self._gen: Draws = (
            torch.Generator().manual_seed(brain_seed(seed, self.ids[0]))
            if shared
            else BrainGenerators(seed, self.ids)
        )

    # -- construction -------------------------------------------------------------------
    def _initial(self, template: dict, seed: int, init: Mapping | None) -> dict[str, Tensor]:
        """Stacked (n_sets, ...) tensors: copies of `init`, or independent seeded inits."""
        if init is not None:
            named = self._checked(init, require_all=True, what="checkpoint")
            base = {n: named.get(n, template[n]) for n in template}
            return {n: t.unsqueeze(0).repeat(self.n_sets, *[1] * t.dim()) for n, t in base.items()}
        sets = []
        for i in self.ids:
            torch.manual_seed(brain_seed(seed, i))  # one fixed init per (seed, brain id)
            sets.append(YanModel(self.cfg).state_dict())
        return {n: torch.stack([s[n] for s in sets]).detach() for n in template}

    def _fisher(self, template: dict, init: Mapping | None) -> dict[str, Tensor] | None:
        """The source Fisher at the starting weights (None: no EWC, e.g. learning off)."""
        lc = self.lcfg
        if not lc.enabled or lc.ewc_weight == 0 or not self._source_layout:
            return None
        start = {n: t[0] for n, t in self.params.items()}
        return source_fisher(
            self.cfg, {**template, **start, **{n: b[0] for n, b in self.buffers.items()}}
        )

    def _checked(self, named: Mapping, require_all: bool, what: str) -> dict[str, Tensor]:
        """Validate names and shapes against this config; return float tensors."""
        unknown = sorted(set(named) - set(self._shapes))
        if unknown:
            raise ValueError(
                f"{what} has names this model does not: {unknown[:5]}; expected names like "
                f"{sorted(self._shapes)[:3]} (a YanModel(cfg).state_dict())"
            )
        if require_all:
            missing = sorted(
                n for n in self._shapes if n not in named and not n.endswith(_BUFFER_SUFFIX)
            )
            if missing:
                raise ValueError(
                    f"{what} lacks {missing[:5]} (of {len(missing)}); was it saved from a "
                    "YanModel of this config?"
                )
        out = {}
        for n, v in named.items():
            t = _as_tensor(v)
            if tuple(t.shape) != self._shapes[n]:
                raise ValueError(
                    f"{what}: {n} has shape {tuple(t.shape)}, expected {self._shapes[n]}; "
                    "was it made for another YanConfig?"
                )
            out[n] = t
        return out

    # -- acting and learning ------------------------------------------------------------
    def _all(self) -> YanWeights:
        return YanWeights.from_named({**self.params, **self.buffers}, self.cfg)

    def _view(self, x: Tensor) -> Tensor:
        """(K, ...) streams -> (P, B, ...) for yan_apply."""
        return x.reshape(self.n_sets, self.k // self.n_sets, *x.shape[1:])

    @torch.no_grad()
    def act(self, tokens: Tensor | np.ndarray, tick: int) -> dict[str, np.ndarray]:
        """One recurrent step for all K brains. tokens (K, input_dim) -> {head: (K,) logits}
        (width-1 heads squeezed; wider heads (K, width)); advances state, buffers tokens."""
        x = _as_tensor(tokens)
        if x.shape != (self.k, self.cfg.input_dim):
            raise ValueError(
                f"tokens must be (K={self.k}, input_dim={self.cfg.input_dim}), got "
                f"{tuple(x.shape)}; check the scenario's token_spec against YanConfig.input_dim"
            )
        before = self.state
        out, new = yan_step(self._all(), self.cfg, self._view(x), self._view(before))
        self.state = new.reshape(self.k, *new.shape[2:])
        self.buffer.push(x, tick, before)
        res = {}
        for name, width in self.cfg.heads.items():
            y = out[name].reshape(self.k, width)
            res[name] = (y[:, 0] if width == 1 else y).numpy().copy()
        return res

    def label(self, brain, tick, value) -> int:
        """Late labels for head "detect": brain (M,), tick (M,), value (M,). Returns landed."""
        b, t, v = (torch.as_tensor(np.asarray(a)).reshape(-1) for a in (brain, tick, value))
        if b.numel() and (b.min() < 0 or b.max() >= self.k):
            raise IndexError(f"label brain ids must be in [0, {self.k}), got {b.tolist()[:5]}")
        v = v.float()
        slot = self.buffer.label(b, t, v)
        ok = (slot >= 0) & ~torch.isnan(v)
        if self.lcfg.replay_per_class and ok.any():
            b, slot = b[ok], slot[ok]
            self.replay.add(b, v[ok], self.buffer.tokens[b, slot], self.buffer.states[b, slot])
        return int(ok.sum())

    def _noise(self) -> Tensor | None:
        """(P,) exploration std, annealed per optimiser step. Brains built from a checkpoint
        start targeted (no noise): their selector already learned, and noise there would route
        the training pass differently from the acting pass."""
        if self.cfg.select_noise == 0 or self._from_checkpoint:
            return None
        return self.cfg.select_noise * self.cfg.select_noise_decay**self.opt.steps

    def learn(self, tick: int) -> int:
        """One batched optimiser step on all buffers if `learn_every` ticks have passed.

        The loss per brain (docs/learner.md): `ssl_weight` × next-token MSE on the window;
        class-balanced BCE on the field set (the reservoir's labelled tokens plus
        `photo_positives` synthesized from the window), taken only where both classes are
        held; `rank_weight` × each hard negative below its own token with the photo placed in;
        `rehearsal_weight` × BCE on the permanent source set, only for a weight set taking a
        field step; after the Adam step, the anchored EWC pull (`AnchoredEWC.pull`).

        Returns brain-level steps taken: K for independent brains, 1 for a shared model, 0 when
        learning is off, not due yet, or fewer than 2 tokens are buffered.
        """
        lc = self.lcfg
        due = self._last_learn is None or tick - self._last_learn >= lc.learn_every
        if not lc.enabled or not due or self.buffer.count < 2:
            return 0
        self._last_learn = tick
        if lc.ssl_weight == 0 and not self.shared and self.n_sets >= 2:
            return self._learn_sliced()
        return self._learn_whole()

    def _learn_whole(self) -> int:
        """`learn` as one pass over the whole bank (the SSL term, a shared model, one brain)."""
        lc = self.lcfg
        tokens, _, start = self.buffer.ordered()
        params = {n: p.detach().requires_grad_(True) for n, p in self.params.items()}
        p_all = YanWeights.from_named({**params, **self.buffers}, self.cfg)
        noise = self._noise()
        loss = torch.zeros(self.k)
        if lc.ssl_weight > 0:
            out, _, loads = yan_apply(
                p_all, self.cfg, self._view(tokens), self._view(start), "chunked", noise, self._gen
            )
            flat = {n: o.reshape(self.k, *o.shape[2:]) for n, o in out.items()}
            loss = loss + lc.ssl_weight * ssl_losses(flat, tokens)
        else:
            loads = []
        batch = self._field_batch()
        if lc.ssl_weight == 0 and (batch is None or not batch.active.any()):
            return self._skip_field_pass(batch, noise)
        if batch is None:
            active = torch.zeros(self.k, dtype=torch.bool)
        else:
            loss = loss + self._field_loss(p_all, batch, noise, self._gen)
            active = batch.active
        per_set = loss.reshape(self.n_sets, -1).sum(1) / (self.k // self.n_sets)  # (P,)
        if self._rehearses:
            # rehearsal guards a field step and never steps alone: a brain the field has told
            # nothing yet keeps its weights (source training on its own drifts the detector
            # off the field; docs/learner.md)
            stepping = active.reshape(self.n_sets, -1).any(1)  # (P,)
            if stepping.any():
                reh = self._rehearsal_loss(p_all, noise, self._gen)
                per_set = per_set + lc.rehearsal_weight * stepping.float() * reh
        if not per_set.requires_grad or (lc.ssl_weight == 0 and not active.any()):
            return 0  # nothing to learn from this step
        raw = torch.autograd.grad(per_set.sum(), list(params.values()), allow_unused=True)
        # heads without a loss term (e.g. "next" at ssl_weight 0) get no gradient
        task = {
            n: torch.zeros_like(p) if g is None else g
            for (n, p), g in zip(params.items(), raw, strict=True)
        }
        return self._step(task, loads)

    def _step(
        self, task: dict[str, Tensor], loads: list[Tensor], still: Tensor | None = None
    ) -> int:
        """The Adam step on task gradients (named like `params`; `still` (P,): sets whose
        gradients are all zero), the EWC pull and the usage-balancing nudge of each layer's
        `loads` (P, G) (none: no nudge)."""
        lc = self.lcfg
        self.opt.step(task, still=still)
        if lc.ewc_weight > 0:
            self.ewc.pull(self.params, lc.ewc_weight)
        for i, load in enumerate(loads):
            balance_step(self.buffers[f"layers.{i}.ffn.usage_bias"], load, self.cfg.balance_rate)
        self.train_steps += self.n_sets
        return self.n_sets

    def _learn_sliced(self) -> int:
        """`learn` for independent brains without the SSL term, run only for the brains that
        step, in `learn_slices` of them. A brain without both classes has a zero task
        gradient (its field terms are 0 and its rehearsal weighs 0): it skips the passes,
        drawing from its generator what they would have drawn, and takes the Adam step on a
        zero gradient as before. The stepping brains' forward and backward passes run on
        their own slices of the stacked weights: the same draws in the same order and the
        same losses and gradients bit for bit (every kernel works per weight set), with
        transients the size of one slice."""
        lc = self.lcfg
        noise = self._noise()
        batch = self._field_batch()
        if batch is None or not batch.active.any():
            return self._skip_field_pass(batch, noise)
        run = batch.active.clone()
        if int(run.sum()) == 1:  # no lone set in a pass (batch-1 products round differently)
            run[int(torch.nonzero(~run)[0])] = True
        idle = torch.nonzero(~run).reshape(-1)
        if idle.numel():  # the draws of the passes the idle brains skip, in their order
            self._skip_draws(idle.tolist(), batch.x.shape[1], noise is not None)
        busy = torch.nonzero(run).reshape(-1)
        task = {n: torch.zeros_like(p) for n, p in self.params.items()}
        for part in learn_slices(busy.numel(), LEARN_CHUNK):
            sets = busy[part]
            params = {n: p[sets].requires_grad_(True) for n, p in self.params.items()}
            buffers = {n: b[sets] for n, b in self.buffers.items()}
            p_w = YanWeights.from_named({**params, **buffers}, self.cfg)
            nz = None if noise is None else noise[sets]
            gen = self._gen.subset(sets.tolist())
            rows = batch.rows(sets)
            per_set = self._field_loss(p_w, rows, nz, gen)  # one stream per set
            if self._rehearses:  # the bank steps (some stream is active): every set rehearses
                reh = self._rehearsal_loss(p_w, nz, gen)
                per_set = per_set + lc.rehearsal_weight * rows.active.float() * reh
            raw = torch.autograd.grad(per_set.sum(), list(params.values()), allow_unused=True)
            for n, g in zip(params, raw, strict=True):
                if g is not None:
                    task[n][sets] = g
        return self._step(task, [], still=~run)

    def _skip_field_pass(self, batch: _FieldBatch | None, noise: Tensor | None) -> int:
        """No stream holds both classes and nothing else is learned: the forward pass would
        be discarded, so skip it, advancing the brains' streams past the selection noise it
        would have drawn (later draws stay what they would be). Returns 0 steps taken."""
        if batch is not None and noise is not None:
            tokens_per_set = batch.x.shape[0] * batch.x.shape[1] // self.n_sets  # _one_step
            skip_selection_noise(self.cfg, self.n_sets, tokens_per_set, 1, self._gen)
        return 0

    def _skip_draws(self, sets: list[int], field_tokens: int, noise: bool) -> None:
        """Advance the generators of weight sets `sets` past the draws of a field pass of
        `field_tokens` tokens each and (when the bank rehearses) a rehearsal pass, in the order
        `_field_loss` and `_rehearsal_loss` draw them: selection noise only with `noise`."""
        lc, n = self.lcfg, len(sets)
        gen = self._gen.subset(sets)
        if noise:
            skip_selection_noise(self.cfg, n, field_tokens, 1, gen)
        if self._rehearses:
            uniform((n, lc.rehearsal_pool), gen)  # the streams' order (`_rehearsal_loss`)
            if noise:
                skip_selection_noise(self.cfg, n, lc.rehearsal_streams, lc.rehearsal_length, gen)

    def _one_step(self, p: YanWeights, x: Tensor, states: Tensor, noise, gen: Draws) -> Tensor:
        """Detect logits (K, m) of tokens x (K, m, input_dim), each one recurrent step from its
        own state (K, m, *state_shape), under weights p (P sets, K/P streams each)."""
        k, m = x.shape[:2]
        n_sets = p.norm_f.shape[0]
        xs = x.reshape(n_sets, -1, 1, self.cfg.input_dim)
        st = states.reshape(n_sets, -1, *states.shape[2:])
        out, _, _ = yan_apply(p, self.cfg, xs, st, "recurrent", noise, gen, next_head=False)
        return out["detect"].reshape(k, m)

    def _field_batch(self) -> _FieldBatch | None:
        """This step's field tokens per stream, drawn and assembled without running a model
        (None when there are none): the labelled reservoir (every slot, masked), the photo
        positives synthesized from the window, and (ranking on) each reservoir token with the
        photo placed in. `active`: the stream holds both classes (a hard negative or a true
        positive, and a positive), so its supervised step is taken."""
        lc, r = self.lcfg, self.replay
        k, _, per = r.filled.shape
        rows = torch.arange(k)[:, None]
        parts_x, parts_s, parts_v, parts_m = [], [], [], []
        if lc.replay_per_class and not r.empty:
            filled = r.filled.reshape(k, 2 * per)
            m = 2 * per  # every slot, masked: shapes (and sums) do not depend on bank-mates
            take = torch.argsort((~filled).to(torch.int8), dim=1, stable=True)[:, :m]  # (K, m)
            parts_x.append(r.tokens.reshape(k, 2 * per, -1)[rows, take])
            parts_s.append(r.states.reshape(k, 2 * per, *r.states.shape[3:])[rows, take])
            parts_v.append(r.values.reshape(k, -1)[rows, take])
            parts_m.append(filled[rows, take])
        n_photo = lc.photo_positives
        if n_photo:
            slots = integers(self.buffer.count, (k, n_photo), self._gen)
            slots = (self.buffer.head - 1 - slots) % self.buffer.window  # held slots only
            base = self.buffer.tokens[rows, slots]
            parts_x.append(photo_positives(base, lc.photo_scale, self._gen))
            parts_s.append(self.buffer.states[rows, slots])
            parts_v.append(torch.ones(k, n_photo))
            parts_m.append(torch.ones(k, n_photo, dtype=torch.bool))
        if not parts_x:
            return None
        n_field = sum(x.shape[1] for x in parts_x)
        pair = lc.rank_weight > 0 and bool(lc.replay_per_class) and not r.empty
        if pair:  # each labelled token with the photo placed in: the hard negatives' pairs
            parts_x.append(photo_positives(parts_x[0], lc.photo_scale, self._gen))
            parts_s.append(parts_s[0])
        values, mask = torch.cat(parts_v, 1), torch.cat(parts_m, 1)
        has_neg = (mask & (values < 0.5)).any(1)
        active = has_neg & ((mask & (values >= 0.5)).any(1) | pair)
        lead = parts_x[0].shape[1] if pair else 0
        return _FieldBatch(
            torch.cat(parts_x, 1), torch.cat(parts_s, 1), values, mask, n_field, lead, active
        )

    def _field_loss(self, p: YanWeights, batch: _FieldBatch, noise, gen: Draws) -> Tensor:
        """The field's supervised terms per stream (K,) under weights p: class-balanced BCE
        over the labelled reservoir plus this step's photo positives, and the ranking of each
        hard negative below its own token with the photo placed in (the paired positive,
        `rank_losses`)."""
        b = batch
        logits = self._one_step(p, b.x, b.states, noise, gen)
        loss = balanced_bce(logits[:, : b.n_field], b.values, b.mask)
        if b.lead:
            m = b.lead
            neg = b.mask[:, :m] & (b.values[:, :m] < 0.5)
            true = b.mask[:, :m] & (b.values[:, :m] >= 0.5)  # field positives (not synthesized)
            lead = logits[:, :m]
            ranked = rank_losses(lead, neg, logits[:, b.n_field :], lead, true)
            loss = loss + self.lcfg.rank_weight * ranked
        return loss

    def _rehearsal_loss(self, p: YanWeights, noise, gen: Draws) -> Tensor:
        """(P,) BCE (pos_weight) of each weight set on `rehearsal_streams` streams drawn from
        the permanent pool of source streams, each run from a zero state: the source task keeps
        both classes in every step."""
        lc = self.lcfg
        pool_x, pool_y = rehearsal_set(lc.rehearsal_pool, lc.rehearsal_length)
        # each weight set draws its own streams (brains do not rehearse in lockstep)
        n_sets = p.norm_f.shape[0]
        order = uniform((n_sets, pool_x.shape[0]), gen).argsort(1)
        pick = order[:, : lc.rehearsal_streams]  # (P, R)
        xs, y = pool_x[pick], pool_y[pick]  # (P, R, T, D), (P, R, T)
        st = init_state(self.cfg, pick.shape[1], n_sets)
        out, _, _ = yan_apply(p, self.cfg, xs, st, "chunked", noise, gen, next_head=False)
        logit = out["detect"][..., 0]  # (P, R, T)
        bce = torch.nn.functional.binary_cross_entropy_with_logits(
            logit, y, pos_weight=torch.tensor(lc.pos_weight),
            reduction="none",
        )  # fmt: skip
        return bce.mean((1, 2))

    # -- whole-bank operations (knowledge rounds work on all brains at once) --------------
    def flat_layout(self) -> list[tuple[str, tuple[int, ...]]]:
        """(name, per-brain shape) of each parameter tensor, in the column order of
        `read_flat` (sorted names); a row's length is `params_per_brain`."""
        return [(n, self._shapes[n]) for n in sorted(self.params)]

    def read_flat(self) -> np.ndarray:
        """Every weight set's parameters as one (n_sets, P) float32 array (a copy), columns
        in `flat_layout` order: how a knowledge round reads the weights."""
        names = sorted(self.params)
        rows = [self.params[n].detach().reshape(self.n_sets, -1) for n in names]
        return torch.cat(rows, 1).numpy()

    def _rows(self, rows: np.ndarray | Tensor, m: int, what: str) -> Tensor:
        """rows as a float (m, P) tensor; ValueError naming the expected shape otherwise."""
        t = _as_tensor(rows)
        if tuple(t.shape) != (m, self.params_per_brain):
            raise ValueError(
                f"rows must be ({what}={m}, P={self.params_per_brain}), got "
                f"{tuple(t.shape)}; build them with read_flat()'s column order"
            )
        return t

    @torch.no_grad()
    def add_flat(self, rows: np.ndarray | Tensor, scale: float = 1.0) -> None:
        """Add scale × rows (n_sets, P) to every weight set at once, columns as `read_flat`.

        How a knowledge round applies what it accepted: the EWC anchors move with the weights
        (shared knowledge is not fought by the forgetting guard)."""
        t = self._rows(rows, self.n_sets, "n_sets")
        if scale != 1.0:
            t = t * scale
        at = 0
        for n in sorted(self.params):
            size = math.prod(self._shapes[n])
            part = t[:, at : at + size].reshape(self.params[n].shape)
            self.params[n] += part
            self.ewc.shift(n, slice(None), part)
            at += size

    @torch.no_grad()
    def restore_flat(self, sets: np.ndarray, rows: np.ndarray) -> None:
        """Put weight sets `sets` (m,) back to `rows` (m, P) (columns as `read_flat`): a
        diverged brain's quarantine. Their Adam moments and recurrent state restart, and any
        non-finite EWC anchor is replaced by the restored weights (a non-finite delta accepted
        from peers leaves the anchor non-finite too; the Fisher is fixed and never is)."""
        idx = torch.as_tensor(np.asarray(sets, np.int64)).reshape(-1)
        if idx.numel() and (idx.min() < 0 or idx.max() >= self.n_sets):
            raise IndexError(
                f"weight sets {idx.tolist()[:5]} out of range: this bank holds {self.n_sets}"
            )
        t = self._rows(rows, idx.numel(), "len(sets)")
        at = 0
        for n in sorted(self.params):
            size = math.prod(self._shapes[n])
            part = t[:, at : at + size].reshape(-1, *self._shapes[n])
            self.params[n][idx] = part
            anchor = self.ewc.anchor[n][idx]
            self.ewc.anchor[n][idx] = torch.where(torch.isfinite(anchor), anchor, part)
            self.opt.m[n][idx] = 0.0
            self.opt.v[n][idx] = 0.0
            at += size
        self.opt.steps[idx] = 0.0
        if not self.shared:
            self.state[idx] = init_state(self.cfg, idx.numel())
            for held in (self.buffer, self.replay):  # states acted on by the diverged weights
                held.states[idx] = torch.nan_to_num(held.states[idx], 0.0, 0.0, 0.0)

    @torch.no_grad()
    def score(self, tokens: np.ndarray | Tensor) -> dict[str, np.ndarray]:
        """What every weight set would say about each probe token as its next step, from its
        current recurrent state (a shared model: its first stream's), without advancing it.

        tokens (M, input_dim) -> {head: (n_sets, M) logits} (wider heads (n_sets, M, width))."""
        x = _as_tensor(tokens)
        if x.dim() != 2 or x.shape[1] != self.cfg.input_dim:
            raise ValueError(
                f"tokens must be (M, input_dim={self.cfg.input_dim}), got {tuple(x.shape)}"
            )
        p, m = self.n_sets, x.shape[0]
        now = self._view(self.state)[:, :1]  # (P, 1, L, S)
        state = now.expand(-1, m, -1, -1).contiguous()  # (P, M, L, S)
        out, _ = yan_step(self._all(), self.cfg, x[None].expand(p, -1, -1), state)
        res = {}
        for name, width in self.cfg.heads.items():
            y = out[name].reshape(p, m, width)
            res[name] = (y[..., 0] if width == 1 else y).numpy().copy()
        return res

    def group_axes(self) -> dict[str, int]:
        """Tensor name -> axis of its FFN groups, in the exported (per-brain) arrays."""
        return dict(self._group_axes)

    def reset_state(self) -> None:
        """Forget all recurrent state (a new mission); weights and buffers are kept."""
        self.state = init_state(self.cfg, self.k)

"""One host's brains and policy for one team × seed: act, learn, score the probe set.

`BrainShard` wraps a real `agents.BrainBank` (K brains batched as one computation, or one
shared-weight model over K recurrent streams for `central`) and a `scenarios` policy over the
same drones. A tick is one batched call each, no per-brain Python loop:

    logits = bank.act(tokens, tick)              # (K,) detect logits, state advanced
    bank.label(late labels); bank.learn(tick)    # train while infer
    actions = policy.act(obs, sigmoid(logits))

It also keeps each brain's competence (recent verified precision: the share of its flagged
detections that the world confirmed), which the `dynamic` topology elects its hub by.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from agents import BrainBank, LearnerConfig, YanConfig
from agents.yan import yan_apply
from scenarios.base import Actions, Observation, TokenSpec
from scenarios.metrics import auc
from scenarios.policies import make_policy

__all__ = ["BrainShard", "FlatWeights", "add_to_all", "model_for", "stacked_params"]

COMPETENCE_DECAY = 0.98  # per tick: verified precision over roughly the last 50 ticks


def model_for(cfg: YanConfig, spec: TokenSpec) -> YanConfig:
    """`cfg` with the scenario's token width and heads filled in."""
    return cfg.model_copy(update={"input_dim": spec.input_dim, "heads": dict(spec.heads)})


def stacked_params(bank: BrainBank) -> dict[str, np.ndarray]:
    """Every brain's parameters at once: name -> (n_sets, ...) float32 (read-only use).

    The batched counterpart of `bank.export_weights(i)` for a whole knowledge round: one
    array per tensor instead of K dicts (a per-brain loop costs ~ms per brain).
    """
    return {n: p.detach().numpy() for n, p in bank.params.items()}


@torch.no_grad()
def add_to_all(bank: BrainBank, named: dict[str, np.ndarray]) -> None:
    """Add name -> (n_sets, ...) arrays to every brain's weights at once.

    Same effect as `bank.apply_delta(i, named[i])` for every i: the weights move and so do
    their online-EWC anchors (shared knowledge is not fought by the forgetting guard).
    """
    for n, arr in named.items():
        t = torch.from_numpy(np.ascontiguousarray(arr, np.float32))
        if tuple(t.shape) != tuple(bank.params[n].shape):
            raise ValueError(
                f"{n}: shape {tuple(t.shape)}, bank holds {tuple(bank.params[n].shape)}"
            )
        bank.params[n] += t
        bank.ewc.shift(n, slice(None), t)


class FlatWeights:
    """All of a bank's brains as one (K, P) float32 matrix, and back (P params per brain).

    Knowledge rounds work on whole rows (mixing, aggregation), so the K × tensors bookkeeping
    happens once here; tensors are laid out in sorted name order.
    """

    def __init__(self, bank: BrainBank) -> None:
        first = bank.export_weights(0)
        self.bank = bank
        self.names = sorted(first)
        self.shapes = {n: first[n].shape for n in self.names}
        self.offsets = np.concatenate([[0], np.cumsum([first[n].size for n in self.names])])

    def flat(self, named: dict[str, np.ndarray]) -> np.ndarray:
        """One brain's named arrays -> (P,) float32."""
        return np.concatenate([np.asarray(named[n], np.float32).reshape(-1) for n in self.names])

    def named(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """(P,) -> one brain's named arrays (views)."""
        return {n: self._cols(flat, i).reshape(self.shapes[n]) for i, n in enumerate(self.names)}

    def pack(self, row: np.ndarray, by_tensor: bool) -> dict[str, np.ndarray]:
        """A (P,) row as message arrays: one flat tensor `w`, or one per weight tensor.

        One tensor per message costs far less to encode, sign and check than ~a dozen small
        ones; `by_tensor` is for the group-sparse codec, which needs each tensor's group axis.
        """
        return self.named(row) if by_tensor else {"w": row}

    def unpack(self, arrays: dict[str, np.ndarray]) -> np.ndarray:
        """Inverse of `pack` on received arrays -> (P,) float32."""
        if set(arrays) == {"w"}:
            w = np.asarray(arrays["w"], np.float32).reshape(-1)
            if w.size != self.offsets[-1]:
                raise ValueError(f"flat delta has {w.size} entries, a brain has {self.offsets[-1]}")
            return w
        return self.flat(arrays)

    def read(self) -> np.ndarray:
        """(K, P) float32 copy of every brain's weights, one batched read."""
        stacked = stacked_params(self.bank)
        k = self.bank.n_sets
        return np.concatenate([stacked[n].reshape(k, -1) for n in self.names], axis=1)

    def add(self, rows: np.ndarray) -> None:
        """Add (K, P) to every brain's weights (`add_to_all`)."""
        k = rows.shape[0]
        add_to_all(
            self.bank,
            {n: self._cols(rows, i).reshape(k, *self.shapes[n]) for i, n in enumerate(self.names)},
        )

    def _cols(self, x: np.ndarray, i: int) -> np.ndarray:
        return x[..., self.offsets[i] : self.offsets[i + 1]]


class BrainShard:
    """K brains (`bank`) and the policy of the drones they fly.

    drone_ids (K,): global ids of the drones, in the order rows of `obs` arrive.
    """

    def __init__(
        self,
        model_cfg: YanConfig,
        learner_cfg: LearnerConfig,
        drone_ids: np.ndarray,
        seed: int,
        init: dict[str, np.ndarray] | None,
        shared: bool,
        policy: tuple[str, dict[str, Any]],
        world_info: dict[str, Any],
    ) -> None:
        k = int(drone_ids.size)
        self.drone_ids = np.asarray(drone_ids, np.int64)
        self.bank = BrainBank(model_cfg, learner_cfg, k=k, seed=seed, init=init, shared=shared)
        for i in range(self.bank.n_sets):
            self.bank.snapshot(i)
        name, params = policy
        rng = np.random.default_rng(seed)
        self.policy = make_policy(
            name, info=world_info, drone_ids=self.drone_ids, rng=rng, **params
        )
        self._hits = np.zeros(k, np.float64)  # decayed confirmed detections
        self._seen = np.zeros(k, np.float64)  # decayed labelled detections
        self.train_steps = 0

    @property
    def k(self) -> int:
        return int(self.drone_ids.size)

    def competence(self) -> np.ndarray:
        """(K,) float32 recent verified precision, Beta(1, 1) prior: (hits+1)/(seen+2)."""
        return ((self._hits + 1.0) / (self._seen + 2.0)).astype(np.float32)

    def act(self, obs: Observation) -> Actions:
        """Decide, label and learn for one tick; `obs` holds exactly this shard's drones."""
        if len(obs) != self.k:
            raise ValueError(f"this shard flies {self.k} drones, got an observation of {len(obs)}")
        logits = self.bank.act(obs.tokens, obs.tick)["detect"]
        if obs.label_drone.size:
            self.bank.label(obs.label_drone, obs.label_tick, obs.label_value)
            np.add.at(self._hits, obs.label_drone, obs.label_value.astype(np.float64))
            np.add.at(self._seen, obs.label_drone, 1.0)
        self._hits *= COMPETENCE_DECAY
        self._seen *= COMPETENCE_DECAY
        self.train_steps += self.bank.learn(obs.tick)
        p_detect = (1.0 / (1.0 + np.exp(-logits.astype(np.float64)))).astype(np.float32)
        return self.policy.act(obs, p_detect)

    @torch.no_grad()
    def probe_aucs(self, tokens: np.ndarray, labels: np.ndarray) -> list[float]:
        """Detector AUC of each weight set on a probe set, without touching any brain's state.

        tokens (M, input_dim) float32, labels (M,) in {0, 1}: each token is scored as the next
        step from the brain's current recurrent state (what it would say about that token in
        the field now; the state is not advanced). A shared model is scored from its first
        stream's state. Returns one AUC per weight set (K, or 1 shared).
        """
        bank = self.bank
        x = torch.as_tensor(np.asarray(tokens, np.float32))
        p = bank.n_sets
        x = x[None, :, None, :].expand(p, -1, -1, -1)  # (P, M, 1, input_dim)
        now = bank.state.reshape(bank.n_sets, -1, *bank.state.shape[1:])[:, :1]  # (P, 1, L, S)
        state = now.expand(-1, x.shape[1], -1, -1).contiguous()  # (P, M, L, S)
        out, _, _ = yan_apply({**bank.params, **bank.buffers}, bank.cfg, x, state, "recurrent")
        scores = out["detect"].reshape(p, -1).numpy()  # (P, M)
        return [auc(s, labels) for s in scores]

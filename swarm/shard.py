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

from agents import BrainBank, LearnerConfig, YanConfig
from scenarios.base import Actions, Observation, TokenSpec
from scenarios.metrics import auc
from scenarios.policies import make_policy

__all__ = ["BrainShard", "FlatWeights", "model_for"]

COMPETENCE_DECAY = 0.98  # per tick: verified precision over roughly the last 50 ticks


def model_for(cfg: YanConfig, spec: TokenSpec) -> YanConfig:
    """`cfg` with the scenario's token width and heads filled in."""
    return cfg.model_copy(update={"input_dim": spec.input_dim, "heads": dict(spec.heads)})


class FlatWeights:
    """All of a bank's brains as one (K, P) float32 matrix, and back (P params per brain).

    Knowledge rounds work on whole rows (mixing, aggregation); the bank's batched operations
    (`read_flat`, `add_flat`) do the K × tensors bookkeeping, in `bank.flat_layout()` order.
    """

    def __init__(self, bank: BrainBank) -> None:
        self.bank = bank
        layout = bank.flat_layout()
        self.names = [n for n, _ in layout]
        self.shapes = dict(layout)
        sizes = [int(np.prod(shape)) for _, shape in layout]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)

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
        return self.bank.read_flat()

    def add(self, rows: np.ndarray) -> None:
        """Add (K, P) to every brain's weights (and their EWC anchors), one batched call."""
        self.bank.add_flat(rows)

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
        actions = self.policy.act(obs, p_detect)
        actions.detect = logits.astype(np.float32)  # reported for field AUC (evaluation only)
        return actions

    def probe_aucs(self, tokens: np.ndarray, labels: np.ndarray) -> list[float]:
        """Detector AUC of each weight set on a probe set, without touching any brain's state.

        tokens (M, input_dim) float32, labels (M,) in {0, 1}: each token is scored as the next
        step from the brain's current recurrent state (what it would say about that token in
        the field now; the state is not advanced). A shared model is scored from its first
        stream's state. Returns one AUC per weight set (K, or 1 shared).
        """
        scores = self.bank.score(np.asarray(tokens, np.float32))["detect"]  # (P, M)
        return [auc(s, labels) for s in scores]

"""Decentralised averaging, one object per node, driven by messages a host sends and receives.

Exact gossip (Metropolis–Hastings weights W from `topology.mixing_matrix`):
    x_i <- x_i + sum_j w_ij (x_j - x_i)
It sends the full x each round. Compressed gossip cannot just send C(x): averaging compressed
values drifts away from the true mean. CHOCO-Gossip (Koloskova et al., 2019) instead keeps
public copies x̂ that every neighbour tracks identically and sends compressed *differences*:
    x_i <- x_i + gamma * sum_j w_ij (x̂_j - x̂_i)
    q_i  = C(x_i - x̂_i);  x̂_i <- x̂_i + q_i;  every neighbour j also does x̂_i <- x̂_i + q_i
Since W is symmetric the network mean of x is preserved exactly (up to float64 rounding)
whatever C does, and x̂ -> x as the differences shrink.

A round on a host, for each of its nodes (payloads are `EncodedDelta`s; send `.tensors`):

    node = ChocoNode(i, x0, neighbours(W, i), get_codec("topk", fraction=0.1,
                     error_feedback=False), gamma=0.5)
    payload = node.outgoing()                 # send to every neighbour in node.weights
    for j, arrays in received:                # Delivery.arrays from neighbour j, this round
        node.incoming(j, arrays)
    node.finish_round()                       # barrier: all neighbours heard
    node.x                                    # dict[str, float64 array]: add local updates here

`ExactGossipNode` has the same four calls. `run_rounds(nodes, rounds)` runs them in memory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from protocols.compression import Codec, EncodedDelta, decode_delta, get_codec

__all__ = ["ChocoNode", "ExactGossipNode", "disagreement", "run_rounds"]

Named = dict[str, np.ndarray]


def _copy64(named: Mapping[str, np.ndarray]) -> Named:
    return {k: np.array(v, dtype=np.float64) for k, v in named.items()}


def _check_weights(node: int, weights: Mapping[int, float]) -> dict[int, float]:
    if node in weights:
        raise ValueError(f"node {node}: weights are for neighbours only (self weight is implied)")
    if any(w < 0 for w in weights.values()) or sum(weights.values()) > 1 + 1e-12:
        raise ValueError(f"node {node}: neighbour weights must be >= 0 and sum to <= 1")
    return dict(weights)


class ExactGossipNode:
    """Node i of exact gossip: sends its full x as fp32.

    The step uses the *sent* (fp32-rounded) x_i, exactly what the neighbours see, so the
    network mean is preserved to float64 rounding even though the wire is fp32.
    """

    def __init__(self, node: int, x: Mapping[str, np.ndarray], weights: Mapping[int, float]):
        self.node = node
        self.x = _copy64(x)
        self.weights = _check_weights(node, weights)
        self._codec = get_codec("none")
        self._heard: dict[int, Named] = {}
        self._sent: Named = {}

    def outgoing(self) -> EncodedDelta:
        """This round's payload for every neighbour."""
        payload = self._codec.encode(self.x)
        self._sent = decode_delta(payload)
        return payload

    def incoming(self, sender: int, arrays: Mapping[str, np.ndarray]) -> None:
        """A neighbour's payload (decoded arrays) for this round."""
        if sender in self.weights:
            self._heard[sender] = dict(arrays)

    def finish_round(self) -> None:
        """x_i += sum_j w_ij (x_j - x_i) over the neighbours heard (a missing one counts as x_i)."""
        if not self._sent:
            raise RuntimeError("call outgoing() before finish_round() in every round")
        for name, xi in self.x.items():
            step = np.zeros_like(xi)
            for j, arrays in self._heard.items():
                step += self.weights[j] * (arrays[name].astype(np.float64) - self._sent[name])
            xi += step
        self._heard.clear()
        self._sent = {}


class ChocoNode:
    """Node i of CHOCO-Gossip; holds x_i, its own x̂_i and its neighbours' x̂_j."""

    def __init__(
        self,
        node: int,
        x: Mapping[str, np.ndarray],
        weights: Mapping[int, float],
        codec: Codec,
        gamma: float = 0.5,
    ):
        if not 0 < gamma <= 1:
            raise ValueError(f"gamma (consensus step) must be in (0, 1], got {gamma}")
        self.node, self.codec, self.gamma = node, codec, gamma
        self.x = _copy64(x)
        self.weights = _check_weights(node, weights)
        # Every copy starts at zero on every node, so all copies agree without a first exchange.
        zeros = {k: np.zeros_like(v) for k, v in self.x.items()}
        self.hat: dict[int, Named] = {j: _copy64(zeros) for j in (node, *self.weights)}

    def outgoing(self) -> EncodedDelta:
        """Consensus step on x, then q = C(x - x̂_i), applied to x̂_i; send q to neighbours."""
        mine = self.hat[self.node]
        for name, xi in self.x.items():
            pull = np.zeros_like(xi)
            for j, w in self.weights.items():
                pull += w * (self.hat[j][name] - mine[name])
            xi += self.gamma * pull
        q = self.codec.encode({k: self.x[k] - mine[k] for k in self.x})
        self._add(self.node, decode_delta(q))
        return q

    def incoming(self, sender: int, arrays: Mapping[str, np.ndarray]) -> None:
        """A neighbour's q (decoded arrays): x̂_sender += q."""
        if sender in self.weights:
            self._add(sender, arrays)

    def finish_round(self) -> None:
        """Nothing to do: CHOCO applies each q on arrival. Kept so hosts drive both alike."""

    def _add(self, j: int, q: Mapping[str, np.ndarray]) -> None:
        for name, h in self.hat[j].items():
            h += q[name]


def run_rounds(nodes: Sequence[ExactGossipNode | ChocoNode], rounds: int) -> None:
    """Run gossip rounds in memory (node i at index i), every payload through the codec."""
    for _ in range(rounds):
        payloads = [decode_delta(n.outgoing()) for n in nodes]
        for n in nodes:
            for j in n.weights:
                n.incoming(j, payloads[j])
            n.finish_round()


def disagreement(nodes: Sequence[ExactGossipNode | ChocoNode]) -> float:
    """Root of the summed squared distance of every node's x to the network mean."""
    total = 0.0
    for name in nodes[0].x:
        X = np.stack([n.x[name] for n in nodes])  # (n, *shape)
        total += float(np.sum((X - X.mean(axis=0)) ** 2))
    return total**0.5

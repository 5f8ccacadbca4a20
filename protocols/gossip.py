"""Decentralised averaging, one object per node, driven by messages a host sends and receives.

Exact gossip (Metropolis–Hastings weights W from `topology.mixing_matrix`):
    x_i <- x_i + sum_j w_ij (x_j - x_i)
It sends the full x each round. Compressed gossip cannot just send C(x): averaging compressed
values drifts away from the true mean. CHOCO-Gossip (Koloskova et al., 2019, Algorithm 1)
instead keeps public copies x̂ that every neighbour tracks identically and sends compressed
*differences*; each round:
    q_i  = C(x_i - x̂_i);  x̂_i <- x̂_i + q_i;  every neighbour j also does x̂_i <- x̂_i + q_i
    x_i <- x_i + gamma * sum_j w_ij (x̂_j - x̂_i)          (after the exchange)
Since W is symmetric the network mean of x is preserved exactly (up to float64 rounding)
whatever C does, and x̂ -> x as the differences shrink.

Time-varying graphs (`radio`, rebuilt from positions every round): a copy x̂_j held by a node
that stops hearing j goes stale. So a node drops the copies of former neighbours, and when an
edge (i, j) appears (absent the round before) i and j swap their full x̂ once, a dense fp32
*sync* (DELTA with body `sync: true`, docs/protocol.md), then go back to differences.

A round on a host, for each of its nodes (payloads are `EncodedDelta`s; send `.tensors`):

    node = ChocoNode(i, x0, neighbours(W, i), get_codec("topk", fraction=0.1,
                     error_feedback=False), gamma=0.5)
    for j, (payload, sync) in node.payloads(neighbours(W_t, i)).items():  # None: static graph
        send payload.tensors to j as a DELTA, body {"sync": sync, ...}
    for j, arrays, sync in received:          # Delivery.arrays from neighbour j, this round
        node.incoming(j, arrays, sync)
    node.finish_round()                       # barrier: all neighbours heard; consensus step
    node.x                                    # dict[str, float64 array]: add local updates here

On a static graph `payload = node.outgoing()` (one q for every neighbour) and
`node.incoming(j, arrays)` are enough. `ExactGossipNode` has the same calls. `run_rounds(nodes,
rounds, schedule)` runs them in memory and counts the bytes on the wire.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from protocols.compression import Codec, EncodedDelta, decode_delta, get_codec
from protocols.topology import neighbours

__all__ = ["ChocoNode", "ExactGossipNode", "disagreement", "run_rounds"]

Named = dict[str, np.ndarray]
Payload = tuple[EncodedDelta, bool]  # (what to send, whether it is a sync)


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

    def set_neighbours(self, weights: Mapping[int, float]) -> tuple[int, ...]:
        """This round's neighbour weights (time-varying graphs); returns the new neighbours.
        Exact gossip sends the full x anyway, so new neighbours need nothing special."""
        weights = _check_weights(self.node, weights)
        new = tuple(sorted(j for j in weights if j not in self.weights))
        self.weights = weights
        return new

    def outgoing(self, weights: Mapping[int, float] | None = None) -> EncodedDelta:
        """This round's payload for every neighbour (weights: see `set_neighbours`)."""
        if weights is not None:
            self.set_neighbours(weights)
        payload = self._codec.encode(self.x)
        self._sent = decode_delta(payload)
        return payload

    def payloads(self, weights: Mapping[int, float] | None = None) -> dict[int, Payload]:
        """{j: (payload, False)} for every neighbour j (the same full x for all)."""
        payload = self.outgoing(weights)
        return {j: (payload, False) for j in self.weights}

    def incoming(self, sender: int, arrays: Mapping[str, np.ndarray], sync: bool = False) -> None:
        """A neighbour's payload (decoded arrays) for this round (sync changes nothing here)."""
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
    """Node i of CHOCO-Gossip; holds x_i (float64), its own x̂_i and its neighbours' x̂_j.

    Public copies are float32: every holder applies the same float32 q in the same way, so all
    copies of x̂_j agree bit for bit, and a dense fp32 sync reproduces one exactly.
    """

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
        self.hat: dict[int, Named] = {j: self._zeros() for j in (node, *self.weights)}
        self.new_neighbours: tuple[int, ...] = ()  # this round's neighbours owed a sync
        self._awaiting: set[int] = set()  # new neighbours whose sync has not arrived yet
        self._sent = False

    def _zeros(self) -> Named:
        return {k: np.zeros(v.shape, dtype=np.float32) for k, v in self.x.items()}

    def set_neighbours(self, weights: Mapping[int, float]) -> tuple[int, ...]:
        """This round's neighbour weights on a time-varying graph (e.g. `radio`).

        Returns the neighbours that were not neighbours last round: the copy each side holds
        of the other is stale or missing, so this round the pair swap full public copies
        (`sync_payload`, incoming with sync=True) instead of q. Copies of nodes that are no
        longer neighbours are dropped (they would go stale). Both ends of an edge see the same
        two graphs, so they agree on which edges are new.
        """
        weights = _check_weights(self.node, weights)
        new = tuple(sorted(j for j in weights if j not in self.weights))
        for j in [j for j in self.hat if j != self.node and j not in weights]:
            del self.hat[j]
        self.weights, self.new_neighbours, self._awaiting = weights, new, set(new)
        return new

    def outgoing(self, weights: Mapping[int, float] | None = None) -> EncodedDelta:
        """q = C(x - x̂_i), applied to x̂_i: the payload for every neighbour not in
        `new_neighbours` (those get `sync_payload()`). weights: this round's neighbours on a
        time-varying graph (calls `set_neighbours` first); None keeps the current ones."""
        if weights is not None:
            self.set_neighbours(weights)
        mine = self.hat[self.node]
        q = self.codec.encode({k: self.x[k] - mine[k] for k in self.x})
        self._add(self.node, decode_delta(q))
        self._sent = True
        return q

    def sync_payload(self) -> EncodedDelta:
        """x̂_i after this round's q, dense fp32 (codec `none`, a copy: safe to send zero-copy
        while x̂_i moves on). Send it with DELTA body `sync: true` to each `new_neighbours`."""
        return get_codec("none").encode({k: v.copy() for k, v in self.hat[self.node].items()})

    def payloads(self, weights: Mapping[int, float] | None = None) -> dict[int, Payload]:
        """This round's message to each neighbour: {j: (payload, is_sync)} (calls `outgoing`)."""
        q = self.outgoing(weights)
        sync = self.sync_payload() if self.new_neighbours else None
        return {j: (sync, True) if j in self.new_neighbours else (q, False) for j in self.weights}

    def incoming(self, sender: int, arrays: Mapping[str, np.ndarray], sync: bool = False) -> None:
        """A neighbour's decoded payload: q (x̂_sender += q) or, with sync, its full x̂."""
        if sender not in self.weights:
            return
        if sync:
            self.hat[sender] = {k: np.array(arrays[k], dtype=np.float32) for k in self.x}
            self._awaiting.discard(sender)
        elif sender in self._awaiting:
            raise ValueError(
                f"node {self.node}: neighbour {sender} is new this round; its first payload "
                "must be a sync (its full public copy), not a difference"
            )
        else:
            self._add(sender, arrays)

    def finish_round(self) -> None:
        """Consensus step with this round's copies: x_i += gamma * sum_j w_ij (x̂_j - x̂_i)."""
        if not self._sent:
            raise RuntimeError("call outgoing() before finish_round() in every round")
        if self._awaiting:
            raise RuntimeError(
                f"node {self.node}: no sync from new neighbours {sorted(self._awaiting)}; "
                "time-varying gossip needs every message of a round (rounds are barriers)"
            )
        mine = self.hat[self.node]
        for name, xi in self.x.items():
            pull = np.zeros_like(xi)
            for j, w in self.weights.items():
                pull += w * (self.hat[j][name].astype(np.float64) - mine[name])
            xi += self.gamma * pull
        self.new_neighbours, self._sent = (), False

    def _add(self, j: int, q: Mapping[str, np.ndarray]) -> None:
        for name, h in self.hat[j].items():
            h += q[name]


Schedule = Callable[[int], np.ndarray]


def run_rounds(
    nodes: Sequence[ExactGossipNode | ChocoNode], rounds: int, schedule: Schedule | None = None
) -> int:
    """Run gossip rounds in memory (node i at index i), every payload through the codec.

    schedule: round number (0 .. rounds-1) -> that round's mixing matrix W (n, n), for
    time-varying graphs; None keeps every node's neighbours. Returns the bytes the payloads put
    on the wire (`EncodedDelta.wire_bytes` per neighbour delivery, syncs included).
    """
    wire = 0
    for t in range(rounds):
        W = None if schedule is None else schedule(t)
        sent = [n.payloads(None if W is None else neighbours(W, n.node)) for n in nodes]
        # id(payload) -> (arrays, wire bytes): decode and measure each payload once
        seen: dict[int, tuple[Named, int]] = {}
        for i, out in enumerate(sent):
            for j, (payload, sync) in out.items():
                if id(payload) not in seen:
                    seen[id(payload)] = (decode_delta(payload), payload.wire_bytes)
                arrays, nbytes = seen[id(payload)]
                nodes[j].incoming(i, arrays, sync)
                wire += nbytes
        for n in nodes:
            n.finish_round()
    return wire


def disagreement(nodes: Sequence[ExactGossipNode | ChocoNode]) -> float:
    """Root of the summed squared distance of every node's x to the network mean."""
    total = 0.0
    for name in nodes[0].x:
        X = np.stack([n.x[name] for n in nodes])  # (n, *shape)
        total += float(np.sum((X - X.mean(axis=0)) ** 2))
    return total**0.5

"""Per-node gossip: exact and CHOCO preserve the mean; CHOCO converges with top-k; naive drifts."""

import numpy as np
import pytest

from protocols.compression import decode_delta, get_codec
from protocols.gossip import ChocoNode, ExactGossipNode, disagreement, run_rounds
from protocols.topology import build, mixing_matrix, neighbours, rounds_bound

N, D = 16, 40


@pytest.fixture
def ring():
    return mixing_matrix(build("ring", N))


def _x(seed=0):
    return np.random.default_rng(seed).normal(size=(N, D))


def _choco(W, X, fraction=0.1, gamma=0.3):
    codec = lambda: get_codec("topk", fraction=fraction, error_feedback=False)  # noqa: E731
    return [ChocoNode(i, {"x": X[i]}, neighbours(W, i), codec(), gamma) for i in range(N)]


def _mean(nodes):
    return np.mean([n.x["x"] for n in nodes], axis=0)


def test_exact_gossip_nodes_match_the_bound(ring):
    X = _x()
    nodes = [ExactGossipNode(i, {"x": X[i]}, neighbours(ring, i)) for i in range(N)]
    d0, rounds = disagreement(nodes), 0
    while disagreement(nodes) > 1e-6 * d0:
        run_rounds(nodes, 1)
        rounds += 1
    assert rounds_bound(ring) / 2 <= rounds <= rounds_bound(ring)
    np.testing.assert_allclose(_mean(nodes), X.mean(axis=0), atol=1e-9)


def test_choco_preserves_mean_every_round_and_converges(ring):
    X = _x(1)
    nodes, target = _choco(ring, X), X.mean(axis=0)
    d0 = disagreement(nodes)
    for _ in range(450):
        run_rounds(nodes, 1)
        assert np.abs(_mean(nodes) - target).max() < 1e-9
    assert disagreement(nodes) < 1e-3 * d0  # ~380 rounds; 1e-6 takes ~815 (bench.protocol)
    for n in nodes:  # public copies converge to the private values
        assert np.abs(n.hat[n.node]["x"] - n.x["x"]).max() < 1e-2


def test_naive_compressed_averaging_drifts(ring):
    X = _x(2)
    target, x = X.mean(axis=0), X.copy()
    for _ in range(100):  # every node averages top-k 10% compressed copies of its neighbours
        sent = np.stack(
            [decode_delta(get_codec("topk", fraction=0.1).encode({"x": r}))["x"] for r in x]
        )
        x = np.diag(ring)[:, None] * x + (ring - np.diag(np.diag(ring))) @ sent
    assert np.abs(x.mean(axis=0) - target).max() > 0.1


def test_neighbours_copies_stay_identical(ring):
    nodes = _choco(ring, _x(3))
    run_rounds(nodes, 25)
    for n in nodes:
        for j in n.weights:
            assert np.array_equal(n.hat[j]["x"], nodes[j].hat[j]["x"])


def test_bad_parameters():
    with pytest.raises(ValueError, match="gamma"):
        ChocoNode(0, {"x": np.zeros(2)}, {1: 0.5}, get_codec("none"), gamma=0)
    with pytest.raises(ValueError, match="neighbours only"):
        ExactGossipNode(0, {"x": np.zeros(2)}, {0: 0.5})

"""Topologies, Metropolis–Hastings weights, spectral gap and the gossip round bound."""

import math

import networkx as nx
import numpy as np
import pytest

from protocols.topology import KINDS, build, mixing_matrix, rounds_bound


def _graph(kind, n=16):
    rng = np.random.default_rng(0)
    params = {
        "positions": rng.uniform(0, 40, size=(n, 2)),
        "radio_range": 15.0,
        "edges": [(i, (i * 5 + 1) % n) for i in range(n) if i != (i * 5 + 1) % n],
        "seed": 3,
    }
    return build(kind, n, **params)


@pytest.mark.parametrize("kind", KINDS)
def test_mixing_matrix_is_symmetric_doubly_stochastic_on_edges(kind):
    G = _graph(kind)
    W = mixing_matrix(G)
    assert G.number_of_nodes() == 16
    np.testing.assert_allclose(W, W.T, atol=0)
    np.testing.assert_allclose(W.sum(axis=0), 1.0, atol=1e-12)
    np.testing.assert_allclose(W.sum(axis=1), 1.0, atol=1e-12)
    assert np.all(W >= 0)
    allowed = nx.to_numpy_array(G, nodelist=range(16)) + np.eye(16)
    assert np.all(W[allowed == 0] == 0)
    i, j = next(iter(G.edges()))
    assert W[i, j] == pytest.approx(1 / (1 + max(G.degree(i), G.degree(j))))


@pytest.mark.parametrize("kind", ["random_regular", "small_world", "erdos_renyi", "grid", "star"])
def test_generated_graphs_are_connected_and_seeded(kind):
    a = build(kind, 20, seed=5, p=0.15)
    assert nx.is_connected(a)
    assert set(a.edges()) == set(build(kind, 20, seed=5, p=0.15).edges())


def test_ring_of_16_bound_is_265_rounds():
    W = mixing_matrix(build("ring", 16))
    lam = (1 + 2 * math.cos(2 * math.pi / 16)) / 3  # the ring's second eigenvalue
    assert rounds_bound(W, 1e-6) == pytest.approx(math.log(1e6) / math.log(1 / lam))
    assert math.floor(rounds_bound(W, 1e-6)) == 265


@pytest.mark.parametrize("kind", ["ring", "grid", "random_regular", "small_world"])
def test_plain_gossip_reaches_consensus_within_the_bound(kind):
    W = mixing_matrix(build(kind, 16, seed=1))
    bound = rounds_bound(W, 1e-6)
    x = np.random.default_rng(2).normal(size=(16, 8))
    mean, err0 = x.mean(axis=0), np.linalg.norm(x - x.mean(axis=0))
    rounds = 0
    while np.linalg.norm(x - mean) > 1e-6 * err0:
        x = W @ x
        rounds += 1
        assert rounds <= bound
    assert rounds >= bound / 2  # the bound is tight, not vacuous
    np.testing.assert_allclose(x.mean(axis=0), mean, atol=1e-12)


def test_complete_and_disconnected_bounds():
    assert rounds_bound(mixing_matrix(build("complete", 8))) == 1.0
    assert rounds_bound(mixing_matrix(build("edges", 4, edges=[(0, 1)]))) == math.inf


def test_radio_edges_follow_range():
    pos = np.array([[0, 0], [3, 4], [100, 0]])
    G = build("radio", 3, positions=pos, radio_range=5.0)
    assert set(G.edges()) == {(0, 1)}


def test_bad_input_says_what_to_do():
    with pytest.raises(ValueError, match="unknown topology"):
        build("torus", 4)
    with pytest.raises(ValueError, match="positions"):
        build("radio", 4)
    with pytest.raises(ValueError, match="degree"):
        build("random_regular", 5, degree=3)
    with pytest.raises(ValueError, match="raise p"):
        build("erdos_renyi", 30, p=0.0)
    with pytest.raises(ValueError, match="two different nodes"):
        build("edges", 3, edges=[(0, 3)])

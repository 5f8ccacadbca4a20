"""CHOCO mixing as the runtime runs it: exact values, the mean kept, consensus under compression."""

import numpy as np
import pytest

from protocols.compression import decode_delta
from protocols.gossip import choco_pull, mixing_rows
from protocols.rowcodec import RowCodec
from protocols.topology import build, mixing_matrix

N, P = 8, 24


def test_mixing_rows_are_the_metropolis_hastings_rows():
    g = build("ring", N)
    rows = np.array([2, 5])
    np.testing.assert_allclose(
        mixing_rows(g, rows).to_dense().numpy(), mixing_matrix(g)[rows].astype(np.float32)
    )


def test_choco_pull_is_gamma_times_w_xhat_minus_xhat():
    g, rows = build("ring", N), np.array([1, 2, 3])
    xhat = np.random.default_rng(0).normal(size=(N, P)).astype(np.float32)
    want = 0.3 * (mixing_matrix(g)[rows] @ xhat - xhat[rows])
    got = choco_pull(mixing_rows(g, rows), xhat, rows, 0.3)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def rounds(x, graph, kind, fraction, gamma, n_rounds):
    """n_rounds of CHOCO in memory, every brain on every host: (x, x̂) after them."""
    x, xhat = x.astype(np.float32).copy(), np.zeros_like(x, np.float32)
    codec = RowCodec(kind, fraction=fraction, error_feedback=False)  # CHOCO needs none
    names, rows = [str(i) for i in range(len(x))], np.arange(len(x))
    w = mixing_rows(graph, rows)
    for _ in range(n_rounds):
        for i, q in decode_delta(codec.encode_rows(x - xhat, names)).items():
            xhat[int(i)] += q
        x += choco_pull(w, xhat, rows, gamma)
    return x, xhat


def disagreement(x):
    return float(np.sqrt(((x - x.mean(0)) ** 2).sum()))


def test_exact_gossip_is_one_mixing_step_per_round():
    x0 = np.random.default_rng(1).normal(size=(N, P)).astype(np.float32)
    g = build("ring", N)
    x, _ = rounds(x0, g, "none", 1.0, 1.0, 1)
    np.testing.assert_allclose(x, mixing_matrix(g) @ x0, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["ring", "small_world", "complete"])
def test_compressed_choco_keeps_the_mean_and_reaches_consensus(kind):
    x0 = np.random.default_rng(2).normal(size=(N, P)).astype(np.float32)
    g = build(kind, N, seed=1, p=0.3)
    x, xhat = rounds(x0, g, "topk", 0.25, 0.3, 400)
    np.testing.assert_allclose(x.mean(0), x0.mean(0), atol=1e-5)  # W symmetric: mean kept
    assert disagreement(x) < 1e-3 * disagreement(x0)
    np.testing.assert_allclose(xhat, x, atol=1e-3)  # the public copies caught up


def test_clipped_pull_bounds_a_byzantine_neighbour_and_is_choco_unclipped():
    from protocols.gossip import clip_radius, clipped_pull

    own = np.zeros(3, np.float32)
    nb = np.array([[1.0, 0.0, 0.0], [0.0, 1e6, 0.0]], np.float32)  # honest, Byzantine
    w = np.array([1 / 3, 1 / 3])
    assert clip_radius(nb - own) == pytest.approx(1.0)  # the lower median: the honest one
    out = clipped_pull(w, own, nb, gamma=1.0)
    np.testing.assert_allclose(out, [1 / 3, 1 / 3, 0.0], atol=1e-6)  # the liar moved it <= w·r
    plain = clipped_pull(w, own, nb, gamma=0.5, radius=np.inf)
    np.testing.assert_allclose(plain, 0.5 * (w @ (nb - own)), rtol=1e-6)
    nan = np.vstack([nb[:1], np.full((1, 3), np.nan)])
    np.testing.assert_allclose(clipped_pull(w, own, nan, 1.0, np.inf), [1 / 3, 0, 0], atol=1e-6)

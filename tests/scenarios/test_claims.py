import numpy as np

from scenarios.claims import claim_sites, window_reduce


def _cheb(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a[:, None] - b[None]).max(-1)


def test_window_reduce_matches_brute_force():
    rng = np.random.default_rng(0)
    grid = rng.integers(0, 100, size=(9, 13))
    got_min = window_reduce(grid, 2, np.minimum)
    got_max = window_reduce(grid > 90, 1, np.maximum)
    for r in range(9):
        for c in range(13):
            win = grid[max(r - 2, 0) : r + 3, max(c - 2, 0) : c + 3]
            assert got_min[r, c] == win.min()
            assert got_max[r, c] == (grid[max(r - 1, 0) : r + 2, max(c - 1, 0) : c + 2] > 90).any()


def test_same_favourite_is_shared_out_in_index_order():
    sites = np.argwhere(np.ones((20, 20), bool))
    centre = np.array([10, 10])
    n = 5
    scores = np.repeat(-_cheb(sites, centre[None])[:, 0][None].astype(float), n, 0)
    pick = claim_sites(scores, sites, (20, 20), radius=3, rounds=6, top=4)
    goals = sites[pick]
    assert tuple(goals[0]) == (10, 10)  # the lowest index gets the favourite
    d = _cheb(goals, goals)
    assert (d[~np.eye(n, dtype=bool)] > 3).all()


def test_crowded_map_still_gives_everyone_a_site():
    sites = np.argwhere(np.ones((4, 4), bool))
    rng = np.random.default_rng(1)
    pick = claim_sites(rng.random((30, 16)), sites, (4, 4), radius=3, rounds=4)
    assert ((pick >= 0) & (pick < 16)).all()


def test_nearby_choosers_with_room_end_apart():
    rng = np.random.default_rng(2)
    sites = np.argwhere(np.ones((40, 40), bool))
    n = 12
    pos = rng.integers(15, 25, size=(n, 2))
    scores = rng.random(1600)[None] - 0.05 * _cheb(pos, sites)
    pick = claim_sites(scores, sites, (40, 40), radius=3, rounds=n)
    d = _cheb(sites[pick], sites[pick])
    assert (d[~np.eye(n, dtype=bool)] > 3).all()

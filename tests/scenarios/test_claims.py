import numpy as np

from scenarios.claims import NO_CLAIM, blocked_sites, choose_sites, everyone_hears


def test_blocked_sites_marks_sites_near_heard_claims_only_for_the_hearer():
    sites = np.argwhere(np.ones((6, 6), bool))  # (36, 2)
    rows = np.array([0, 0, 2])
    claims = np.array([[1, 1], [NO_CLAIM, NO_CLAIM], [5, 5]])
    got = blocked_sites(3, rows, claims, sites, radius=1)
    brute = np.zeros((3, 36), bool)
    for r, c in zip(rows, claims, strict=True):
        if (c >= 0).all():
            brute[r] |= np.abs(sites - c).max(1) <= 1
    np.testing.assert_array_equal(got, brute)
    assert got[0].sum() == 9 and not got[1].any() and got[2].sum() == 4  # corner: 2x2


def test_choose_sites_skips_blocked_and_falls_back_to_the_best():
    score = np.array([[5.0, 4.0, 3.0], [1.0, 2.0, 2.0], [1.0, 9.0, 0.0]])
    blocked = np.array([[True, False, False], [False, False, False], [True, True, True]])
    np.testing.assert_array_equal(choose_sites(score, blocked), [1, 1, 1])  # tie: lower index


def test_a_choice_depends_only_on_its_own_row():
    rng = np.random.default_rng(0)
    score, blocked = rng.random((8, 20)), rng.random((8, 20)) < 0.5
    whole = choose_sites(score, blocked)
    alone = [choose_sites(score[i : i + 1], blocked[i : i + 1])[0] for i in range(8)]
    np.testing.assert_array_equal(whole, alone)


def test_everyone_hears_every_other_goal():
    goals = np.array([[0, 0], [1, 1], [2, 2]])
    rows, heard = everyone_hears(goals)
    assert sorted(zip(rows.tolist(), heard[:, 0].tolist(), strict=True)) == [
        (0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1)
    ]  # fmt: skip


def test_everyone_hears_an_inspection_under_way_but_its_owner():
    goals = np.array([[0, 0], [1, 1], [2, 2]])
    rows, heard = everyone_hears(goals, (np.array([1]), np.array([[7, 8]])))
    plain_rows, plain = everyone_hears(goals)
    extra = (heard == [7, 8]).all(1)
    assert sorted(rows[extra].tolist()) == [0, 2]
    np.testing.assert_array_equal(rows[~extra], plain_rows)
    np.testing.assert_array_equal(heard[~extra], plain)

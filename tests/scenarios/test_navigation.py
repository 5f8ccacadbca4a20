from collections import deque

import numpy as np

from scenarios.navigation import MOVES, FlightMap, moves_field


def _wall() -> np.ndarray:
    nofly = np.zeros((12, 15), bool)
    nofly[1:, 7] = True  # a wall with a gap at row 0
    nofly[5:8, 2:5] = True
    return nofly


def _bfs(nofly: np.ndarray, goal: tuple[int, int]) -> np.ndarray:
    h, w = nofly.shape
    dist = np.full((h, w), h * w)
    dist[goal] = 0
    todo = deque([goal])
    while todo:
        r, c = todo.popleft()
        for dr, dc in MOVES:
            rr, cc = r + dr, c + dc
            if 0 <= rr < h and 0 <= cc < w and not nofly[rr, cc] and dist[rr, cc] > dist[r, c] + 1:
                dist[rr, cc] = dist[r, c] + 1
                todo.append((rr, cc))
    return dist


def test_field_is_breadth_first_distance_around_no_fly():
    nofly = _wall()
    goal = (6, 12)
    got = moves_field(nofly, goal[0] * 15 + goal[1]).reshape(12, 15)
    np.testing.assert_array_equal(got, _bfs(nofly, goal))
    assert got[6, 0] > 12  # must go around the wall, not through it


def test_descend_reaches_goal_in_exactly_distance_moves():
    nofly = _wall()
    fm = FlightMap(nofly)
    starts = np.array([[6, 0], [11, 3], [0, 0], [9, 5]])
    goals = np.full(4, 6 * 15 + 12)
    pos = starts.copy()
    need = fm.distance(pos, goals)
    for _ in range(int(need.max())):
        pos = pos + fm.descend(pos, goals)
        assert not nofly[pos[:, 0], pos[:, 1]].any()
    assert (pos == [6, 12]).all()
    assert (fm.descend(pos, goals) == 0).all()


def test_unreachable_is_far_and_table_grows():
    nofly = np.zeros((6, 6), bool)
    nofly[:, 3] = True  # two halves
    fm = FlightMap(nofly)
    assert fm.distance(np.array([[0, 0]]), np.array([5]))[0] == 36
    for g in range(0, 36, 2):
        if not nofly.ravel()[g]:
            fm.rows(np.array([g]))
    assert len(fm.row) > 4 and fm.distance(np.array([[1, 1]]), np.array([0]))[0] == 1

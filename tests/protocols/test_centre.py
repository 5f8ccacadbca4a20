"""Hub election with terms, as every host of a `dynamic` team runs it."""

import numpy as np
import pytest

from protocols.centre import Election, elect


def test_a_healthy_hub_stays_against_a_near_equal_and_a_silent_one_is_replaced():
    comp = np.array([0.60, 0.63, 0.80], np.float32)
    alive = np.array([True, True, True])
    assert elect(comp[:2], alive[:2], hub=0, hysteresis=0.05) == 0  # 0.63 is not enough
    assert elect(comp, alive, hub=0, hysteresis=0.05) == 2  # 0.80 is
    assert elect(comp, np.array([False, True, False]), hub=0, hysteresis=0.05) == 1  # failover
    with pytest.raises(RuntimeError, match="no brain sent a heartbeat"):
        elect(comp, np.zeros(3, bool), hub=0, hysteresis=0.05)


def test_ties_go_to_the_lowest_id():
    comp = np.array([0.5, 0.9, 0.9], np.float32)
    assert elect(comp, np.ones(3, bool), hub=0, hysteresis=0.0) == 1


def test_the_term_rises_only_when_the_hub_changes():
    e = Election(3, timeout=2, hysteresis=0.05)
    e.hear([0, 1, 2], [0.5, 0.5, 0.5], term=0)
    assert e.close_round() == 0 and e.term == 0
    e.hear([0, 1, 2], [0.5, 0.9, 0.5], term=0)
    assert e.close_round() == 1 and e.term == 1


def test_heartbeats_of_an_older_term_are_ignored():
    e = Election(2, timeout=3, hysteresis=0.0)
    e.hear([0, 1], [0.2, 0.9], term=0)
    e.close_round()
    assert (e.hub, e.term) == (1, 1)
    e.hear([0, 1], [0.99, 0.1], term=0)  # stale: sent before the term changed
    e.hear([1], [0.9], term=1)
    assert e.close_round() == 1 and e.competence[0] == pytest.approx(0.2)


def test_a_hub_silent_for_timeout_rounds_is_replaced_and_hosts_agree():
    hosts = [Election(3, timeout=2, hysteresis=0.05) for _ in range(2)]
    for e in hosts:
        e.hear([0, 1, 2], [0.9, 0.6, 0.5], term=0)
        e.close_round()
    history = []
    for _ in range(2):  # the hub (brain 0) falls silent
        for e in hosts:
            e.hear([1, 2], [0.6, 0.5], term=hosts[0].term)
            e.close_round()
        history.append({(e.hub, e.term) for e in hosts})
    assert history == [{(0, 0)}, {(1, 1)}]  # replaced after `timeout` silent rounds, by all

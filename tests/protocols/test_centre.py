"""Hub election: one hub per term under partitions, failover speed, hysteresis, ties, terms."""

from collections import defaultdict

import pytest

from protocols.centre import NO_HUB, Centre
from protocols.messages import BROADCAST, Kind, Message


class Net:
    """Nodes exchanging messages in heartbeat periods; messages land within their period."""

    def __init__(self, competences, timeout=3, hysteresis=0.05):
        ids = range(len(competences))
        self.comp = dict(enumerate(competences))
        self.nodes = {i: Centre(i, ids, timeout, hysteresis) for i in ids}
        self.down: set[int] = set()
        self.groups: list[set[int]] | None = None  # partition: only within a group
        self.hubs_per_term: dict[int, set[int]] = defaultdict(set)

    def linked(self, a, b):
        return self.groups is None or any(a in g and b in g for g in self.groups)

    def period(self):
        queue = []
        for i, c in self.nodes.items():
            if i not in self.down:
                queue += [(i, o) for o in c.tick(self.comp[i], (float(i), 0.0))]
        while queue:
            src, out = queue.pop(0)
            targets = self.nodes if out.recipient == BROADCAST else [out.recipient]
            for dst in targets:
                if dst == src or dst in self.down or not self.linked(src, dst):
                    continue
                msg = Message(out.kind, src, out.recipient, term=out.term, body=out.body)
                queue += [(dst, o) for o in self.nodes[dst].handle(msg)]
            self.record()

    def record(self):
        for i, c in self.nodes.items():
            if c.is_hub and i not in self.down:
                self.hubs_per_term[c.term].add(i)

    def run(self, periods):
        for _ in range(periods):
            self.period()

    def agreed_hub(self, among):
        views = {(self.nodes[i].term, self.nodes[i].hub) for i in among}
        return views.pop()[1] if len(views) == 1 else None


def test_most_competent_becomes_hub_ties_by_id():
    net = Net([0.5, 0.9, 0.9, 0.2, 0.7])
    net.run(6)
    assert net.agreed_hub(range(5)) == 1


def test_failover_within_timeout_periods_of_first_missed_heartbeat():
    net = Net([0.5, 0.9, 0.8, 0.2, 0.7, 0.1, 0.3], timeout=3)
    net.run(6)
    assert net.agreed_hub(range(7)) == 1
    old_term = net.nodes[0].term
    net.down.add(1)  # hub crashes right after this period's heartbeat
    live = [0, 2, 3, 4, 5, 6]
    net.period()  # the first period whose heartbeat from the hub is missing
    periods = 0
    while net.agreed_hub(live) != 2 and periods < 10:
        net.period()
        periods += 1
    assert net.agreed_hub(live) == 2
    assert periods <= 3  # k = 3 silent heartbeats, then the election completes in-period
    assert net.nodes[2].term > old_term


@pytest.mark.parametrize("split", [([0, 1, 2], [3, 4, 5, 6]), ([0, 1, 2, 3], [4, 5, 6, 7])])
def test_at_most_one_hub_per_term_under_partition(split):
    n = sum(len(g) for g in split)
    net = Net([0.1 * (i + 1) for i in range(n)])
    net.run(6)
    net.groups = [set(g) for g in split]
    net.run(12)
    net.comp = {i: 1.0 - 0.1 * i for i in range(n)}  # ranks flip: challengers everywhere
    net.run(12)
    net.groups = None
    net.run(10)
    assert all(len(h) <= 1 for h in net.hubs_per_term.values()), dict(net.hubs_per_term)
    assert net.agreed_hub(range(n)) not in (None, NO_HUB)


def test_minority_side_elects_nobody():
    net = Net([0.1, 0.2, 0.3, 0.9, 0.8])
    net.run(6)
    assert net.agreed_hub(range(5)) == 3
    net.groups = [{0, 1}, {2, 3, 4}]  # 2 of 5 cannot reach a majority of 3
    net.run(10)
    assert not any(net.nodes[i].is_hub for i in (0, 1))
    assert net.nodes[1].term > net.nodes[3].term  # they tried, in vain
    assert net.agreed_hub([2, 3, 4]) == 3


def test_hysteresis_keeps_a_near_equal_hub_and_yields_to_a_clear_winner():
    net = Net([0.9, 0.5, 0.5], hysteresis=0.05)
    net.run(6)
    assert net.agreed_hub(range(3)) == 0
    net.comp[1] = 0.93
    net.run(6)
    assert net.agreed_hub(range(3)) == 0
    net.comp[1] = 0.99
    net.run(6)
    assert net.agreed_hub(range(3)) == 1


def test_older_terms_are_ignored_and_terms_only_grow():
    c = Centre(0, range(3))
    hb = {"position": [0, 0], "competence": 0.5, "hub": 2}
    c.handle(Message(Kind.HEARTBEAT, 2, BROADCAST, term=5, body=hb))
    assert (c.term, c.hub) == (5, 2)
    c.handle(Message(Kind.HEARTBEAT, 1, BROADCAST, term=4, body={**hb, "hub": 1}))
    assert (c.term, c.hub) == (5, 2)
    assert c.handle(Message(Kind.ELECT, 1, 0, term=3, body={"type": "request"})) == []
    c.handle(Message(Kind.HEARTBEAT, 1, BROADCAST, term=6, body={"bad": 1}))  # dropped
    assert c.term == 5


def test_bad_construction():
    with pytest.raises(ValueError, match="members"):
        Centre(9, range(3))

"""Hub election for the `dynamic` topology: the most competent live brain leads, one per term.

Each node runs a `Centre`; the host feeds it every HEARTBEAT and ELECT message it receives
and calls `tick` once per heartbeat period; both return the messages to send.

    centre = Centre(me=3, members=range(16), timeout=3, hysteresis=0.05)
    for out in centre.tick(competence=0.8, position=(12.0, 4.5)):  # once per period
        frames = session.encode(out.kind, recipient=out.recipient, term=out.term, body=out.body)
    for out in centre.handle(delivery.message):                     # every HEARTBEAT / ELECT
        ...
    centre.hub, centre.term, centre.is_hub

Rules (Raft-like terms, competence instead of log length):
- terms only increase; a message of an older term is ignored entirely;
- a node starts an election (term + 1, votes for itself, broadcasts ELECT request) when it is
  the best live node by (competence desc, id asc) and either the hub has been silent for
  `timeout` periods (or there is none) or its competence beats the hub's by > `hysteresis`;
- a node grants at most one vote per term, and only if its hub is gone or the candidate beats
  the hub by > hysteresis (so a healthy hub is not unseated by a near-equal);
- a candidate with votes from a strict majority of `members` is the hub of that term and
  announces it in its heartbeats. One vote per node per term and a majority quorum give at
  most one hub per term, also under a partition (a minority side elects nobody).
Failover: the hub's last heartbeat at period p is detected missing after `timeout` periods and
the election completes in the same period: a new hub at period p + 1 + timeout.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from protocols.messages import BROADCAST, Kind, Message

__all__ = ["Centre", "Outgoing"]

NO_HUB = -1


@dataclass(frozen=True)
class Outgoing:
    """A message the host should send (encode with its Session)."""

    kind: Kind
    recipient: int
    term: int
    body: dict[str, Any] = field(default_factory=dict)


class Centre:
    """One node's view of the hub; a pure state machine (no I/O, no clock of its own)."""

    def __init__(
        self, me: int, members: Iterable[int], timeout: int = 3, hysteresis: float = 0.05
    ) -> None:
        self.me, self.members = me, frozenset(members)
        if me not in self.members:
            raise ValueError(f"node {me} must be one of the members")
        if timeout < 1:
            raise ValueError(f"timeout must be >= 1 heartbeat period, got {timeout}")
        self.timeout, self.hysteresis = timeout, hysteresis
        self.term, self.hub = 0, NO_HUB
        self.period = 0
        self.competence = 0.0
        self.heard: dict[int, tuple[float, int]] = {}  # node -> (competence, period last heard)
        self.voted_term = 0
        self.votes: set[int] = set()
        self.candidate_since: int | None = None

    @property
    def is_hub(self) -> bool:
        return self.hub == self.me

    def _alive(self, node: int) -> bool:
        if node == self.me:
            return True
        return node in self.heard and self.period - self.heard[node][1] <= self.timeout

    def _competence(self, node: int) -> float:
        return self.competence if node == self.me else self.heard.get(node, (0.0, 0))[0]

    def _hub_ok(self, challenger_competence: float) -> bool:
        """Whether the current hub should stay against a challenger of that competence."""
        if self.hub == NO_HUB or not self._alive(self.hub):
            return False
        return challenger_competence <= self._competence(self.hub) + self.hysteresis

    def _best_live(self) -> int:
        live = [n for n in (self.me, *self.heard) if self._alive(n)]
        if self.hub != NO_HUB and not self._alive(self.hub) and self.hub in live:
            live.remove(self.hub)
        return min(live, key=lambda n: (-self._competence(n), n))

    def _heartbeat(self, position: tuple[float, float]) -> Outgoing:
        body = {"position": list(position), "competence": self.competence, "hub": self.hub}
        return Outgoing(Kind.HEARTBEAT, BROADCAST, self.term, body)

    def tick(self, competence: float, position: tuple[float, float] = (0.0, 0.0)) -> list[Outgoing]:
        """Start of a heartbeat period: a heartbeat, maybe an election request."""
        self.period += 1
        self.competence = float(competence)
        out = [self._heartbeat(position)]
        if self.period <= 1 or self.is_hub or self._hub_ok(self.competence):
            return out  # (period 1: hear the others' heartbeats before running)
        if self._best_live() != self.me:
            return out
        if self.candidate_since is not None and self.period - self.candidate_since < self.timeout:
            return out  # an election of ours is still running
        self.term += 1
        self.hub, self.voted_term, self.votes = NO_HUB, self.term, {self.me}
        self.candidate_since = self.period
        body = {"type": "request", "candidate": self.me, "competence": self.competence}
        out.append(Outgoing(Kind.ELECT, BROADCAST, self.term, body))
        return out + self._maybe_win(position)

    def handle(self, msg: Message) -> list[Outgoing]:
        """A received HEARTBEAT or ELECT (others ignored); older terms are ignored."""
        if msg.sender == self.me or msg.sender not in self.members or msg.term < self.term:
            return []
        body = msg.body
        try:
            if msg.kind == Kind.HEARTBEAT:
                self._on_heartbeat(
                    msg.sender, msg.term, float(body["competence"]), int(body["hub"])
                )
                return []
            if msg.kind == Kind.ELECT:
                return self._on_elect(msg.sender, msg.term, body)
        except (KeyError, TypeError, ValueError):
            return []  # a malformed body from a peer is dropped, like any bad message
        return []

    def _adopt(self, term: int, hub: int) -> None:
        if term > self.term:
            self.term, self.hub, self.votes, self.candidate_since = term, NO_HUB, set(), None
        if hub != NO_HUB and self.hub == NO_HUB:
            self.hub = hub

    def _on_heartbeat(self, sender: int, term: int, competence: float, hub: int) -> None:
        self.heard[sender] = (competence, self.period)
        self._adopt(term, hub if hub in self.members else NO_HUB)

    def _on_elect(self, sender: int, term: int, body: dict) -> list[Outgoing]:
        kind, competence = body["type"], float(body["competence"])
        if kind == "vote" and term == self.term and self.candidate_since is not None:
            self.votes.add(sender)
            return self._maybe_win((0.0, 0.0))
        if kind != "request" or term <= self.voted_term or self._hub_ok(competence):
            return []
        self.heard[sender] = (competence, self.period)
        self._adopt(term, NO_HUB)
        self.voted_term = term
        body = {"type": "vote", "candidate": sender, "competence": self.competence}
        return [Outgoing(Kind.ELECT, sender, term, body)]

    def _maybe_win(self, position: tuple[float, float]) -> list[Outgoing]:
        if self.candidate_since is None or 2 * len(self.votes) <= len(self.members):
            return []
        self.hub, self.candidate_since = self.me, None
        return [self._heartbeat(position)]  # announce at once, not a period later

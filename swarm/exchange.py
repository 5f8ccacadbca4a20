"""Knowledge rounds between hosts: named phases, and what a round may read and change.

A round is a short sequence of `Phase`s. In each phase every host first sends, then receives
exactly the messages the phase expects (a list of (kind, sender) pairs, so a host knows what
is missing and from whom), reading (checking) each one as it arrives, then applies what it
read in (sender, seq) order, so a seed gives the same result whatever the timing. A message
that cannot be read (malformed batch, non-finite values, anything that raises) is a counted
reject, changes nothing and does not count as arrived. The host owns the sockets and the
counters; an exchange only decides contents, through its `steps` table:

    Step(send=round -> [Outgoing], expect=round -> [(Kind, sender)],
         read=Delivery -> content (raises to reject), apply=(round, [content]) -> None,
         follow=Delivery -> [(Kind, sender)])   # optional: what an accepted message announces

`follow` serves messages split by their real size (a batch of evidence increments, whose
size only the sender knows): the receiver expects the first batch of a host's run of brains,
and each batch it accepts names the next one (the run's next brain), if any.

Message formats (batching, belief copies, row encoding) are in `protocols.batching`; the
round algorithms are pure functions there too (`protocols.gossip`, `protocols.aggregation`,
`protocols.centre`). The kinds of round: `swarm.exchange_gossip` and `swarm.exchange_hub`;
`swarm.host.EXCHANGES` picks one for a team plan.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np

from protocols.batching import Outgoing, RowLayout
from protocols.codec import Delivery
from protocols.config import ProtocolConfig
from protocols.evidence import Increment
from protocols.messages import Kind
from protocols.topology import build
from scenarios.policy_base import Evidence
from swarm.teams import TeamPlan

if TYPE_CHECKING:
    from agents.bank import BrainBank
    from scenarios.policy_base import Policy
    from swarm.faults import FaultPlan

__all__ = [
    "Context",
    "Exchange",
    "Expected",
    "NoExchange",
    "Phase",
    "Step",
    "announces_nothing",
    "evidence_of",
    "increment_of",
    "team_graph",
]

Expected = list[tuple[Kind, int]]
"""The messages a phase waits for: (kind, header sender) of each, the sender's first brain."""


class Phase(Enum):
    """A phase of a knowledge round (all hosts send, then all receive)."""

    ELECT = "elect"  # dynamic hub: every brain's heartbeat to every host
    PROPOSE = "propose"  # dynamic with faults: ELECT requests of drones that want a new hub
    VOTE = "vote"  # dynamic with faults: ELECT votes, each to its candidate
    ANNOUNCE = "announce"  # dynamic with faults: a candidate voted in by a majority says so
    UPLOAD = "upload"  # hub: every brain's delta (and belief) to the hub's host
    BROADCAST = "broadcast"  # hub: the aggregate (and the hub's belief) to every host
    MIX = "mix"  # gossip: q_i to the hosts that need brain i, then the consensus step


def announces_nothing(_: Delivery) -> Expected:
    """The default `Step.follow`: an accepted message announces no further message. A module
    function, not a lambda, so a host's exchange pickles into its restart snapshot
    (`swarm.hoststate`)."""
    return []


@dataclass(frozen=True)
class Step:
    """One phase of an exchange: what it sends, which messages it expects, how it reads one
    (checks only: raise to reject it), how it applies the round's readings, and which further
    messages an accepted one announces (`follow`, called only once it is accepted)."""

    send: Callable[[int], list[Outgoing]]
    expect: Callable[[int], Expected]
    read: Callable[[Delivery], Any]
    apply: Callable[[int, list[Any]], None]
    follow: Callable[[Delivery], Expected] = announces_nothing


@dataclass
class Context:
    """What a round may read and change on one host.

    `local`: global ids of this host's brains, ascending (row r of the bank is brain local[r]).
    `competence()`: (K,) float32 recent verified precision of the local brains, computed when
    a round asks for it (only `dynamic` heartbeats do).
    `positions`: (N, 2) float32 drone (row, col) of the last tick, for `radio` and heartbeats.
    `faults`: the mission's injected faults (`swarm.faults`), None when it has none.
    """

    host: int
    plan: TeamPlan
    protocol: ProtocolConfig
    seed: int
    bank: BrainBank
    policy: Policy
    local: np.ndarray
    competence: Callable[[], np.ndarray]
    positions: np.ndarray | None = None
    faults: FaultPlan | None = None


class Exchange:
    """A kind of knowledge round: `steps` maps each of its phases to a `Step`.

    It also guards what leaves this host: `read_rows()` gives the local brains' (K, P)
    weights after putting any brain whose weights are no longer finite back to its last
    good weights (quarantine: counted in `quarantined`), so divergence cannot spread."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.steps: dict[Phase, Step] = {}
        self.quarantined = 0  # brains put back to their last good weights, this mission
        self.layout = RowLayout(ctx.bank.flat_layout())
        self._good = ctx.bank.read_flat()  # (K, P) the last finite weights (fresh brains)

    @property
    def phases(self) -> tuple[Phase, ...]:
        return tuple(self.steps)

    def audience(self, phase: Phase, kind: Kind, brain: int) -> int:
        """How many drones receive brain's message of `kind` in `phase` as real devices would
        (point-to-point: one message per receiving drone); `swarm.traffic` counts it so."""
        raise NotImplementedError

    def read_rows(self) -> np.ndarray:
        """(K, P) float32 copy of the local brains' weights, every row finite (see class)."""
        rows = self.ctx.bank.read_flat()
        bad = ~np.isfinite(rows).all(axis=1)
        if bad.any():
            self.ctx.bank.restore_flat(np.flatnonzero(bad), self._good[bad])
            rows[bad] = self._good[bad]
            self.quarantined += int(bad.sum())
        self._good = rows.copy()
        return rows


class NoExchange(Exchange):
    """No sharing (`isolated`, `single_large`; `central` shares raw OBS every tick instead)."""

    def __init__(self, ctx: Context | None) -> None:  # may hold no brain at all
        self.ctx, self.steps, self.quarantined = ctx, {}, 0  # type: ignore[assignment]


def team_graph(ctx: Context) -> nx.Graph:
    """The configured graph over the team's brains (`radio`: from ctx.positions, in cells)."""
    t = ctx.protocol.topology
    n = ctx.plan.n_brains
    if t.kind == "radio":
        pos = ctx.positions
        if pos is None:  # before the first tick every drone is at its start: assume in range
            pos = np.zeros((n, 2), np.float32)
        return build("radio", n, positions=pos, radio_range=t.radio_range)
    return build(t.kind, n, seed=ctx.seed, degree=t.degree, p=t.p, edges=list(t.edges))


def increment_of(origin: int, stamp: int, ev: Evidence) -> Increment:
    """A policy's evidence as the wire's increment, named (origin, stamp)."""
    return Increment(origin, stamp, ev.cells, ev.values, ev.pinned, ev.truth)


def evidence_of(inc: Increment) -> Evidence:
    """A received increment as the evidence a policy fuses."""
    return Evidence(inc.cells, inc.values, inc.pinned, inc.truth)

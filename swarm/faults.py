"""Injected faults of one mission: who is silent, which links fail, who lies (docs/faults.md).

`FaultPlan(cfg.faults, seed, n, sync_every)` turns a run's `faults:` section into decisions
that every host computes alike from the mission's seed alone: the fate of each directed
brain link in each round, which drones have crashed, which are Byzantine and what they send.
Randomness is keyed by (seed, round) for links and (seed, round, brain) for attacks, never
by host, so a seed gives the same faults on any number of hosts.

Faults act at the wire. A crashed brain sends nothing; a Byzantine brain's host really sends
its attack, in its own correctly signed message (so a NaN attack, which every receiver rejects
as `payload`, costs no honest brain its message); a lost or partitioned link carries nothing
when no brain on the receiving host hears the sender, and a host that receives a payload some
of its brains did not hear keeps, per such link, what those brains missed (`LinkViews`).
Rounds are barriers: both ends know from the plan which messages a round brings (a deployed
node would time out instead), so a fault never stalls a round. The control plane (the
HEARTBEATs and ELECTs of `dynamic`) takes the same fates: a drone hears a control message only
on a link that delivers now (a late one is lost for its round), and the hub is elected by a
per-drone majority vote (`swarm.exchange_vote`), so one term never has two hubs.

Fates of a link in a round (`FaultPlan.fates`): `LOST` (random loss), `CUT` (partition),
`DEAD` (an end has crashed), `NOW` (delivered), or d > 0 (delivered d rounds late).

    plan = FaultPlan(cfg.faults, seed=3, n=16, sync_every=10)
    plan.fate(round_idx, src, dst) -> int;   plan.alive(round_idx, brains) -> [int]
    plan.split(round_idx, brains) -> (honest, byzantine, expected)   # messages and barrier
    bad = plan.attack(round_idx, brain, u, view)
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from protocols.attacks import AttackParams, attack, non_finite

if TYPE_CHECKING:
    from scenarios.base import Actions
    from swarm.fault_config import FaultsConfig

__all__ = ["CUT", "DEAD", "FAULT_STATS", "LOST", "NOW", "FaultPlan", "LinkViews"]

LOST, CUT, DEAD, NOW = -1, -2, -3, 0

#: Counters a host reports in `stats()` (summed over hosts, per mission in results.json):
#: links that carried nothing in a round (lost at random, cut by a partition), links late,
#: Byzantine payloads sent (one per brain per round, whatever the destinations) and drones
#: that crashed.
FAULT_STATS = (
    "fault_lost",
    "fault_partitioned",
    "fault_delayed",
    "byzantine_sent",
    "crashed_drones",
)

_LINK_SALT, _BYZ_SALT, _ATTACK_SALT = 0xFA17, 0xB12, 0xA77
_NEVER = np.iinfo(np.int64).max


class FaultPlan:
    """The faults of one mission on `n` brains (= drones); see the module docstring."""

    def __init__(self, cfg: FaultsConfig, seed: int, n: int, sync_every: int) -> None:
        self.cfg, self.seed, self.n, self.sync_every = cfg, int(seed), int(n), int(sync_every)
        self.loss = np.full((n, n), cfg.loss)
        self.delay = np.full((n, n), cfg.delay)
        for link in cfg.links:
            if link.src < n and link.dst < n:
                self.loss[link.src, link.dst] = link.loss
                self.delay[link.src, link.dst] = link.delay
        np.fill_diagonal(self.loss, 0.0)
        np.fill_diagonal(self.delay, 0.0)
        self.crash_tick = np.full(n, _NEVER, np.int64)
        for c in cfg.crashes:
            if c.drone < n:
                self.crash_tick[c.drone] = min(self.crash_tick[c.drone], c.tick)
        self.hub_crashed: int | None = None  # the brain the hub crash took, once it happened
        b = cfg.byzantine
        self.byzantine = np.zeros(n, bool)
        if b.drones:
            self.byzantine[[d for d in b.drones if d < n]] = True
        elif b.fraction:
            count = round(b.fraction * n)
            pick = np.random.default_rng([self.seed, _BYZ_SALT]).permutation(n)[:count]
            self.byzantine[pick] = True
        self.params = AttackParams(sigma=b.sigma, scale=b.scale, tau=b.tau)
        self.counts: Counter[str] = Counter()
        self._fates: dict[int, np.ndarray] = {}
        self._muted = np.zeros(n, bool)  # drones already counted as crashed

    # -- time -----------------------------------------------------------------------------
    def tick_of(self, round_idx: int) -> int:
        """The tick round `round_idx` is held at (after its `sync_every` ticks)."""
        return (round_idx + 1) * self.sync_every

    def crashed(self, round_idx: int) -> np.ndarray:
        """(n,) bool: brains silent in this round."""
        return self.crash_tick <= self.tick_of(round_idx)

    def alive(self, round_idx: int, brains: Sequence[int]) -> list[int]:
        """`brains` without those crashed by this round (order kept)."""
        dead = self.crashed(round_idx)
        return [int(b) for b in brains if not dead[b]]

    def begin_round(self, round_idx: int, hub: int | None) -> None:
        """The hub crash, once its tick is reached: `hub` (the hub at the start of the
        round, the same on every host) crashes now. Idempotent; None: no hub."""
        t = self.cfg.hub_crash
        if t is None or hub is None or self.hub_crashed is not None:
            return
        if self.tick_of(round_idx) >= t:
            self.hub_crashed = hub
            self.crash_tick[hub] = min(self.crash_tick[hub], self.tick_of(round_idx))
            self._fates.clear()  # crashes change fates from here on

    # -- links ----------------------------------------------------------------------------
    def fates(self, round_idx: int) -> np.ndarray:
        """(n, n) int: the fate of link src -> dst in this round (module docstring)."""
        got = self._fates.get(round_idx)
        if got is not None:
            return got
        u = np.random.default_rng([self.seed, _LINK_SALT, round_idx]).random((self.n, self.n))
        out = np.zeros((self.n, self.n), np.int64)
        late = (u >= self.loss) & (u < self.loss + self.delay)
        out[late] = self.cfg.delay_rounds
        out[u < self.loss] = LOST
        tick = self.tick_of(round_idx)
        for p in self.cfg.partitions:
            if p.start <= tick and (p.end is None or tick < p.end):
                group = np.full(self.n, len(p.groups))
                for g, ids in enumerate(p.groups):
                    group[[i for i in ids if i < self.n]] = g
                out[group[:, None] != group[None, :]] = CUT
        dead = self.crashed(round_idx)
        out[dead, :] = DEAD
        out[:, dead] = DEAD
        np.fill_diagonal(out, NOW)
        if len(self._fates) > 8:  # rounds only move forward: keep a few
            self._fates.pop(min(self._fates))
        self._fates[round_idx] = out
        return out

    def fate(self, round_idx: int, src: int, dst: int) -> int:
        return int(self.fates(round_idx)[src, dst])

    def hears(self, round_idx: int, src: int, dst: int) -> bool:
        """Whether dst gets src's message of this round in this round."""
        return self.fate(round_idx, src, dst) == NOW

    def count_links(self, round_idx: int, src: Sequence[int], dst: int) -> None:
        """Count the fates of links src -> dst (the receiver's host counts, once each)."""
        fates = self.fates(round_idx)[np.asarray(src, np.int64), dst]
        self.counts["fault_lost"] += int((fates == LOST).sum())
        self.counts["fault_partitioned"] += int((fates == CUT).sum())
        self.counts["fault_delayed"] += int((fates > 0).sum())

    # -- Byzantine senders ----------------------------------------------------------------
    def lying(self, round_idx: int) -> np.ndarray:
        """(n,) bool: Byzantine brains attacking in this round."""
        return self.byzantine & (self.tick_of(round_idx) >= self.cfg.byzantine.start)

    def split(
        self, round_idx: int, brains: Sequence[int]
    ) -> tuple[list[int], list[int], list[int]]:
        """(honest, Byzantine, Byzantine whose DELTA a receiver accepts) of `brains`.

        Honest brains share batched messages; each Byzantine brain speaks in its own
        messages, and a receiver expects its DELTA unless the attack is non-finite (then
        rejected as `payload`; its BELIEF is finite and expected)."""
        lying = self.lying(round_idx)
        honest = [b for b in brains if not lying[b]]
        byz = [b for b in brains if lying[b]]
        readable = [] if non_finite(self.cfg.byzantine.attack) else byz
        return honest, byz, readable

    def attack(self, round_idx: int, brain: int, u: np.ndarray, view: np.ndarray) -> np.ndarray:
        """What Byzantine `brain` sends instead of its update u (P,); view (m, P) as in
        `protocols.attacks.attack`. Counted once per brain and round."""
        self.counts["byzantine_sent"] += 1
        rng = np.random.default_rng([self.seed, _ATTACK_SALT, round_idx, brain])
        return attack(self.cfg.byzantine.attack, u, view, rng, self.params)

    def poisons(self) -> bool:
        """Whether the attack sends non-finite values (encoded as plain fp32 to survive)."""
        return non_finite(self.cfg.byzantine.attack)

    # -- drones ---------------------------------------------------------------------------
    def mute(self, actions: Actions, drone_ids: np.ndarray, tick: int) -> None:
        """A crashed drone stops: no move, no flag (in place); counts each crash once."""
        ids = np.asarray(drone_ids, np.int64)
        inside = ids < self.n
        dead = np.zeros(ids.size, bool)
        dead[inside] = self.crash_tick[ids[inside]] <= tick
        if not dead.any():
            return
        actions.move[dead] = 0
        actions.flag[dead] = False
        new = ids[dead][~self._muted[ids[dead]]]
        self._muted[new] = True
        self.counts["crashed_drones"] += int(new.size)


class LinkViews:
    """What each local brain missed of its neighbours' public copies (gossip with faults).

    A host holds one copy x̂_j per brain j. When it receives q_j but a local neighbour i of j
    did not hear it (lost, cut, or late), i's view of x̂_j is the copy minus what it missed:
    `missed[(i, j)]`; a late q_j is released into i's view `delay_rounds` later. A host that
    receives nothing of j in a round has all its brains miss it alike, so its copy is stale
    by exactly that much for each of them."""

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self.missed: dict[tuple[int, int], np.ndarray] = {}
        self.pending: dict[int, list[tuple[int, int, np.ndarray]]] = defaultdict(list)

    def receive(self, round_idx: int, src: int, q: np.ndarray, receivers: Sequence[int]) -> None:
        """q (P,) of brain src arrived here; `receivers` are its local neighbours."""
        fates = self.plan.fates(round_idx)
        for i in receivers:
            f = int(fates[src, i])
            if f == NOW:
                continue
            key = (int(i), int(src))
            self.missed[key] = self.missed.get(key, 0.0) + q
            if f > 0:
                self.pending[round_idx + f].append((int(i), int(src), q))

    def release(self, round_idx: int) -> None:
        """Late messages due in this round join their receivers' views."""
        for i, j, q in self.pending.pop(round_idx, []):
            self.missed[(i, j)] = self.missed[(i, j)] - q

    def view(self, i: int, js: Sequence[int], xhat: np.ndarray) -> np.ndarray:
        """(m, P) brain i's views of the copies of its neighbours js."""
        out = xhat[np.asarray(js, np.int64)].astype(np.float32, copy=True)
        for r, j in enumerate(js):
            m = self.missed.get((int(i), int(j)))
            if m is not None:
                out[r] -= m
        return out

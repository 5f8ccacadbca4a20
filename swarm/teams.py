"""Teams: how many brains a team has, which model, where they live, how they share.

A `TeamPlan` is computed once per team × seed on the driver and sent to every host, so all
hosts agree on who owns which drone and brain without talking. It is a pure function of the
team name, the drone count and the host count: easy to test, identical on every host.

| team | drones | brains | model | sharing |
|---|---|---|---|---|
| `swarm` | N | N, sharded | small | `gossip` (graph topologies) or `hub` (`star`, `dynamic`) |
| `isolated` | N | N, sharded | small | `none` |
| `single_large` | 1 | 1 on host 0 | large | `none` |
| `central` | N | 1 shared-weight model on host 0 | large | `central` (raw OBS upload) |
| `single_large_budget` | 1 | 1 on host 0 | large | `none`; N x battery and N x horizon |
| `scripted` | N | none: the fixed detector | `fixed` | `none` |

`single_large` is the "one god model": one drone, the large brain, the same horizon, so it
differs from the N-drone teams in bodies as well as brains. `single_large_budget` gives that
drone the whole team's budget instead (matched total budget, as search-and-rescue benchmarks
split one budget over the drones): N times the battery and N times the flight time
(`budget_factor`; the configuration it flies is `swarm.variants.resolve`'s). `scripted` flies
the world's scripted policy (`Scenario.scripted_policy`: a lawnmower sweep in drone_search, a
cyclic tour in litter_patrol) with the fixed, hand-set detector (`scenarios.policies.
fixed_detector`): no brain, no learning, no sharing, to show whether learning matters at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

__all__ = [
    "LARGE_TEAMS",
    "ONE_DRONE_TEAMS",
    "TEAMS",
    "ModelKind",
    "Sharing",
    "TeamName",
    "TeamPlan",
    "budget_factor",
    "make_plan",
    "split_even",
    "team_drones",
]

TeamName = Literal[
    "swarm", "isolated", "single_large", "central", "single_large_budget", "scripted"
]
TEAMS: tuple[TeamName, ...] = get_args(TeamName)  # the one team table; config reads it too
#: Teams that fly one drone whatever the run's `drones` (N).
ONE_DRONE_TEAMS: tuple[TeamName, ...] = ("single_large", "single_large_budget")
#: Teams whose brain is the large model (`model.large`).
LARGE_TEAMS: tuple[TeamName, ...] = ("single_large", "single_large_budget", "central")
Sharing = Literal["gossip", "hub", "none", "central"]
#: Which model a team's drones decide with: the small or large Yan brain, or the fixed detector.
ModelKind = Literal["small", "large", "fixed"]
HUB_TOPOLOGIES = ("star", "dynamic")


def split_even(n: int, parts: int) -> list[np.ndarray]:
    """Split ids 0..n-1 into `parts` contiguous shards whose sizes differ by at most one."""
    if parts < 1:
        raise ValueError(f"need at least one host, got {parts}")
    return [np.asarray(s, dtype=np.int64) for s in np.array_split(np.arange(n), parts)]


@dataclass(frozen=True)
class TeamPlan:
    """Where a team's drones and brains live.

    `drone_shards[h]`: global drone ids whose observations host h receives (drone order);
    every non-empty shard of a team of two or more drones holds at least two.
    `brain_owner[b]`: host holding brain b. For `central` there is one brain slot per drone
    (recurrent states of one shared-weight model) and all live on `centre_host`.
    """

    team: str
    n_drones: int
    n_hosts: int
    model: ModelKind
    shared: bool
    sharing: Sharing
    drone_shards: list[np.ndarray]
    brain_owner: np.ndarray
    centre_host: int = 0

    @property
    def n_brains(self) -> int:
        """Brain slots in the team (recurrent states for `central`)."""
        return int(self.brain_owner.size)

    def brains_on(self, host: int) -> np.ndarray:
        """Global ids of the brains host `host` holds, ascending. Shape (K,)."""
        return np.flatnonzero(self.brain_owner == host)


def team_drones(team: str, n: int) -> int:
    """Drones a team flies in a world of the run's `n` drones: 1 for `ONE_DRONE_TEAMS`, else n."""
    if team not in TEAMS:
        raise ValueError(f"unknown team {team!r}: choose one of {', '.join(TEAMS)}")
    return 1 if team in ONE_DRONE_TEAMS else n


def budget_factor(team: str, n: int) -> int:
    """How many drones' budget (battery and flight time) one drone of `team` carries when
    the run flies `n` drones: n for `single_large_budget` (the whole team's budget in one
    body), 1 for every other team."""
    if team not in TEAMS:
        raise ValueError(f"unknown team {team!r}: choose one of {', '.join(TEAMS)}")
    return n if team == "single_large_budget" else 1


def make_plan(team: str, n_drones: int, n_hosts: int, topology: str = "ring") -> TeamPlan:
    """Plan `team` for a world of `n_drones` drones (see `team_drones`)."""
    if n_drones < 1 or team_drones(team, n_drones) != n_drones:
        raise ValueError(
            f"team {team!r} cannot fly n_drones={n_drones}: create its world with "
            f"n_drones=swarm.teams.team_drones(team, N) (1 for {', '.join(ONE_DRONE_TEAMS)})"
        )
    if team in ONE_DRONE_TEAMS:
        shards = [np.arange(1 if h == 0 else 0, dtype=np.int64) for h in range(n_hosts)]
        return TeamPlan(team, 1, n_hosts, "large", False, "none", shards, np.zeros(1, np.int64))
    # No host holds a lone brain of a larger team: torch's batch-1 matrix kernels round
    # differently from larger batches, which would make results depend on the host count
    # (docs/architecture.md); hosts beyond n_drones // 2 get no drones of this team.
    used = min(n_hosts, max(1, n_drones // 2))
    shards = split_even(n_drones, used) + [np.zeros(0, np.int64)] * (n_hosts - used)
    owner = np.concatenate([np.full(s.size, h, np.int64) for h, s in enumerate(shards)])
    if team == "central":
        owner = np.zeros(n_drones, np.int64)
        return TeamPlan(team, n_drones, n_hosts, "large", True, "central", shards, owner)
    if team == "isolated":
        return TeamPlan(team, n_drones, n_hosts, "small", False, "none", shards, owner)
    if team == "scripted":  # drone slots for the fixed detector; no weights anywhere
        return TeamPlan(team, n_drones, n_hosts, "fixed", False, "none", shards, owner)
    sharing: Sharing = "hub" if topology in HUB_TOPOLOGIES else "gossip"
    return TeamPlan(team, n_drones, n_hosts, "small", False, sharing, shards, owner)

"""Checks on a run's configuration that need several sections at once.

Field-level rules live on each package's pydantic model; what is checked here crosses
packages: the scenario's own `check(world_cfg, n_drones)` (drones versus free cells, camera
footprint versus map), a topology versus the number of drones, and the policy and its
parameters versus the scenario, and sizes that validate field by field but cannot run on a
workstation. Each function is pure and returns `ConfigProblem`s whose `loc` names the YAML
field to fix, like a pydantic error's, so it gets a file line. `RunConfig.cross_problems`
composes them; this module does not know `RunConfig`.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agents.config import MAX_PARAMS, YanConfig, count_params
from swarm.yaml_lines import Loc

if TYPE_CHECKING:
    from pydantic import BaseModel

    from protocols.config import TopologyConfig
    from scenarios.base import Scenario

__all__ = [
    "MAX_BELIEF_CELLS",
    "ConfigProblem",
    "policy_problems",
    "registry",
    "size_problems",
    "topology_problems",
    "world_problems",
]

MAX_BELIEF_CELLS = 2**27
"""Most map cells over all drones' belief maps (512 MiB as float32; a hub keeps two more)."""


@dataclass(frozen=True)
class ConfigProblem:
    """One problem with a run config: the YAML path to fix and what is wrong there."""

    loc: Loc  # ("world", "max_alt_m"), ("protocol", "topology", "edges", 2), ("drones",)
    message: str


def registry() -> dict[str, type[Scenario]]:
    """`scenarios.REGISTRY` (imported on first use: scenarios pull in Mesa)."""
    from scenarios import REGISTRY

    return REGISTRY


def world_problems(
    scenario: type[Scenario], world: BaseModel, drones: int, ticks: int | None
) -> list[ConfigProblem]:
    """The scenario's own `check` of `world` for `drones` drones, placed at YAML paths.

    With `ticks` set the run loop makes it the world's horizon, so the world that run will
    build is checked, and a problem that involves the horizon points at `ticks`. A problem
    naming the drone count points at `drones`; one naming no world field at `world`.
    """
    world_fields = type(world).model_fields
    if ticks is not None and "horizon" in world_fields:
        world = world.model_copy(update={"horizon": ticks})
    out = []
    for problem in scenario.check(world, drones):
        if problem.field == "n_drones":
            loc: Loc = ("drones",)
        elif ticks is not None and "horizon" in (problem.field, *problem.related):
            loc = ("ticks",)
        elif problem.field in world_fields:
            loc = ("world", problem.field)
        else:
            loc = ("world",)
        out.append(ConfigProblem(loc, problem.message))
    return out


def topology_problems(topo: TopologyConfig, n: int) -> list[ConfigProblem]:
    """A topology versus `n` drones: edges in range, degrees below `n` (and even for regular)."""
    where: Loc = ("protocol", "topology")
    out: list[ConfigProblem] = []
    if topo.kind == "edges":
        if not topo.edges:
            out.append(
                ConfigProblem((*where, "edges"), "kind 'edges' needs a list of [i, j] pairs")
            )
        for i, (a, b) in enumerate(topo.edges):
            if not (0 <= a < n and 0 <= b < n) or a == b:
                msg = f"edge [{a}, {b}] must join two different drones in 0..{n - 1}"
                out.append(ConfigProblem((*where, "edges", i), msg))
    if topo.kind == "random_regular" and n > 1:
        if topo.degree >= n:
            msg = f"random_regular degree {topo.degree} must be below the drone count {n}"
            out.append(ConfigProblem((*where, "degree"), msg))
        elif (topo.degree * n) % 2:
            msg = f"random_regular needs degree x drones even; {topo.degree} x {n} is odd"
            out.append(ConfigProblem((*where, "degree"), msg))
    if topo.kind == "small_world" and n > 2 and topo.degree >= n:
        msg = f"small_world degree {topo.degree} must be below the drone count {n}"
        out.append(ConfigProblem((*where, "degree"), msg))
    return out


def policy_problems(
    scenario: type[Scenario], name: str, params: dict[str, Any]
) -> list[ConfigProblem]:
    """The policy `name` must exist, suit the scenario's kind of world, and take `params`."""
    from scenarios.policies import POLICIES  # {name: (mode, class)}

    where: Loc = ("policy",)
    if name not in POLICIES:
        close = difflib.get_close_matches(str(name), list(POLICIES), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        msg = f"unknown policy {name!r}; {hint}known: {sorted(POLICIES)}"
        return [ConfigProblem((*where, "name"), msg)]
    mode, policy_cls = POLICIES[name]
    world_mode = POLICIES[scenario.default_policy][0]
    if world_mode != mode:
        fits = sorted(k for k, (m, _) in POLICIES.items() if m == world_mode)
        msg = f"policy {name!r} is for {mode} worlds; {scenario.name} takes one of {fits}"
        return [ConfigProblem((*where, "name"), msg)]
    valid = list(policy_cls.params)
    out: list[ConfigProblem] = []
    for key, value in params.items():
        if key not in valid:
            close = difflib.get_close_matches(str(key), valid, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"valid: {', '.join(valid)}"
            msg = f"{name} has no parameter '{key}'; {hint}"
            out.append(ConfigProblem((*where, "params", key), msg))
        elif isinstance(value, bool) or not isinstance(value, int | float):
            out.append(ConfigProblem((*where, "params", key), f"must be a number, got {value!r}"))
    return out


def size_problems(
    world: BaseModel, drones: int, teams: Collection[str], small: YanConfig, large: YanConfig | None
) -> list[ConfigProblem]:
    """Sizes that validate field by field but cannot run on a workstation, with the limit.

    `large` is the large model's config when a team that flies it is scored (else None). Run
    before the scenario's own check, which builds maps of the world's size; one problem at most.
    """
    height, width = getattr(world, "height", 1), getattr(world, "width", 1)
    cells = drones * height * width
    if cells > MAX_BELIEF_CELLS:
        msg = (
            f"{drones} drones x {height} x {width} cells = {cells:,} belief cells, more than the "
            f"limit of {MAX_BELIEF_CELLS:,} (each drone keeps a map); use fewer drones or a "
            "smaller map"
        )
        return [ConfigProblem(("drones",), msg)]
    per_brain = count_params(small)
    if drones * per_brain > MAX_PARAMS and {"swarm", "isolated"} & set(teams):
        msg = (
            f"{drones} brains x {per_brain:,} parameters = {drones * per_brain:,}, more than the "
            f"limit of {MAX_PARAMS:,}; use fewer drones or a smaller model.small"
        )
        return [ConfigProblem(("drones",), msg)]
    if large is not None and count_params(large) > MAX_PARAMS:
        msg = (
            f"the large model has {count_params(large):,} parameters, more than the limit of "
            f"{MAX_PARAMS:,}; give a smaller model.large"
        )
        return [ConfigProblem(("model", "large"), msg)]
    return []

"""Checks on a run's configuration that need several sections at once.

Field-level rules live on each package's pydantic model; what is checked here crosses
packages: the scenario's own `check(world_cfg, n_drones)` (drones versus free cells,
camera footprint versus map), a topology versus the number of drones, and the policy and
its parameters versus the scenario's policies. Each problem is a `(loc, message)` pair
whose `loc` names the field to fix, like a pydantic error's, so it gets a file line.
"""

from __future__ import annotations

import difflib
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from swarm.config import RunConfig

__all__ = ["cross_checks", "default_policy", "registry", "scenario_check_loc"]

Loc = tuple[str | int, ...]

# Used when a scenario class does not say (`default_policy` class attribute wins).
_DEFAULT_POLICY = {"drone_search": "belief_greedy", "litter_patrol": "idleness_greedy"}
# Top-level fields a scenario message may name in passing ("16 drones do not fit ...").
_COUNT_FIELDS = {"drones", "ticks", "seeds"}
_FIELD_PREFIX = re.compile(r"^\s*([A-Za-z_][\w]*(?:\.[\w]+)*)\s*:\s*(.+)$", re.DOTALL)


def registry() -> dict[str, Any]:
    """`scenarios.REGISTRY` (imported on first use: scenarios pull in Mesa)."""
    from scenarios import REGISTRY

    return REGISTRY


def default_policy(scenario: str) -> str:
    """The movement policy a scenario's brains use unless the YAML names one."""
    cls = registry().get(scenario)
    name = getattr(cls, "default_policy", None)
    if isinstance(name, str) and name:
        return name
    return _DEFAULT_POLICY.get(scenario, "belief_greedy")


def scenario_check_loc(message: str, world_fields: set[str], run_fields: set[str]) -> Loc:
    """Where a scenario `check` message points, so that its error gets the right file line.

    A leading `field:` or `world.field:` wins (`"size: ..."` points at `world.size`, and a
    leading `drones:` at the top-level field); else the world field named first in the text
    (`"camera footprint at max_alt_m is larger than the map"` points at `world.max_alt_m`);
    else `drones`, `ticks` or `seeds` if named (`"16 drones do not fit on 12 free cells"`);
    else the whole `world` section.
    """
    match = _FIELD_PREFIX.match(message)
    if match:
        path = tuple(match.group(1).split("."))
        if path[0] == "world" and len(path) > 1 and path[1] in world_fields:
            return path
        if path[0] in world_fields:
            return ("world", *path)
        if path[0] in run_fields:
            return path
    named = _first_named(message, world_fields)
    if named:
        return ("world", named)
    named = _first_named(message, _COUNT_FIELDS & run_fields)
    return (named,) if named else ("world",)


def _first_named(message: str, names: set[str]) -> str | None:
    """The name among `names` that appears first in `message` as a whole word."""
    hits = [(m.start(), n) for n in names for m in [re.search(rf"\b{n}\b", message)] if m]
    return min(hits)[1] if hits else None


def _scenario_problems(cfg: RunConfig) -> list[tuple[Loc, str]]:
    cls = registry()[cfg.scenario]
    check = getattr(cls, "check", None)
    if check is None:
        return []
    world_fields = set(type(cfg.world).model_fields)
    run_fields = set(type(cfg).model_fields)
    world = cfg.world
    if cfg.ticks is not None and "horizon" in world_fields:
        # The run loop makes `ticks` the world's horizon, so check the world it will build.
        world = world.model_copy(update={"horizon": cfg.ticks})
    problems = []
    for message in check(world, cfg.drones):
        loc = scenario_check_loc(message, world_fields, run_fields)
        if cfg.ticks is not None and re.search(r"\bhorizon\b", message):
            loc = ("ticks",)  # `ticks` is the horizon checked here: blame it, not the world
        match = _FIELD_PREFIX.match(message)
        prefixed = match is not None and loc[-1] == match.group(1).split(".")[-1]
        text = match.group(2) if prefixed else message
        problems.append((loc, text))
    return problems


def _topology_problems(cfg: RunConfig) -> list[tuple[Loc, str]]:
    """Topology versus N: only the `swarm` team exchanges knowledge over it."""
    if "swarm" not in cfg.teams:
        return []
    topo, n = cfg.protocol.topology, cfg.drones
    where: Loc = ("protocol", "topology")
    problems: list[tuple[Loc, str]] = []
    if topo.kind == "edges":
        if not topo.edges:
            problems.append(((*where, "edges"), "kind 'edges' needs a list of [i, j] pairs"))
        for i, (a, b) in enumerate(topo.edges):
            if not (0 <= a < n and 0 <= b < n) or a == b:
                msg = f"edge [{a}, {b}] must join two different drones in 0..{n - 1}"
                problems.append(((*where, "edges", i), msg))
    if topo.kind == "random_regular" and n > 1:
        if topo.degree >= n:
            msg = f"random_regular degree {topo.degree} must be below the drone count {n}"
            problems.append(((*where, "degree"), msg))
        elif (topo.degree * n) % 2:
            msg = f"random_regular needs degree x drones even; {topo.degree} x {n} is odd"
            problems.append(((*where, "degree"), msg))
    if topo.kind == "small_world" and n > 2 and topo.degree >= n:
        msg = f"small_world degree {topo.degree} must be below the drone count {n}"
        problems.append(((*where, "degree"), msg))
    return problems


def _policy_problems(cfg: RunConfig) -> list[tuple[Loc, str]]:
    """The policy must exist, suit the world's kind, and take the given params."""
    from scenarios.policies import POLICIES  # {name: (mode, class)}

    name, where = cfg.policy.name, ("policy",)
    if name not in POLICIES:
        close = difflib.get_close_matches(str(name), list(POLICIES), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        return [((*where, "name"), f"unknown policy {name!r}; {hint}known: {sorted(POLICIES)}")]
    mode, policy_cls = POLICIES[name]
    default = POLICIES.get(default_policy(cfg.scenario))
    if default is not None and default[0] != mode:
        fits = sorted(k for k, (m, _) in POLICIES.items() if m == default[0])
        msg = f"policy {name!r} is for {mode} worlds; {cfg.scenario} takes one of {fits}"
        return [((*where, "name"), msg)]
    valid = list(getattr(policy_cls, "params", {}))
    problems: list[tuple[Loc, str]] = []
    for key, value in cfg.policy.params.items():
        if key not in valid:
            close = difflib.get_close_matches(str(key), valid, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"valid: {', '.join(valid)}"
            problems.append(((*where, "params", key), f"{name} has no parameter '{key}'; {hint}"))
        elif isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(((*where, "params", key), f"must be a number, got {value!r}"))
    return problems


MAX_BELIEF_CELLS = 2**27
"""Most map cells over all drones' belief maps (512 MiB as float32; a hub keeps two more)."""


def _size_problems(cfg: RunConfig) -> list[tuple[Loc, str]]:
    """Sizes that validate field by field but cannot run on a workstation, with the limit.

    Checked before the scenario's own check, which builds maps of the world's size."""
    from agents.config import MAX_PARAMS, count_params

    height, width = getattr(cfg.world, "height", 1), getattr(cfg.world, "width", 1)
    cells = cfg.drones * height * width
    if cells > MAX_BELIEF_CELLS:
        return [(("drones",), f"{cfg.drones} drones x {height} x {width} cells = {cells:,} "
                 f"belief cells, more than the limit of {MAX_BELIEF_CELLS:,} (each drone keeps "
                 "a map); use fewer drones or a smaller map")]  # fmt: skip
    small = count_params(cfg.model.small)
    if cfg.drones * small > MAX_PARAMS and {"swarm", "isolated"} & set(cfg.teams):
        return [(("drones",), f"{cfg.drones} brains x {small:,} parameters = "
                 f"{cfg.drones * small:,}, more than the limit of {MAX_PARAMS:,}; use fewer "
                 "drones or a smaller model.small")]  # fmt: skip
    if {"single_large", "central"} & set(cfg.teams):
        large = count_params(cfg.large_model())
        if large > MAX_PARAMS:
            return [(("model", "large"), f"the large model has {large:,} parameters, more "
                     f"than the limit of {MAX_PARAMS:,}; give a smaller model.large")]  # fmt: skip
    return []


def cross_checks(cfg: RunConfig) -> list[tuple[Loc, str]]:
    """Every cross-section problem of `cfg` as `(loc, message)`; empty when consistent."""
    too_big = _size_problems(cfg)
    if too_big:  # the other checks would build what is too big
        return too_big
    return _scenario_problems(cfg) + _topology_problems(cfg) + _policy_problems(cfg)

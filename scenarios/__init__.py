"""Mesa worlds for the swarm simulator: drone_search and litter_patrol (docs/scenarios.md).

    from scenarios import REGISTRY, Observation, Actions, TokenSpec
    world = REGISTRY["drone_search"](REGISTRY["drone_search"].Config(), n_drones=16, seed=3)

The contract is docs/architecture.md §1–2; `Scenario`'s docstring shows how to add a world.
"""

from typing import Any

from scenarios.base import Actions, Observation, Scenario, TokenSpec, build_tokens
from scenarios.info import PatrolInfo, SearchInfo, WorldInfo, WorldKind
from scenarios.metrics import auc
from scenarios.policies import POLICIES, fixed_detector, make_policy

__all__ = [
    "POLICIES",
    "REGISTRY",
    "Actions",
    "DroneSearch",
    "LitterPatrol",
    "Observation",
    "PatrolInfo",
    "Scenario",
    "SearchInfo",
    "TokenSpec",
    "WorldInfo",
    "WorldKind",
    "auc",
    "build_tokens",
    "fixed_detector",
    "make_policy",
]


def __getattr__(name: str) -> Any:
    # The worlds load on first use, so `python -m scenarios.drone_search` does not import
    # its own module twice (runpy warns when the package already imported it).
    if name in ("REGISTRY", "DroneSearch", "LitterPatrol"):
        from scenarios.drone_search import DroneSearch
        from scenarios.litter_patrol import LitterPatrol

        registry: dict[str, type[Scenario]] = {
            DroneSearch.name: DroneSearch,
            LitterPatrol.name: LitterPatrol,
        }
        found = {"REGISTRY": registry, "DroneSearch": DroneSearch, "LitterPatrol": LitterPatrol}
        globals().update(found)
        return found[name]
    raise AttributeError(f"module 'scenarios' has no attribute {name!r}")

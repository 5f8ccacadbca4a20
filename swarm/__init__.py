"""swarm: run loop, CLI, config composition, Ray hosts, teams, scorecard, outputs.

Importing the package is cheap: the config names below load on first use (they pull in
pydantic and the agents/protocols configs), and the runtime (Ray, torch) only when a run starts.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ConfigError", "RunConfig", "load_config"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from swarm import config

        return getattr(config, name)
    raise AttributeError(f"module 'swarm' has no attribute {name!r}")

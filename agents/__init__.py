"""agents: the Yan-style brain (`agents.model`: MCSD mixer, selective FFN, one file), its
online learner and the batched `BrainBank` of K brains (docs/architecture.md §3). No Ray, no
Mesa.

The torch-backed names load on first use, so reading a config (`agents.config`, as
`swarm.validate` does) does not pay torch's import.
"""

from __future__ import annotations

import importlib
from typing import Any

from agents.config import LearnerConfig, YanConfig, count_params, scaled

__all__ = ["BrainBank", "LearnerConfig", "YanConfig", "YanModel", "count_params", "scaled"]

_LAZY = {"BrainBank": "agents.bank", "YanModel": "agents.model"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'agents' has no attribute {name!r}")

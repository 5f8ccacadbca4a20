"""swarm: run loop, CLI, config composition, Ray hosts, teams, scorecard, outputs.

Importing the package is cheap: the config names below load on first use (they pull in
pydantic and the agents/protocols configs), and the runtime (Ray, torch) only when a run starts.
"""

from __future__ import annotations

import os
from typing import Any

# Host-count invariance (docs/architecture.md): torch's SIMD elementwise kernels (sigmoid, GELU,
# rsqrt, ...) round a tensor's tail elements differently from its body, so a brain's numbers
# would depend on how many brains share its bank (host). ATen's portable kernels round every
# element alike; for these small models they measured no slower (matrix products are BLAS
# either way). torch reads this at its first operation, so it is set before any runs: in the
# driver and in every Ray host actor (which import this package before torch computes). An
# explicit ATEN_CPU_CAPABILITY in the environment wins.
os.environ.setdefault("ATEN_CPU_CAPABILITY", "default")

__all__ = ["ConfigError", "RunConfig", "load_config"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from swarm import config

        return getattr(config, name)
    raise AttributeError(f"module 'swarm' has no attribute {name!r}")

"""A mission's compute cost: inference and training FLOPs from the model config and counted steps.

```
inference_flops = forward_flops(model) × drones × ticks flown     one token per drone per tick
train_flops     = 3 × forward_flops(model) × train_tokens(learner, streams) × train_steps
```

`forward_flops` and `train_tokens` are `agents.config`'s (docs/model.md, "Compute cost");
`train_steps` is the pool's count of brain-level optimiser steps (one per weight set). The
`central` team's shared model runs every drone's token (N streams per weight set); the
`scripted` team's fixed detector costs `scenarios.policies.FIXED_DETECTOR_FLOPS` per token and
never trains. Probe scoring (evaluation only) is not counted: no drone would run it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from agents.config import TRAIN_FLOPS_PER_FORWARD, forward_flops, train_tokens
from scenarios.policies import FIXED_DETECTOR_FLOPS
from swarm.teams import make_plan, team_drones

if TYPE_CHECKING:
    from scenarios.base import TokenSpec
    from swarm.config import RunConfig

__all__ = ["FLOP_KEYS", "FlopRates", "flop_rates"]

#: The run-record `stats` keys this module adds (additive over seeds, lower is better).
FLOP_KEYS = ("inference_flops", "train_flops")


@dataclass(frozen=True)
class FlopRates:
    """What one acted token and one optimiser step cost a team, in FLOPs."""

    per_token: int  # inference: one drone's token through its brain (or the fixed detector)
    per_step: int  # training: one brain-level optimiser step

    def of(self, drones: int, ticks: int, train_steps: float) -> dict[str, float]:
        """`{"inference_flops", "train_flops"}` of a mission of `drones` drones flying
        `ticks` ticks with `train_steps` optimiser steps."""
        return {
            "inference_flops": float(self.per_token * drones * ticks),
            "train_flops": float(self.per_step * train_steps),
        }


def flop_rates(cfg: RunConfig, team: str, spec: TokenSpec) -> FlopRates:
    """The FLOP rates of preset `team` flying with `cfg` (its own configuration: a variant's
    or `swarm.variants.preset_config`'s) in a world whose tokens are `spec`."""
    from swarm.host import model_for

    n = team_drones(team, cfg.drones)
    plan = make_plan(team, n, 1, cfg.protocol.topology.kind)
    if plan.model == "fixed":
        return FlopRates(FIXED_DETECTOR_FLOPS, 0)
    model = model_for(cfg.model.small if plan.model == "small" else cfg.large_model(), spec)
    per_token = forward_flops(model)
    streams = n if plan.shared else 1  # one shared weight set over every drone's stream
    step = TRAIN_FLOPS_PER_FORWARD * per_token * train_tokens(cfg.learner, streams)
    return FlopRates(per_token, step)

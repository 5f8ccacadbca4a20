"""Pretraining as its own step before a run's missions: which brains a run needs, and making
sure their checkpoints are in the cache.

A run's teams need the small model (swarm, isolated) and/or the large one (single_large,
central; `model.large: auto` scales it with the drone count, so a new N is a new large model).
A checkpoint is keyed by the model's full shape (`agents.pretrain.checkpoint_path`); a shape
not in `$SWARM_CACHE` is pretrained here, timed, so that a mission's `wall_seconds` holds only
the mission and `results.json` records pretraining separately.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Pretrained", "needed_models", "needed_sizes", "warm_cache"]


@dataclass(frozen=True)
class Pretrained:
    """One model size's checkpoint: `path` in the cache, `cached` (it was there already) and
    `seconds` spent pretraining it here (0 when cached)."""

    size: str
    path: str
    cached: bool
    seconds: float
    params: int

    def record(self) -> dict[str, Any]:
        """The entry written to results.json's `pretrain` section."""
        return asdict(self)


def needed_models(cfg: Any) -> list[tuple[str, str, Any]]:
    """`(label, size, team config)` for every distinct model the run's teams fly, in team
    order: size is "small" or "large"; label is the size, or `size:team` for a team variant
    whose model differs from an earlier team's of that size. A team without a brain
    (`scripted`, the fixed detector) needs none."""
    from swarm.teams import make_plan, team_drones

    out: list[tuple[str, str, Any]] = []
    seen: set[str] = set()
    for team in cfg.teams:
        base, team_cfg = cfg.team_config(team)
        n = team_drones(base, team_cfg.drones)
        size = make_plan(base, n, 1, team_cfg.protocol.topology.kind).model
        if size == "fixed":  # the `scripted` team's fixed detector is not trained
            continue
        model = team_cfg.model.small if size == "small" else team_cfg.large_model()
        key = f"{size}:{model.model_dump_json()}"
        if key in seen:
            continue
        seen.add(key)
        label = size if all(label != size for label, _, _ in out) else f"{size}:{team}"
        out.append((label, size, team_cfg))
    return out


def needed_sizes(cfg: Any) -> list[str]:
    """ "small" and/or "large": the model sizes the run's teams fly, in team order."""
    return list(dict.fromkeys(size for _, size, _ in needed_models(cfg)))


def _model(cfg: Any, size: str) -> Any:
    from swarm.host import model_for
    from swarm.loop import make_world

    spec = make_world(cfg, 1, cfg.seeds[0]).token_spec  # token width and heads of the world
    return model_for(cfg.model.small if size == "small" else cfg.large_model(), spec)


def warm_cache(cfg: Any, size: str) -> Pretrained:
    """Pretrain `size`'s model of `cfg` unless its checkpoint is cached (same key as the pool's
    `load_pretrained`, so the missions then load it from the cache)."""
    import torch

    from agents.config import count_params
    from agents.pretrain import checkpoint_path, load_pretrained

    model = _model(cfg, size)
    path = checkpoint_path(model)
    cached = path.exists()
    start = time.perf_counter()
    if not cached:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # other runs and streams compute beside this one
        try:
            load_pretrained(model)
        finally:
            torch.set_num_threads(threads)
    seconds = 0.0 if cached else round(time.perf_counter() - start, 3)
    return Pretrained(size, str(path), cached, seconds, count_params(model))

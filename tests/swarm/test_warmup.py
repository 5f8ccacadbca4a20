"""Pretraining as its own step: the sizes a run needs, trained once into the test cache."""

from __future__ import annotations

import os
from pathlib import Path

from swarm.warmup import needed_sizes, warm_cache


def test_needed_sizes_follow_the_teams(tiny_cfg):
    assert needed_sizes(tiny_cfg(teams=["swarm", "isolated"])) == ["small"]
    assert needed_sizes(tiny_cfg(teams=["single_large", "swarm"])) == ["large", "small"]


def test_missing_checkpoint_is_trained_into_the_session_cache_then_reused(tiny_cfg):
    cfg = tiny_cfg(model={"small": {"d_model": 8, "n_layers": 1, "n_channels": 4,
                                    "ffn_groups": 4, "ffn_active": 1}})  # fmt: skip
    first = warm_cache(cfg, "small")
    assert Path(first.path).parent == Path(os.environ["SWARM_CACHE"])  # never the user's cache
    assert not first.cached and Path(first.path).exists()
    again = warm_cache(cfg, "small")
    assert again.cached and again.seconds == 0 and again.path == first.path

"""A small run's outputs and records, shared by the output and plot tests."""

from __future__ import annotations

import math

from swarm.outputs import RunOutputs

__all__ = ["demo_outputs", "demo_run"]


def demo_outputs(tmp_path, **kw):
    return RunOutputs(
        tmp_path / "run",
        name="demo",
        scenario="drone_search",
        seeds=[0, 1],
        teams=["swarm", "isolated"],
        config={"name": "demo", "drones": 4, "learner": {"lr": 1e-3}},
        **kw,
    )


def demo_run(seed, found, ttf, wire):
    return {
        "seed": seed,
        "ticks": ttf,
        "horizon": 50,
        "metrics": {"found": found, "time_to_find": ttf, "coverage": 0.1 * seed + 0.2},
        "stats": {"params_per_brain": 500, "brains": 4, "train_steps": 7, "wire_bytes": wire},
        "auc_curve": [[0, 0.5], [25, 0.6 + 0.01 * seed], [ttf, math.nan]],
        "field_curve": [[0, math.nan, 0.7], [25, 0.8, 0.72], [ttf, 0.85 - 0.01 * seed, 0.75]],
        "wall_seconds": 1.0,
    }

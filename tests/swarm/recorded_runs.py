"""Recorded missions for the recording and viewer tests: real worlds, a real in-process host
pool (local backend: real sockets, no Ray), smoke-sized."""

from __future__ import annotations

from pathlib import Path

from swarm.loop import run_episode
from swarm.trajectory import Recorder, trajectory_path

__all__ = ["PATROL", "PATROL_SMALL", "SMOKE", "record_missions"]

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT / "scenarios" / "smoke.yaml"
PATROL = ROOT / "scenarios" / "litter_patrol.yaml"
#: litter_patrol at smoke size (the smoke file is a drone_search one)
PATROL_SMALL = {
    "world.height": 16, "world.width": 16, "world.n_bins": 4, "world.zone_cells": 3,
    "world.overflow_per_tick": 0.05, "world.river_litter_per_tick": 0.2,
    "model.small": {"d_model": 16, "n_layers": 1, "n_channels": 4, "ffn_groups": 4,
                    "ffn_active": 1},
    "protocol.sync_every": 5,
}  # fmt: skip


def record_missions(
    run_dir: Path,
    teams: list[str],
    overrides: dict | None = None,
    seed: int = 0,
    scenario: Path = SMOKE,
):
    """Fly and record `teams` on `scenario` (with `overrides`) into `run_dir`; returns
    {team: (Episode, Trajectory path)}."""
    import torch

    from swarm.config import load_config
    from swarm.pool import HostPool

    torch.set_num_threads(1)
    cfg = load_config(scenario, {"ticks": 24, "drones": 4, **(overrides or {})})
    out = {}
    with HostPool(cfg, n_hosts=2, backend="local") as pool:
        for team in teams:
            base, team_cfg = cfg.team_config(team)
            rec = Recorder(trajectory_path(run_dir, team, seed), team, seed, belief_every=4)
            ep = run_episode(team_cfg, base, seed, pool, recorder=rec)
            out[team] = (ep, rec.path)
    return out

"""One mission on a real world with a real in-process host pool (local backend, no Ray)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from swarm.loop import make_world, run_episode, stat_delta

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT / "scenarios" / "smoke.yaml"


def test_stat_delta_counts_growth_of_counters_only():
    before = {"train_steps": 5, "wire_bytes": 100, "cpu_seconds": 1.0, "brains": 4}
    after = {"train_steps": 9, "wire_bytes": 350, "cpu_seconds": 3.5, "brains": 4}
    assert stat_delta(before, after) == {
        "train_steps": 4,
        "wire_bytes": 250,
        "cpu_seconds": 2.5,
        "brains": 4,
    }


@pytest.fixture(scope="module")
def cfg():
    from swarm.config import load_config

    return load_config(SMOKE, {"ticks": 30, "drones": 4})


@pytest.fixture(scope="module")
def pool(cfg):
    import torch

    from swarm.pool import HostPool

    torch.set_num_threads(1)
    p = HostPool(cfg, backend="local")
    yield p
    p.close()


class Spy:
    """Records the loop's calls and passes them on to the real pool."""

    def __init__(self, pool):
        self.pool, self.calls = pool, []

    def __getattr__(self, name):
        real = getattr(self.pool, name)

        def call(*args, **kwargs):
            self.calls.append((name, args))
            return real(*args, **kwargs)

        return call


def test_ticks_override_becomes_world_horizon(cfg):
    world = make_world(cfg, 3, seed=1)
    assert world.cfg.horizon == 30 and world.n_drones == 3


def test_mission_calls_pool_per_contract(cfg, pool):
    spy = Spy(pool)
    rows, starts = [], []
    ep = run_episode(
        cfg,
        "swarm",
        0,
        spy,
        on_start=starts.append,
        on_tick=lambda t, row, last: rows.append((t, dict(row), last)),
        probe_every=10,
    )
    names = [c[0] for c in spy.calls]
    assert starts == [30]
    assert names[0] == "configure" and spy.calls[0][1][:2] == ("swarm", 0)
    assert spy.calls[0][1][4] == 4  # n_drones
    assert names.count("act") == ep.ticks
    sync = cfg.protocol.sync_every
    rounds = [c[1][0] for c in spy.calls if c[0] == "exchange"]
    # a round every sync_every ticks, none after the last tick
    assert rounds == list(range((ep.ticks - 1) // sync)) and ep.rounds == len(rounds)
    exchanged_at = [names[:i].count("act") for i, name in enumerate(names) if name == "exchange"]
    assert exchanged_at == [sync * (r + 1) for r in rounds]
    assert [t for t, _, _ in rows] == list(range(1, ep.ticks + 1))
    assert [last for _, _, last in rows] == [False] * (ep.ticks - 1) + [True]
    assert ep.auc_curve[0][0] == 0 and ep.auc_curve[-1][0] == ep.ticks
    assert all(np.isfinite(a) for _, a in ep.auc_curve)  # every probe scored both classes
    assert np.median([a for _, a in ep.auc_curve]) > 0.5  # pretrained: better than chance
    assert ep.metrics["auc"] == ep.auc_curve[-1][1]
    # field AUC (evaluation only) at the same ticks, and its running value in every CSV row
    assert [p[0] for p in ep.field_curve] == [p[0] for p in ep.auc_curve]
    assert all(0.0 <= a <= 1.0 for p in ep.field_curve for a in p[1:] if np.isfinite(a))
    assert np.isfinite(ep.metrics["field_probe_auc"])
    assert all("field_auc" in row for _, row, _ in rows)
    assert {"time_to_find", "found", "coverage"} <= set(ep.metrics)
    assert ep.ticks <= 30 and (ep.ticks == 30 or ep.metrics["found"])
    assert ep.stats["brains"] == 4 and ep.stats["train_steps"] > 0
    assert ep.stats["wire_bytes"] > 0 and ep.stats["wire_messages"] > 0


def test_single_large_flies_one_drone_and_sends_nothing(cfg, pool):
    spy = Spy(pool)
    ep = run_episode(cfg, "single_large", 1, spy)
    assert spy.calls[0][1][4] == 1
    assert ep.stats["brains"] == 1 and ep.stats["wire_bytes"] == 0
    rec = ep.record()
    assert "team" not in rec and rec["seed"] == 1 and rec["ticks"] == ep.ticks


def test_every_counter_is_per_run_on_a_pool_that_flew_before(cfg, pool):
    swarm = run_episode(cfg, "swarm", 2, pool)
    isolated = run_episode(cfg, "isolated", 2, pool)  # the same hosts, after a swarm run
    assert swarm.stats["host_socket_received"] > 0
    assert isolated.stats["host_socket_received"] == isolated.stats["wire_messages"] == 0
    assert isolated.stats["quarantined_brains"] == swarm.stats["quarantined_brains"] == 0

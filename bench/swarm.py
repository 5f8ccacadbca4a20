"""`python -m bench.swarm [--quick]`: throughput of the whole mission loop, with online learning.

For N = 16, 256, 1024 drones of the `swarm` team (drone_search, default model and learner,
knowledge rounds every `sync_every` ticks) it times, per tick:

- **pool**: world.observe -> HostPool.act over 2 Ray host actors -> world.step, plus the
  knowledge rounds (gossip of compressed deltas and beliefs over ZeroMQ), amortised per tick;
- **in-process baseline**, measured in the same run: the same world and the same work per
  drone (one `swarm.host.HostCore` of the `isolated` team: bank.act + late labels + bank.learn
  + policy.act, i.e. what the hosts run) for all N brains in this process, one core, no Ray,
  no exchange; its act
  time is split into the bank (act + learn) and the policy (belief fusion + moves).

Printed and written to `bench/results/swarm.json`: agent-steps/s of the whole loop
(N x ticks / seconds), the cost per agent-step relative to N = 256, and the orchestration
overhead per tick: pool act time minus the in-process act time split over the hosts (what
the pool adds beyond an ideal parallel split of the same work). Targets (issue #5): >= 20k
agent-steps/s at N = 1024 with learning; cost per agent-step at 1024 <= 1.5x that at 256.
The machine may be shared: figures are only comparable within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["main", "time_inprocess", "time_pool"]

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "swarm.json"
SIZES = (16, 256, 1024)
N_HOSTS = 2


def _config(n: int, ticks: int, more: dict[str, Any] | None = None) -> Any:
    """The default scenario file, N drones of the `swarm` team, seed 0, a tick limit past
    `ticks`; `more`: further dotted overrides (`{"world.height": 96}`)."""
    from swarm.config import load_config

    over = {"drones": n, "ticks": ticks + 1, "teams": ["swarm"], "seeds": [0], **(more or {})}
    return load_config(ROOT / "scenarios" / "drone_search.yaml", over)


def _timed_ticks(
    world: Any,
    act: Callable[[Any], Any],
    exchange: Callable[[int], Any] | None,
    sync: int,
    ticks: int,
    warmup: int,
    on_warm: Callable[[], None] = lambda: None,
) -> dict[str, float]:
    """Mean seconds per tick of world (observe + step), act and exchange, after `warmup` ticks.

    `exchange(round)` runs every `sync` ticks when given; `on_warm` runs once warm-up is over
    (to reset counters the caller keeps). A mission that ends early times what was flown.
    """
    spent = {"world": 0.0, "act": 0.0, "exchange": 0.0}
    measured = 0
    for tick in range(warmup + ticks):
        if world.done:
            break
        if tick == warmup:
            on_warm()
        t0 = time.perf_counter()
        obs = world.observe()
        t1 = time.perf_counter()
        actions = act(obs)
        t2 = time.perf_counter()
        world.step(actions)
        t3 = time.perf_counter()
        if exchange is not None and (tick + 1) % sync == 0:
            exchange((tick + 1) // sync - 1)
        t4 = time.perf_counter()
        if tick >= warmup:
            measured += 1
            spent["world"] += (t1 - t0) + (t3 - t2)
            spent["act"] += t2 - t1
            spent["exchange"] += t4 - t3
    out = {k: v / max(measured, 1) for k, v in spent.items()}
    out["ticks"] = measured
    return out


def time_pool(pool: Any, cfg: Any, n: int, ticks: int, warmup: int) -> dict[str, float]:
    """Seconds per tick of world, pool.act and exchange for N drones (after `warmup` ticks)."""
    from swarm.loop import make_world

    world = make_world(cfg, n, seed=0)
    pool.configure("swarm", 0, world.public_info(), world.token_spec, n)
    before = pool.stats()
    sync = cfg.protocol.sync_every
    out = _timed_ticks(world, pool.act, pool.exchange, sync, ticks, warmup)
    after = pool.stats()
    out["train_steps"] = after["train_steps"] - before["train_steps"]
    out["wire_bytes"] = after["wire_bytes"] - before["wire_bytes"]
    return out


def time_inprocess(cfg: Any, n: int, ticks: int, warmup: int) -> dict[str, float]:
    """Seconds per tick of world and the same bank + policy work for all N brains, no Ray."""
    from agents.pretrain import load_pretrained
    from protocols.codec import new_key
    from swarm.host import HostCore, Mission, model_for
    from swarm.loop import make_world
    from swarm.teams import make_plan

    world = make_world(cfg, n, seed=0)
    model = model_for(cfg.model.small, world.token_spec)
    init = {k: v.numpy() for k, v in load_pretrained(model).items()}
    host = HostCore(0, 1, cfg, "bench", new_key())  # all N brains, as the hosts hold them
    plan = make_plan("isolated", n, 1)
    host.configure(Mission(plan, 0, world.public_info(), world.token_spec), init)
    policy_time = [0.0]
    policy_act = host.policy.act

    def timed_policy(*args: Any, **kwargs: Any) -> Any:
        # attributes the shard's act time to the policy (belief fusion + moves) vs the bank
        t = time.perf_counter()
        out = policy_act(*args, **kwargs)
        policy_time[0] += time.perf_counter() - t
        return out

    def reset() -> None:
        policy_time[0] = 0.0

    host.policy.act = timed_policy
    out = _timed_ticks(world, lambda obs: host.act(obs)[1], None, 1, ticks, warmup, on_warm=reset)
    out["policy"] = policy_time[0] / max(out["ticks"], 1)
    out["train_steps"] = float(host.train_steps)
    host.close()
    return out


def pool_fields(n: int, pool_t: dict[str, float]) -> dict[str, float]:
    """The loop's timing of `n` drones from `time_pool`'s seconds per tick: throughput
    (agent-steps/s), cost per agent-step (us) and the tick's parts (ms)."""
    tick = pool_t["world"] + pool_t["act"] + pool_t["exchange"]
    return {
        "n": n,
        "hosts": N_HOSTS,
        "agent_steps_per_s": n / tick,
        "us_per_agent_step": 1e6 * tick / n,
        "tick_ms": 1e3 * tick,
        "world_ms": 1e3 * pool_t["world"],
        "act_ms": 1e3 * pool_t["act"],
        "exchange_ms_per_tick": 1e3 * pool_t["exchange"],
        "ticks_timed": pool_t["ticks"],
        "train_steps": pool_t["train_steps"],
    }


def _row(n: int, pool_t: dict[str, float], base_t: dict[str, float]) -> dict[str, float]:
    tick = pool_t["world"] + pool_t["act"] + pool_t["exchange"]
    base_tick = base_t["world"] + base_t["act"]
    return {
        **pool_fields(n, pool_t),
        "wire_bytes": pool_t["wire_bytes"],
        "inprocess_agent_steps_per_s": n / base_tick,
        "inprocess_act_ms": 1e3 * base_t["act"],
        "inprocess_policy_ms": 1e3 * base_t["policy"],
        "inprocess_bank_ms": 1e3 * (base_t["act"] - base_t["policy"]),
        "act_vs_inprocess": pool_t["act"] / base_t["act"],
        "overhead_ms_per_tick": 1e3 * (pool_t["act"] - base_t["act"] / N_HOSTS),
        "loop_vs_inprocess": tick / base_tick,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print the table, write bench/results/swarm.json; returns the doc."""
    ap = argparse.ArgumentParser(prog="python -m bench.swarm", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer ticks (about a minute)")
    ap.add_argument("--out", type=Path, default=RESULTS, help="JSON output path")
    args = ap.parse_args(argv)
    import torch

    from swarm.pool import HostPool
    from swarm.raylife import start_ray, stop_ray

    torch.set_num_threads(1)  # the in-process baseline gets one core, like each host
    ticks, warmup = (16, 8) if args.quick else (48, 8)
    rows = []
    start_ray(num_cpus=N_HOSTS)
    # one set of hosts for every N: the drone count reaches them through configure's plan
    pool = HostPool(_config(SIZES[-1], ticks + warmup), n_hosts=N_HOSTS, backend="ray")
    try:
        for n in SIZES:
            cfg = _config(n, ticks + warmup)
            pool_t = time_pool(pool, cfg, n, ticks, warmup)
            base_t = time_inprocess(cfg, n, ticks, warmup)
            rows.append(_row(n, pool_t, base_t))
            _print_row(rows[-1])
    finally:
        pool.close()
        stop_ray()
    doc = _summary(rows, args.quick, ticks, warmup)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1))
    print(json.dumps(doc["ratios"], indent=1))
    print(f"wrote {args.out}")
    return doc


def _print_row(r: dict[str, float]) -> None:
    print(
        f"N={r['n']:5d} {r['agent_steps_per_s']:9.0f} agent-steps/s "
        f"({r['us_per_agent_step']:6.1f} us/step; tick {r['tick_ms']:.1f} ms = world "
        f"{r['world_ms']:.1f} + act {r['act_ms']:.1f} + exchange {r['exchange_ms_per_tick']:.1f})"
        f" | in-process {r['inprocess_agent_steps_per_s']:8.0f}/s, act "
        f"{r['inprocess_act_ms']:.1f} ms (bank {r['inprocess_bank_ms']:.1f} + policy "
        f"{r['inprocess_policy_ms']:.1f}) | pool act / in-process {r['act_vs_inprocess']:.2f}x,"
        f" overhead {r['overhead_ms_per_tick']:+.1f} ms/tick",
        flush=True,
    )


def _summary(rows: list[dict], quick: bool, ticks: int, warmup: int) -> dict[str, Any]:
    by_n = {r["n"]: r for r in rows}
    ratios: dict[str, Any] = {}
    if 256 in by_n and 1024 in by_n:
        cost = by_n[1024]["us_per_agent_step"] / by_n[256]["us_per_agent_step"]
        ratios["cost_per_step_1024_vs_256"] = cost
        ratios["target_cost_ratio_le_1.5"] = cost <= 1.5
        ratios["agent_steps_per_s_1024"] = by_n[1024]["agent_steps_per_s"]
        ratios["target_20k_at_1024"] = by_n[1024]["agent_steps_per_s"] >= 20_000
    for n, r in by_n.items():
        ratios[f"loop_vs_inprocess_{n}"] = r["loop_vs_inprocess"]
    return {
        "bench": "swarm",
        "quick": quick,
        "ticks": ticks,
        "warmup_ticks": warmup,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "rows": rows,
        "ratios": ratios,
    }


if __name__ == "__main__":
    main()

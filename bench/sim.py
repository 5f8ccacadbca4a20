"""World speed: agent-steps per second of both worlds under their scripted policies.

    python -m bench.sim [--quick]

Measures the vectorised world (observe + policy + step, fixed detector) of drone_search
(lawnmower) and litter_patrol (cyclic_tour) at N = 16, 256, 1024 drones on 64x64 and 256x256
maps, and the policies the learning brains use (belief_greedy, idleness_greedy) at N = 1024,
each with the policy's own share (ms per tick in `act`, one shard of all N drones). In the
same run, a baseline: a plain per-agent Mesa loop where each drone is an agent that looks,
scores and updates its own belief map in Python; ratios are against it at N = 16.
Prints a table and writes bench/results/sim.json. One core: BLAS threads are pinned to 1.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import mesa  # noqa: E402
import numpy as np  # noqa: E402
from mesa.discrete_space import CellAgent, OrthogonalMooreGrid  # noqa: E402

from scenarios.drone_search import Config as SearchConfig  # noqa: E402
from scenarios.drone_search import DroneSearch  # noqa: E402
from scenarios.litter_patrol import Config as PatrolConfig  # noqa: E402
from scenarios.litter_patrol import LitterPatrol  # noqa: E402
from scenarios.policies import fixed_detector, make_policy  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "sim.json"
WORLDS = {
    "drone_search": (DroneSearch, SearchConfig),
    "litter_patrol": (LitterPatrol, PatrolConfig),
}
# (world, policy, drone counts): the scripted sweeps at every size, brain-facing ones at 1024
CASES = [
    ("drone_search", "lawnmower", (16, 256, 1024)),
    ("drone_search", "belief_greedy", (1024,)),
    ("litter_patrol", "cyclic_tour", (16, 256, 1024)),
    ("litter_patrol", "idleness_greedy", (1024,)),
]


def vectorised_rate(world: str, policy: str, size: int, n: int, ticks: int) -> tuple[float, float]:
    """(agent-steps/s of world + policy, ms per tick spent in policy.act); construction and
    three warm-up ticks are not timed (first-call allocations are not the steady state)."""
    cls, cfg_cls = WORLDS[world]
    w = cls(cfg_cls(height=size, width=size, horizon=ticks + 4), n, seed=0)
    pol = make_policy(policy, w.public_info(), np.arange(n), np.random.default_rng(0))
    for _ in range(3):
        obs = w.observe()
        w.step(pol.act(obs, fixed_detector(obs.tokens)))
    in_act = 0.0
    t0 = time.perf_counter()
    for _ in range(ticks):
        obs = w.observe()
        p = fixed_detector(obs.tokens)
        a0 = time.perf_counter()
        actions = pol.act(obs, p)
        in_act += time.perf_counter() - a0
        w.step(actions)
    return n * ticks / (time.perf_counter() - t0), 1e3 * in_act / ticks


class NaiveDrone(CellAgent):
    """Baseline drone: the same job one cell at a time in Python (3x3 footprint at 30 m)."""

    def __init__(self, model: NaiveWorld, i: int) -> None:
        super().__init__(model)
        self.belief = np.log(model.prior / (1 - model.prior))  # own log-odds map (H, W)
        self.dir = 1 if i % 2 == 0 else -1

    def step(self) -> None:
        m = self.model
        r, c = self.cell.coordinate
        best, cand, obs = -2.0, (r, c), {}
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                rr, cc = r + dr, c + dc
                if 0 <= rr < m.size and 0 <= cc < m.size:
                    obs[(rr, cc)] = m.app[rr, cc] + m.rng.normal(0, 0.14, m.app.shape[2])
        ctx = sum(obs.values()) / len(obs)
        for cell, o in obs.items():
            d = o - ctx
            s = float(d @ m.sig / (np.linalg.norm(d) + 1e-9))
            if s > best:
                best, cand = s, cell
        p = 1 / (1 + np.exp(-12 * (best - 0.7)))
        for cell in obs:
            self.belief[cell] += np.log(0.5) if cell != cand else np.log(p / (1 - p))
        nc = c + self.dir
        if not 0 <= nc < m.size:
            self.dir, nc = -self.dir, c
            r = min(r + 3, m.size - 1) if r + 3 < m.size else 0
        self.cell = m.grid[(r, nc)]


class NaiveWorld(mesa.Model):
    def __init__(self, size: int, n: int, seed: int) -> None:
        super().__init__(rng=seed)
        self.size = size
        self.grid = OrthogonalMooreGrid((size, size), torus=False, random=self.random)
        self.app = self.rng.normal(1, 0.6, (size, size, 8)).astype(np.float32)
        self.sig = self.rng.normal(size=8)
        self.sig /= np.linalg.norm(self.sig)
        self.prior = np.full((size, size), 1.0 / size**2)
        for i in range(n):
            NaiveDrone(self, i).cell = self.grid[(int(self.rng.integers(size)), i % size)]

    def step(self) -> None:
        self.agents.shuffle_do("step")


def naive_rate(size: int, n: int, ticks: int) -> float:
    world = NaiveWorld(size, n, seed=0)
    t0 = time.perf_counter()
    for _ in range(ticks):
        world.step()
    return n * ticks / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer ticks (a smoke run)")
    args = ap.parse_args(argv)
    ticks = 10 if args.quick else 40
    rows = []
    base = {n: naive_rate(64, n, ticks) for n in (16, 64)}
    for world, policy, counts in CASES:
        for size in (64, 256):
            for n in counts:
                rate, act_ms = vectorised_rate(world, policy, size, n, ticks)
                rows.append(
                    {"world": world, "policy": policy, "map": size, "drones": n,
                     "agent_steps_per_s": rate, "act_ms_per_tick": act_ms}
                )  # fmt: skip
    for row in rows:
        row["vs_naive_mesa_n16"] = row["agent_steps_per_s"] / base[16]
    out = {
        "ticks": ticks,
        "naive_mesa_agent_steps_per_s": {str(k): v for k, v in base.items()},
        "vectorised": rows,
        "target_n1024": 50_000,
        "python": platform.python_version(),
        "mesa": mesa.__version__,
        "numpy": np.__version__,
    }
    print(f"baseline (per-agent Mesa loop, 64x64): N=16 {base[16]:,.0f}  N=64 {base[64]:,.0f}")
    head = f"{'world':<14} {'policy':<16} {'map':>7} {'N':>5} {'agent-steps/s':>14}"
    print(f"{head} {'x naive':>8} {'act ms':>8}")
    for r in rows:
        m, rate = f"{r['map']}x{r['map']}", r["agent_steps_per_s"]
        line = f"{r['world']:<14} {r['policy']:<16} {m:>7} {r['drones']:>5} {rate:>14,.0f}"
        print(f"{line} {r['vs_naive_mesa_n16']:>8.1f} {r['act_ms_per_tick']:>8.2f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()

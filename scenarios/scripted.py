"""Standalone scripted missions: a world, a scripted policy and the fixed detector.

`python -m scenarios.drone_search --seed 3 --drones 8 --policy lawnmower --json` runs one
mission with the default Config and prints its metrics (one JSON object with --json, a table
without). `run_scripted` is the same loop as a function, for tests and benchmarks.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from scenarios.base import Scenario
from scenarios.claims import everyone_hears
from scenarios.metrics import auc
from scenarios.policies import POLICIES, fixed_detector, make_policy

__all__ = ["main", "run_scripted"]


def run_scripted(
    world: Scenario, policy: str | None = None, seed: int = 0, **params: float
) -> dict[str, float]:
    """Run `world` to its end under a scripted policy; metrics (+ detector_auc if it has a
    probe set). The policy's own rng is seeded from `seed`, so runs are reproducible."""
    info = world.public_info()
    name = policy or world.scripted_policy
    rng = np.random.default_rng([seed, 7])
    pol = make_policy(name, info, np.arange(world.n_drones), rng, **params)
    while not world.done:
        obs = world.observe()
        world.step(pol.act(obs, fixed_detector(obs.tokens)))
        pol.hear_claims(*everyone_hears(pol.claims()))  # one team, claims shared every tick
    out = world.metrics()
    probe = world.probe_set()
    if probe is not None:
        tokens, labels = probe
        out["detector_auc"] = auc(fixed_detector(tokens), labels)
    return out


def _table(title: str, metrics: dict[str, float]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for k, v in metrics.items():
        table.add_row(k, f"{v:.4g}")
    Console().print(table)


def main(cls: type[Scenario], argv: list[str] | None = None) -> dict[str, float]:
    """Command line of `python -m scenarios.<world>`."""
    ap = argparse.ArgumentParser(prog=f"python -m scenarios.{cls.name}", description=__doc__)
    ap.add_argument("--seed", type=int, default=0, help="world and policy seed")
    ap.add_argument("--drones", type=int, default=8, help="number of drones")
    ap.add_argument("--policy", choices=sorted(POLICIES), default=None, help="scripted policy")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    world = cls(cls.Config(), n_drones=args.drones, seed=args.seed)
    try:
        metrics = run_scripted(world, args.policy, seed=args.seed)
    except ValueError as err:
        ap.error(str(err))
    if args.json:
        print(json.dumps(metrics, sort_keys=True))
    else:
        _table(f"{cls.name} seed={args.seed} drones={args.drones}", metrics)
    return metrics

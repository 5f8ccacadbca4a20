"""Knowledge transfer: does what one drone learns about a new look-alike kind reach the others?

    python -m bench.transfer [--seeds 10] [--ticks 300] [--out PATH]
                             [--yaml scenarios/litter_patrol.yaml]

drone_search (scenarios/drone_search.yaml) places `concept_lookalikes` objects of one new
look-alike kind in one corner; litter_patrol (scenarios/litter_patrol.yaml) a new litter kind
that appears in one area mid-mission. A brain is a *witness* once it has received a label of
the concept (`scenarios.concept`, evaluation only). Every `--every` ticks the run loop scores
each brain on the world's concept probe (`concept_probe_set`) from its current state; the
measure is the median AUC of the **non-witness** brains, minus its value at tick 0
(`metrics.concept_lift_non_witness`).

Teams, on the same worlds (seeds 0..n-1), through the real pool (hosts in this process, real
ZeroMQ sockets): `swarm` (weights and beliefs shared), `swarm_no_weights` (the swarm with
`protocol.share_weights: false`) and `isolated`. Paired per-seed differences of the final
non-witness lift, with bootstrap 95 % intervals (`bench.field.paired`). Writes JSON (default
bench/results/transfer.json).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench.field import YAML, paired  # noqa: E402
from swarm.config import load_config  # noqa: E402
from swarm.loop import run_episode  # noqa: E402
from swarm.pool import HostPool  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "transfer.json"
TEAMS = {
    "swarm": ("swarm", True),
    "swarm_no_weights": ("swarm", False),
    "isolated": ("isolated", True),
}


def fly(cfg: Any, team: str, share_weights: bool, seed: int, every: int) -> dict:
    """One mission through the real pool (`swarm.loop.run_episode`, which records the concept
    curve, evaluation only); returns the non-witness curve, witnesses and the lift."""
    cfg = cfg.model_copy(deep=True)
    cfg.protocol.share_weights = share_weights
    with HostPool(cfg, n_hosts=2, backend="local") as pool:
        ep = run_episode(cfg, team, seed, pool, probe_every=every)
    if not ep.concept_curve:
        raise ValueError(
            f"{cfg.scenario} has no knowledge-transfer concept in this config: set "
            "world.concept_lookalikes (drone_search) or world.concept_litter_per_tick "
            "(litter_patrol) above 0"
        )
    curve = [[p.tick, p.non_witness, sum(p.witness)] for p in ep.concept_curve]
    return {
        "curve": curve,
        "witnesses": int(ep.metrics["concept_witnesses"]),
        "sample_holders": int(ep.metrics.get("concept_sample_holders", 0)),
        "ticks": ep.ticks,
        "lift": ep.metrics["concept_lift_non_witness"],
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--ticks", type=int, default=None)
    ap.add_argument("--every", type=int, default=30)
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--yaml", type=Path, default=YAML)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    cfg = load_config(args.yaml, {"ticks": args.ticks} if args.ticks else None)
    runs: dict[str, list[dict]] = {name: [] for name in TEAMS}
    t0 = time.perf_counter()
    for seed in range(args.seeds):
        for name, (team, share) in TEAMS.items():
            r = fly(cfg, team, share, seed, args.every)
            runs[name].append(r)
            print(
                f"seed {seed} {name:17s} witnesses {r['witnesses']:2d} (photo holders "
                f"{r['sample_holders']:2d})  non-witness concept "
                f"AUC {r['curve'][0][1]:.3f} -> {r['curve'][-1][1]:.3f}  "
                f"({time.perf_counter() - t0:.0f} s)",
                flush=True,
            )
        lifts = {k: [r["lift"] for r in v] for k, v in runs.items()}
        summary = {
            "non_witness_lift": {k: paired(v) for k, v in lifts.items()},
            "swarm_minus_isolated": paired(np.subtract(lifts["swarm"], lifts["isolated"])),
            "swarm_minus_swarm_no_weights": paired(
                np.subtract(lifts["swarm"], lifts["swarm_no_weights"])
            ),
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        out = {"seeds": seed + 1, "summary": summary, "runs": runs}
        args.out.write_text(json.dumps(out, indent=1))
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()

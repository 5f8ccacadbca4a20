"""Knowledge transfer: does what one drone learns about a new look-alike kind reach the others?

    python -m bench.transfer [--seeds 10] [--ticks 300] [--out PATH]

drone_search (scenarios/drone_search.yaml) places `concept_lookalikes` objects of one new
look-alike kind in one corner. A brain is a *witness* once it has received a label of the
concept (an inspection of one of those cells; `world.concept_witness`, evaluation only). Every
`--every` ticks each brain is scored on the world's concept probe (target vs that kind,
`DroneSearch.concept_probe_set`), from its current state; the measure is the median AUC of
the **non-witness** brains, minus its value at tick 0.

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
from swarm.loop import make_world  # noqa: E402
from swarm.pool import HostPool  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "transfer.json"
TEAMS = {
    "swarm": ("swarm", True),
    "swarm_no_weights": ("swarm", False),
    "isolated": ("isolated", True),
}


def brain_aucs(pool: HostPool, probe: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """(N,) each brain's concept-probe AUC, in drone order (one brain per drone)."""
    out = np.full(pool.plan.n_drones, np.nan)
    for host in pool.hosts.hosts:  # the local backend's HostCores
        if host.bank is not None:
            out[host.drone_ids] = host.probe_aucs(*probe)
    return out


def fly(cfg: Any, team: str, share_weights: bool, seed: int, every: int) -> dict:
    """One mission; returns the non-witness median AUC curve and the witness count."""
    cfg = cfg.model_copy(deep=True)
    cfg.protocol.share_weights = share_weights
    n = cfg.drones
    world = make_world(cfg, n, seed)
    probe = world.concept_probe_set()
    curve = []
    with HostPool(cfg, n_hosts=2, backend="local") as pool:
        pool.configure(team, seed, world.public_info(), world.token_spec, n)

        def score(t: int) -> None:
            aucs, wit = brain_aucs(pool, probe), world.concept_witness
            rest = aucs[~wit]
            curve.append([t, float(np.median(rest)) if rest.size else float("nan"), int(wit.sum())])

        score(0)
        tick, rounds = 0, 0
        while not world.done:
            world.step(pool.act(world.observe()))
            tick += 1
            if tick % cfg.protocol.sync_every == 0 and not world.done:
                pool.exchange(rounds)
                rounds += 1
            if tick % every == 0 or world.done:
                score(tick)
    return {"curve": curve, "witnesses": int(world.concept_witness.sum()), "ticks": tick}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--ticks", type=int, default=None)
    ap.add_argument("--every", type=int, default=30)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    cfg = load_config(YAML, {"ticks": args.ticks} if args.ticks else None)
    runs: dict[str, list[dict]] = {name: [] for name in TEAMS}
    t0 = time.perf_counter()
    for seed in range(args.seeds):
        for name, (team, share) in TEAMS.items():
            r = fly(cfg, team, share, seed, args.every)
            r["lift"] = r["curve"][-1][1] - r["curve"][0][1]
            runs[name].append(r)
            print(
                f"seed {seed} {name:17s} witnesses {r['witnesses']:2d}  non-witness concept "
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

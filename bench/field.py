"""Learning in the field: paired learning-on vs frozen runs of drone_search, scored on the field.

    python -m bench.field [--seeds 20] [--teams isolated,swarm] [--ticks 300] [--out PATH]
                          [--yaml scenarios/litter_patrol.yaml]

For every seed and team, the same world is flown twice through the real host pool (hosts in
this process, real ZeroMQ sockets, `HostPool(backend="local")`): once with the learner on and
once frozen (`learner.enabled: false`), everything else from the YAML (default
scenarios/drone_search.yaml; litter_patrol works the same, its truth being litter on the cell).

Field AUC (evaluation only, recorded by `swarm.loop`): every detect logit a brain produced on
a token it actually observed, pooled over the team's brains and the mission, scored against
whether that token's candidate cell held a target (`world.candidate_truth`, simulator truth
that reaches no brain or policy).

Per team: the per-seed differences learning − frozen of every metric of the run (field AUC,
time-to-find, found, false alarms; precision and recall in litter_patrol, ...), with
bootstrap 95 % intervals of their mean (`swarm.stats.bootstrap_mean_ci`, the scorecard's).
Writes JSON (default bench/results/field.json) and prints a short table.
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

from swarm.config import load_config  # noqa: E402
from swarm.loop import run_episode  # noqa: E402
from swarm.pool import HostPool  # noqa: E402
from swarm.stats import bootstrap_mean_ci  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "field.json"
YAML = Path(__file__).parent.parent / "scenarios" / "drone_search.yaml"


def run_one(cfg: Any, team: str, seed: int, learn: bool) -> dict[str, float]:
    """One mission through the real pool; returns the run's metrics (field AUC included)."""
    cfg = cfg.model_copy(deep=True)
    cfg.learner.enabled = learn
    with HostPool(cfg, n_hosts=2, backend="local") as pool:
        ep = run_episode(cfg, team, seed, pool)
    return {k: float(v) for k, v in ep.metrics.items()}


def paired(diffs: list[float]) -> dict[str, float | int | None]:
    """Mean of per-seed differences with the scorecard's bootstrap 95 % interval
    (`swarm.stats.bootstrap_mean_ci`: percentile, fixed seed; None below its minimum n);
    finite values only."""
    d = np.asarray([x for x in diffs if np.isfinite(x)], float)
    lo, hi = bootstrap_mean_ci(d)
    return {"mean": float(d.mean()) if d.size else None, "lo": lo, "hi": hi, "n": int(d.size)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--teams", default="isolated,swarm")
    ap.add_argument("--ticks", type=int, default=None)
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--yaml", type=Path, default=YAML)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    cfg = load_config(args.yaml, {"ticks": args.ticks} if args.ticks else None)
    teams = args.teams.split(",")
    runs: dict[str, list[dict]] = {t: [] for t in teams}
    summary: dict[str, dict] = {}
    t0 = time.perf_counter()
    for seed in range(args.seeds):  # seed-major: a cut-short run still pairs every team
        for team in teams:
            on = run_one(cfg, team, seed, learn=True)
            off = run_one(cfg, team, seed, learn=False)
            runs[team].append({"seed": seed, "learning": on, "frozen": off})
            print(
                f"{team} seed {seed}: field AUC {on['field_auc']:.3f} vs frozen "
                f"{off['field_auc']:.3f}  ({time.perf_counter() - t0:.0f} s)",
                flush=True,
            )
            args.out.parent.mkdir(parents=True, exist_ok=True)
            for key in on:
                summary.setdefault(team, {})[key] = paired(
                    [r["learning"][key] - r["frozen"][key] for r in runs[team]]
                )
            args.out.write_text(
                json.dumps({"seeds": seed + 1, "summary": summary, "runs": runs}, indent=1)
            )
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()

"""The online learner on recorded drone_search flights: lift over frozen, per design choice.

    python -m bench.learner [--missions 4] [--drones 8] [--ticks 300] [--out PATH]

Each mission is a drone_search world (seed = mission) flown by lawnmower sweeps
(`scenarios.recording.record_search`); every drone's tokens feed one brain of a `BrainBank`
built from the pretrained checkpoint, and the tokens the hand-set detector would have flagged
get the label an inspection reveals, 5 ticks late (the field's mix: mostly look-alikes as hard
negatives, a rare target). Variant `hard_negatives` withholds the positives.

Each brain is then scored on the world's field probe (`DroneSearch.field_probe_set`: the
search altitude, the mission's lighting, both classes) and on its source probe, each token
from a zero state; the lift is its AUC minus the frozen checkpoint's. One row per learner
variant (the default and one change at a time), median and worst lift over brains × missions.
Writes JSON (default bench/results/learner.json).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from agents.bank import BrainBank  # noqa: E402
from agents.config import LearnerConfig, YanConfig  # noqa: E402
from agents.pretrain import load_pretrained  # noqa: E402
from scenarios.drone_search import Config as SearchConfig  # noqa: E402
from scenarios.drone_search import DroneSearch  # noqa: E402
from scenarios.metrics import auc  # noqa: E402
from scenarios.recording import record_search  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "learner.json"
DELAY = 5  # ticks from a flag to its label (an inspection's length)
# 4x the world's default: 256 implanted targets per field probe, so a brain's AUC moves
# little by chance (with 64 its standard error is about 0.02, the size of the effects here)
PROBE_SIZE = 2048

#: One change at a time from the default LearnerConfig; "frozen" is the baseline itself.
VARIANTS: dict[str, dict] = {
    "default": {},
    "no_photo_positives": {"photo_positives": 0},
    "no_rank": {"rank_weight": 0.0},
    "no_rehearsal": {"rehearsal_weight": 0.0},
    "no_ewc": {"ewc_weight": 0.0},
    "ssl_0.1": {"ssl_weight": 0.1},
    "lr_2e-3": {"lr": 2e-3},
}


@dataclass
class Mission:
    """One recorded mission: tokens (N, T, D), labels (N, T) NaN where none, probes."""

    tokens: np.ndarray
    labels: np.ndarray
    field: tuple[np.ndarray, np.ndarray]
    source: tuple[np.ndarray, np.ndarray]


def missions(
    seeds: list[int], drones: int, ticks: int, hard_only: bool, probe_size: int = PROBE_SIZE
) -> list[Mission]:
    """Recorded drone_search missions on world seeds `seeds` (default world config, probes of
    `probe_size` tokens)."""
    out = []
    for s in seeds:
        world = DroneSearch(SearchConfig(probe_size=probe_size), drones, seed=s)
        fl = record_search(world, ticks)
        out.append(
            Mission(fl.tokens, fl.labels(hard_only), world.field_probe_set(), world.probe_set())
        )
    return out


@torch.no_grad()
def bank_aucs(bank: BrainBank, tokens: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """AUC of each weight set on probe tokens (M, D), each scored from a zero state."""
    saved = bank.state
    bank.reset_state()
    scores = bank.score(tokens)["detect"]  # (P, M) from the (zero) state
    bank.state = saved
    return np.array([auc(s, labels) for s in scores])


def run(cfg: YanConfig, lc: LearnerConfig, ms: list[Mission], seed: int = 0) -> dict:
    """Lift over frozen of every brain (mission-major): field and source probe AUC."""
    base = load_pretrained(cfg)
    x = np.concatenate([m.tokens for m in ms])  # (B, T, D): one brain per drone
    y = np.concatenate([m.labels for m in ms])
    per = ms[0].tokens.shape[0]
    bank = BrainBank(cfg, lc, k=len(x), seed=seed, init=base)
    frozen = BrainBank(cfg, LearnerConfig(enabled=False), k=1, seed=seed, init=base)
    for t in range(x.shape[1]):
        bank.act(x[:, t], t)
        if t >= DELAY:
            b = np.flatnonzero(~np.isnan(y[:, t - DELAY]))
            if b.size:
                bank.label(b, np.full(b.size, t - DELAY), y[b, t - DELAY])
        bank.learn(t)
    out: dict[str, list[float]] = {"field": [], "source": []}
    for j, m in enumerate(ms):
        for probe in ("field", "source"):
            px, py = getattr(m, probe)
            learned = bank_aucs(bank, px, py)[j * per : (j + 1) * per]
            out[probe] += (learned - bank_aucs(frozen, px, py)[0]).tolist()
    return out


def summary(lifts: list[float]) -> dict[str, float]:
    a = np.asarray(lifts)
    return {"median": float(np.median(a)), "worst": float(a.min()), "best": float(a.max())}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--missions", type=int, default=4)
    ap.add_argument("--drones", type=int, default=8)
    ap.add_argument("--ticks", type=int, default=300)
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--variants", type=json.loads, default=None, help="JSON {name: {field: v}}")
    ap.add_argument("--mixes", default="field_mix,hard_negatives")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    cfg = YanConfig()
    seeds = list(range(100, 100 + args.missions))  # not the run seeds 0..19
    report: dict[str, dict] = {}
    variants = args.variants or VARIANTS
    for mix in args.mixes.split(","):
        ms = missions(seeds, args.drones, args.ticks, hard_only=mix == "hard_negatives")
        n_pos = int(np.nansum(np.concatenate([m.labels for m in ms])))
        n_lab = int((~np.isnan(np.concatenate([m.labels for m in ms]))).sum())
        report[mix] = {"labels": n_lab, "positive_labels": n_pos}
        for name, kw in variants.items():
            lifts = run(cfg, LearnerConfig(**kw), ms)
            report[mix][name] = {p: summary(v) for p, v in lifts.items()}
            f, s = report[mix][name]["field"], report[mix][name]["source"]
            print(
                f"{mix:15s} {name:20s} field lift median {f['median']:+.3f} worst "
                f"{f['worst']:+.3f} | source median {s['median']:+.3f} worst {s['worst']:+.3f}",
                flush=True,
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()

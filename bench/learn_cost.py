"""`python -m bench.learn_cost`: what learner options cost per tick at large N, against the
default learner in the same run.

    python -m bench.learn_cost [--n 1024] [--warmup 60] [--ticks 20] [--repeats 1]
                               [--variant NAME PATH=VALUE [PATH=VALUE ...]] ... [--out PATH]

The default learner and each `--variant` (scenario overrides as in `swarm.run --set`, e.g.
`--variant le8 learner.learn_every=8`) fly the default drone_search scenario with N drones of
one bank in this process, one core, no Ray and no exchange: `bench.swarm`'s in-process
baseline (`bench.swarm.time_inprocess`: a `swarm.host.HostCore` holding every brain runs
bank.act, labels, bank.learn and the policy each tick). The first `--warmup` ticks are flown
untimed: by tick 60 about half the brains of N = 1,024 hold both classes and take field steps
(docs/model.md), so the timed ticks see the mission's steady learning load rather than its
quiet start. `--repeats` rounds run every configuration in turn, so a drift of the machine's
load spreads over all of them; each figure is the median over the rounds.

Per configuration: ms per tick of the bank (act + learn) and of the whole act, agent-steps/s
of the in-process loop, optimiser steps taken, the most tokens one weight set's step runs
forward and backward (`agents.config.train_tokens`), and each variant's ratio to the default.
Whether an option keeps what learning buys is a separate, paired question: fly it as a team
variant in the scorecard (docs/learner.md, "What the learn step costs").
Writes JSON (default bench/results/learn_cost.json). The machine may be shared: compare
figures only within one run.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

__all__ = ["main", "summarise"]

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "learn_cost.json"
DEFAULT = "default"


def _variants(specs: list[list[str]]) -> dict[str, dict[str, Any]]:
    """`--variant NAME PATH=VALUE ...` flags -> {name: {path: value}}, the default first."""
    from swarm.overrides import as_mapping, parse_set

    out: dict[str, dict[str, Any]] = {DEFAULT: {}}
    for spec in specs:
        name, sets = spec[0], spec[1:]
        if "=" in name or not sets:
            raise SystemExit(
                f"--variant {' '.join(spec)}: write a name, then one or more PATH=VALUE, "
                "e.g. --variant le8 learner.learn_every=8"
            )
        if name in out:
            raise SystemExit(f"--variant {name}: the name is used twice (or is {DEFAULT!r})")
        out[name] = as_mapping(parse_set(text) for text in sets)
    return out


def _measure(n: int, ticks: int, warmup: int, more: dict[str, Any]) -> dict[str, float]:
    """One configuration's timed ticks (`bench.swarm.time_inprocess`) as milliseconds."""
    from agents.config import train_tokens
    from bench.swarm import _config, time_inprocess

    cfg = _config(n, ticks + warmup, more)
    t = time_inprocess(cfg, n, ticks, warmup)
    tick = t["world"] + t["act"]
    return {
        "bank_ms": 1e3 * (t["act"] - t["policy"]),
        "act_ms": 1e3 * t["act"],
        "tick_ms": 1e3 * tick,
        "agent_steps_per_s": n / tick,
        "train_steps": t["train_steps"],
        "ticks_timed": t["ticks"],
        "tokens_per_step": train_tokens(cfg.learner),
    }


def summarise(rounds: dict[str, list[dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Median of each figure over the rounds per configuration, and each configuration's
    ratios to the default's medians: `bank_vs_default`, `tick_vs_default` (time, < 1 is
    cheaper) and `tokens_vs_default`. `rounds[DEFAULT]` must be present."""
    med = {
        name: {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        for name, runs in rounds.items()
    }
    base = med[DEFAULT]
    for m in med.values():
        m["bank_vs_default"] = m["bank_ms"] / base["bank_ms"]
        m["tick_vs_default"] = m["tick_ms"] / base["tick_ms"]
        m["tokens_vs_default"] = m["tokens_per_step"] / base["tokens_per_step"]
    return med


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run every configuration `--repeats` times in turn, print a line each, write the JSON."""
    ap = argparse.ArgumentParser(
        prog="python -m bench.learn_cost", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--n", type=int, default=1024, help="drones, all in one bank")
    ap.add_argument("--warmup", type=int, default=60, help="ticks flown before timing")
    ap.add_argument("--ticks", type=int, default=20, help="ticks timed after warm-up")
    ap.add_argument("--repeats", type=int, default=1, help="rounds over all configurations")
    ap.add_argument(
        "--variant",
        action="append",
        nargs="+",
        default=[],
        metavar="NAME PATH=VALUE",
        help="a learner option to price, e.g. --variant le8 learner.learn_every=8",
    )
    ap.add_argument("--out", type=Path, default=RESULTS, help="JSON output path")
    args = ap.parse_args(argv)
    variants = _variants(args.variant)
    import torch

    torch.set_num_threads(1)  # one core, as each host has
    rounds: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
    for r in range(args.repeats):
        for name, more in variants.items():
            m = _measure(args.n, args.ticks, args.warmup, more)
            rounds[name].append(m)
            print(
                f"round {r} {name:>12}: bank {m['bank_ms']:7.1f} ms/tick, tick "
                f"{m['tick_ms']:7.1f} ms, {m['agent_steps_per_s']:7.0f} agent-steps/s, "
                f"{m['train_steps']:.0f} steps, {m['tokens_per_step']} tokens/step",
                flush=True,
            )
    doc = {
        "bench": "learn_cost",
        "n": args.n,
        "warmup_ticks": args.warmup,
        "ticks": args.ticks,
        "repeats": args.repeats,
        "variants": variants,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "rounds": rounds,
        "median": summarise(rounds),
    }
    for name, m in doc["median"].items():
        print(
            f"{name:>12}: bank x{m['bank_vs_default']:.2f}, tick x{m['tick_vs_default']:.2f}, "
            f"tokens/step x{m['tokens_vs_default']:.2f} of the default"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1))
    print(f"wrote {args.out}")
    return doc


if __name__ == "__main__":
    main()

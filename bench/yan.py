"""Yan decode, memory, batched brains and selective FFN, against baselines measured in this run.

    python -m bench.yan [--quick]      # table on stdout + bench/results/yan.json

1. Decode time per token after T tokens: YanModel (recurrent step) vs a same-size Transformer
   with a KV cache (bench/transformer.py); state bytes vs KV-cache bytes; RSS growth 256 -> max T.
2. BrainBank of K small brains: one batched act+learn step vs K separate YanModels (the
   separate cost is measured on up to 16 models and scaled linearly to K).
3. Selective FFN decode: top-k groups gathered vs all groups (dense), at d_model 512 and 1024.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from agents.bank import BrainBank
from agents.config import LearnerConfig, YanConfig
from agents.selective import SelectiveGeGLU, selective_apply
from agents.yan import YanModel
from bench.transformer import KVTransformer

DECODE_CFG = YanConfig(d_model=256, n_layers=4, n_channels=8, ffn_groups=8)


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def _time(fn, reps: int) -> float:
    fn()  # warm-up
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t0) / reps


@torch.no_grad()
def decode(lengths: list[int], reps: int) -> list[dict]:
    cfg = DECODE_CFG
    yan, tf = YanModel(cfg), KVTransformer(cfg)
    x = torch.randn(1, cfg.input_dim)
    rows, rss0 = [], None
    for t in lengths:
        _, state = yan(torch.randn(1, t, cfg.input_dim), mode="chunked")  # state after T tokens
        cache = tf.empty_cache(1, t)
        rss = _rss_mb()
        rss0 = rss if rss0 is None else rss0
        rows.append(
            {
                "T": t,
                "yan_ms": 1e3 * _time(lambda s=state: yan.step(x, s), reps),
                "transformer_ms": 1e3 * _time(lambda c=cache: tf.step(x, c), reps),
                "yan_state_bytes": state.numel() * 4,
                "kv_cache_bytes": sum(k.numel() + v.numel() for k, v in cache) * 4,
                "rss_growth_mb": rss - rss0,
            }
        )
        del cache
    return rows


def bank(ks: list[int], ticks: int) -> list[dict]:
    cfg, lc = YanConfig(), LearnerConfig(learn_every=1, window=32)
    rows = []
    for k in ks:
        b = BrainBank(cfg, lc, k=k)
        toks = np.random.default_rng(0).standard_normal((k, cfg.input_dim)).astype(np.float32)
        for t in range(lc.window):
            b.act(toks, t)
        tick = [lc.window]

        def batched(b=b, toks=toks, tick=tick) -> None:
            b.act(toks, tick[0])
            b.learn(tick[0])
            tick[0] += 1

        n_sep = min(k, 16)
        seps = [BrainBank(cfg, lc, k=1, seed=i) for i in range(n_sep)]
        for s in seps:
            for t in range(lc.window):
                s.act(toks[:1], t)

        def separate(seps=seps, toks=toks, tick=tick) -> None:
            for s in seps:
                s.act(toks[:1], tick[0])
                s.learn(tick[0])
            tick[0] += 1

        t_b = _time(batched, ticks)
        t_s = _time(separate, ticks) * k / n_sep
        rows.append(
            {"K": k, "batched_ms": 1e3 * t_b, "separate_ms": 1e3 * t_s, "speedup": t_s / t_b}
        )
    return rows


@torch.no_grad()
def selective(widths: list[int], reps: int) -> list[dict]:
    rows = []
    for d in widths:
        m = SelectiveGeGLU(d, 4 * d, 16)
        p = {n: w.unsqueeze(0) for n, w in m.state_dict().items()}
        x = torch.randn(1, 1, 1, d)
        t_k = _time(lambda p=p, x=x: selective_apply(p, x, 2, path="gather"), reps)
        t_d = _time(lambda p=p, x=x: selective_apply(p, x, 2, path="dense"), reps)
        rows.append(
            {
                "d_model": d,
                "groups": 16,
                "active": 2,
                "topk_ms": 1e3 * t_k,
                "dense_ms": 1e3 * t_d,
                "speedup": t_d / t_k,
            }
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Yan benchmarks")
    ap.add_argument("--quick", action="store_true", help="fewer repetitions, K up to 256")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    reps = 10 if args.quick else 50
    res = {
        "decode_config": DECODE_CFG.model_dump(),
        "decode": decode([256, 1024, 2048, 4096, 8192], reps),
        "bank": bank([16, 256] if args.quick else [16, 256, 1024], 3 if args.quick else 10),
        "selective": selective([512, 1024], reps * 4),
    }
    d = res["decode"]
    res["summary"] = {
        "yan_t8k_over_t256": d[-1]["yan_ms"] / d[0]["yan_ms"],
        "transformer_t8k_over_t256": d[-1]["transformer_ms"] / d[0]["transformer_ms"],
        "yan_speedup_at_8k": d[-1]["transformer_ms"] / d[-1]["yan_ms"],
    }
    for name, rows in res.items():
        if isinstance(rows, list):
            print(f"\n{name}")
            print("  ".join(f"{k:>16}" for k in rows[0]))
            for r in rows:
                print(
                    "  ".join(
                        f"{v:>16.4g}" if isinstance(v, float) else f"{v:>16}" for v in r.values()
                    )
                )
    print("\nsummary", json.dumps(res["summary"], indent=1))
    out = Path(__file__).parent / "results" / "yan.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()

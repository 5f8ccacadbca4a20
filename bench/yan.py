"""Yan decode, memory, batched brains and selective FFN, against baselines measured in this run.

    python -m bench.yan [--quick]      # table on stdout + bench/results/yan.json

1. Decode time per token after prefilling T tokens (prefill not timed): YanModel.step vs a
   same-size Transformer with a preallocated KV cache (bench/transformer.py), timed in
   alternating blocks, median of block means; state bytes vs KV-cache bytes; RSS growth from the
   first to the last T, each model alone in a fresh subprocess.
2. BrainBank of K small brains: one batched act+learn tick vs K separate one-brain banks (the
   separate cost is measured on up to 16 and scaled linearly to K), unlabelled (no brain
   holds both classes, so learning stops before its forward pass) and labelled (a quarter of
   the brains get a late label every tick: real forward, backward and Adam steps).
3. Selective FFN decode: top-k groups gathered vs all groups (dense), at d_model 512 and 1024.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from agents.bank import BrainBank
from agents.config import LearnerConfig, YanConfig
from agents.model import FFNWeights, SelectiveGeGLU, YanModel, selective_apply
from bench.transformer import KVTransformer

DECODE_CFG = YanConfig(d_model=256, n_layers=4, n_channels=8, ffn_groups=8)


def _rss_mb() -> float:
    """Resident set size of this process, MiB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _time(fn, reps: int) -> float:
    fn()  # warm-up
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t0) / reps


@torch.no_grad()
def _prefill(yan: YanModel, t: int, seg: int = 256) -> Tensor:
    """Yan state after t random tokens, run through the chunked form seg tokens at a time
    (bounded scratch memory, so RSS reflects the state, not the prefill)."""
    state = yan.init_state(1)
    for i in range(0, t, seg):
        _, state = yan(torch.randn(1, min(seg, t - i), yan.cfg.input_dim), state)
    return state


def _block_ms(fn, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return 1e3 * (time.perf_counter() - t0) / n


@torch.no_grad()
def decode(lengths: list[int], steps: int, blocks: int = 10) -> list[dict]:
    """Per position T: prefill T tokens (not timed), then decode `steps` tokens, Yan and the
    KV-cache Transformer in alternating blocks (so machine noise hits both alike); ms per token
    is the median over blocks of the block mean."""
    cfg = DECODE_CFG
    torch.manual_seed(0)
    yan, tf = YanModel(cfg), KVTransformer(cfg)
    x = torch.randn(1, cfg.input_dim)
    n = max(steps // blocks, 1)
    rows = []
    for t in lengths:
        holder = [_prefill(yan, t)]
        cache = tf.new_cache(1, t + 2 * n * blocks + 1, filled=t)
        kv_bytes = cache.nbytes  # at position T, before decoding

        def yan_tok(h=holder) -> None:
            h[0] = yan.step(x, h[0])[1]

        def tf_tok(c=cache) -> None:
            tf.step(x, c)

        yan_tok(), tf_tok()  # warm-up
        y_ms, t_ms = [], []
        for _ in range(blocks):
            y_ms.append(_block_ms(yan_tok, n))
            t_ms.append(_block_ms(tf_tok, n))
        rows.append(
            {
                "T": t,
                "yan_ms": float(np.median(y_ms)),
                "transformer_ms": float(np.median(t_ms)),
                "yan_state_bytes": holder[0].numel() * holder[0].element_size(),
                "kv_cache_bytes_at_T": kv_bytes,
            }
        )
        del cache
    return rows


@torch.no_grad()
def rss_of(model: str, lengths: list[int]) -> list[float]:
    """RSS (MiB) of this process after prefilling each T and decoding 16 tokens with one
    model only; run in a fresh subprocess per model (see `rss`) so neither sees the other."""
    torch.manual_seed(0)
    cfg, out = DECODE_CFG, []
    x = torch.randn(1, cfg.input_dim)
    yan, tf = (YanModel(cfg), None) if model == "yan" else (None, KVTransformer(cfg))
    keep = []
    for t in lengths:
        if yan is not None:
            state = _prefill(yan, t)
            for _ in range(16):
                state = yan.step(x, state)[1]
            keep = [state]
        else:
            keep = []  # drop the previous cache before allocating the next
            cache = tf.new_cache(1, t + 16, filled=t)
            for _ in range(16):
                tf.step(x, cache)
            keep = [cache]
        gc.collect()
        out.append(_rss_mb())
    del keep
    return out


def rss(lengths: list[int]) -> dict:
    """RSS growth from the first to each T, per model, each in its own fresh subprocess."""
    res = {}
    for model in ("yan", "transformer"):
        cmd = [sys.executable, "-m", "bench.yan", "--rss-of", model]
        cmd += ["--lengths", ",".join(map(str, lengths))]
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        mb = json.loads(done.stdout.strip().splitlines()[-1])
        res[model] = {"rss_mb": mb, "growth_mb": [m - mb[0] for m in mb]}
    return res


def _labels(k: int, tick: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Late labels for a quarter of K brains' tokens of 2 ticks ago, ~20 % positive: brain,
    tick and value arrays, the same for a tick whichever bank layout receives them."""
    rng = np.random.default_rng(tick)
    brains = np.sort(rng.choice(k, max(k // 4, 1), replace=False))
    return (
        brains,
        np.full(brains.size, tick - 2),
        (rng.random(brains.size) < 0.2).astype(np.float32),
    )


def bank(ks: list[int], ticks: int, labelled: bool = False) -> list[dict]:
    """One batched act+learn tick of K brains vs K separate one-brain banks (measured on up
    to 16, scaled linearly to K). Unlabelled, no brain holds both classes, so a learning step
    draws its photo positives and stops (its forward pass would be discarded); `labelled`
    gives a quarter of the brains a late label every tick, so steps run forward, backward and
    Adam like a brain in the field."""
    cfg, lc = YanConfig(), LearnerConfig(learn_every=1, window=32)
    rows = []
    for k in ks:
        b = BrainBank(cfg, lc, k=k)
        toks = np.random.default_rng(0).standard_normal((k, cfg.input_dim)).astype(np.float32)
        n_sep = min(k, 16)
        seps = [BrainBank(cfg, lc, k=1, seed=i) for i in range(n_sep)]

        def tick_all(t: int, banks: list, rows_of: list, k: int = k, toks=toks) -> None:
            lab = _labels(k, t) if labelled and t >= 2 else None
            for bk, mine in zip(banks, rows_of, strict=True):
                bk.act(toks[mine], t)
                if lab is not None:
                    hit = np.isin(lab[0], mine)
                    if hit.any():
                        local = np.searchsorted(mine, lab[0][hit])
                        bk.label(local, lab[1][hit], lab[2][hit])
                bk.learn(t)

        whole, single = [np.arange(k)], [np.array([i]) for i in range(n_sep)]
        for t in range(lc.window):
            tick_all(t, [b], whole)
            tick_all(t, seps, single)
        tick = [lc.window, lc.window]

        def batched(tick=tick, b=b, whole=whole) -> None:
            tick_all(tick[0], [b], whole)
            tick[0] += 1

        def separate(tick=tick, seps=seps, single=single) -> None:
            tick_all(tick[1], seps, single)
            tick[1] += 1

        t_b = _time(batched, ticks)
        t_s = _time(separate, ticks) * k / n_sep
        rows.append(
            {
                "K": k,
                "labelled": labelled,
                "batched_ms": 1e3 * t_b,
                "separate_ms": 1e3 * t_s,
                "speedup": t_s / t_b,
            }
        )
    return rows


@torch.no_grad()
def selective(widths: list[int], reps: int) -> list[dict]:
    rows = []
    for d in widths:
        m = SelectiveGeGLU(d, 4 * d, 16)
        p = FFNWeights(**{n: w.unsqueeze(0) for n, w in m.state_dict().items()})
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
    ap.add_argument("--rss-of", choices=["yan", "transformer"], help=argparse.SUPPRESS)
    ap.add_argument("--lengths", default="256,1024,2048,4096,8192")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    lengths = [int(v) for v in args.lengths.split(",")]
    if args.rss_of:  # child process of `rss`: one model only
        print(json.dumps(rss_of(args.rss_of, lengths)))
        return
    reps = 10 if args.quick else 50
    res = {
        "decode_config": DECODE_CFG.model_dump(),
        "decode": decode(lengths, 100 if args.quick else 400),
        "rss": rss(lengths),
        "bank": [
            row
            for labelled in (False, True)
            for row in bank(
                [16, 256] if args.quick else [16, 256, 1024], 3 if args.quick else 10, labelled
            )
        ],
        "selective": selective([512, 1024], reps * 4),
    }
    d = res["decode"]
    res["summary"] = {
        "yan_tmax_over_t256": d[-1]["yan_ms"] / d[0]["yan_ms"],
        "transformer_tmax_over_t256": d[-1]["transformer_ms"] / d[0]["transformer_ms"],
        "yan_speedup_at_tmax": d[-1]["transformer_ms"] / d[-1]["yan_ms"],
        "yan_rss_growth_mb": res["rss"]["yan"]["growth_mb"][-1],
        "transformer_rss_growth_mb": res["rss"]["transformer"]["growth_mb"][-1],
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
    out = Path(__file__).parent / "results" / ("yan_quick.json" if args.quick else "yan.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()

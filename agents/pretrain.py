"""Pretraining on the *source* synthetic distribution, with a checkpoint cache.

    python -m agents.pretrain [--size small|large|all] [--steps N]

"small" is the default `YanConfig()`; "large" is `scaled(small, 16)`. Checkpoints are cached in
`$SWARM_CACHE` or `~/.cache/swarm`, keyed by a hash of the model config, the source
distribution and the training recipe; `load_pretrained(cfg)` reuses the cache or trains first.

What the online learner keeps of the source task lives here too: `rehearsal_set` (a fixed set
of labelled source streams, both classes, replayed in every field step) and `source_fisher`
(the diagonal Fisher of the detector's source loss at the pretrained weights, the EWC weights).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from agents.config import YanConfig, count_params, scaled
from agents.learner import stream_losses
from agents.model import YanModel, balance_step, yan_apply
from agents.synthetic import SyntheticConfig, make_stream, probe_auc

__all__ = [
    "cache_dir",
    "checkpoint_path",
    "default_recipe",
    "load_pretrained",
    "pretrain",
    "rehearsal_set",
    "size_config",
    "source_fisher",
]

REHEARSAL_SEED = 424_242  # not a pretraining seed: rehearsal streams are their own draw
FISHER_SEED = 515_151
FISHER_BATCHES = 8

RECIPE = {
    "version": 1,
    "steps": 300,
    "batch": 16,
    "length": 64,
    "lr": 3e-3,
    "ssl": 0.1,
    "pos_weight": 4.0,
    "seed": 0,
}


def default_recipe(cfg: YanConfig) -> dict:
    """RECIPE, with fewer steps for big models so each size trains in under a minute on two
    shared cores (large: 120 steps already reach the small model's source AUC)."""
    return {**RECIPE, "steps": 300 if count_params(cfg) <= 100_000 else 120}


def size_config(size: str) -> YanConfig:
    """The default config of a named size: "small" or "large" (= scaled(small, 16))."""
    if size == "small":
        return YanConfig()
    if size == "large":
        return scaled(YanConfig(), 16)
    raise ValueError(f"size must be 'small' or 'large', got {size!r}")


def cache_dir() -> Path:
    """$SWARM_CACHE, else ~/.cache/swarm (created)."""
    d = Path(os.environ.get("SWARM_CACHE") or Path.home() / ".cache" / "swarm")
    d.mkdir(parents=True, exist_ok=True)
    return d


def checkpoint_path(cfg: YanConfig, recipe: dict | None = None) -> Path:
    """Cache file for `cfg` trained with `recipe` (over `default_recipe(cfg)`) on the source
    distribution; the key holds the recipe actually used, so changing it retrains."""
    key = json.dumps(
        {
            "model": cfg.model_dump(),
            "data": SyntheticConfig.source().model_dump(),
            "recipe": {**default_recipe(cfg), **(recipe or {})},
        },
        sort_keys=True,
        default=str,
    )
    return cache_dir() / f"yan-{hashlib.sha256(key.encode()).hexdigest()[:16]}.pt"


def pretrain(cfg: YanConfig, recipe: dict | None = None, log: bool = False) -> YanModel:
    """Train a fresh YanModel on source streams (fresh missions each step)."""
    r = {**default_recipe(cfg), **(recipe or {})}
    data = SyntheticConfig.source()
    if cfg.input_dim != data.input_dim:
        raise ValueError(
            f"pretraining data has input_dim {data.input_dim} (appearance dim "
            f"{data.appearance_dim}); got YanConfig.input_dim={cfg.input_dim}"
        )
    torch.manual_seed(r["seed"])
    model = YanModel(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=r["lr"])
    for step in range(r["steps"]):
        x, y = make_stream(data, r["batch"], r["length"], seed=r["seed"] * 100_003 + step)
        x, y = torch.from_numpy(x), torch.from_numpy(y)
        noise = torch.tensor([cfg.select_noise * cfg.select_noise_decay**step])
        start = model.init_state(len(x))[None]
        out, _, loads = yan_apply(model.weights(), cfg, x[None], start, "chunked", noise)
        out = {k: v[0] for k, v in out.items()}
        loss = stream_losses(out, x, y, r["pos_weight"], r["ssl"]).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        for i, load in enumerate(loads):
            balance_step(model.layers[i].ffn.usage_bias[None], load, cfg.balance_rate)
        if log and step % 50 == 0:
            print(f"  step {step:4d}  loss {loss.item():.4f}")
    return model


def load_pretrained(cfg: YanConfig, recipe: dict | None = None) -> dict[str, torch.Tensor]:
    """The cached pretrained state dict for `cfg`, training (and caching) it if missing."""
    path = checkpoint_path(cfg, recipe)
    if path.exists():
        blob = torch.load(path, weights_only=True)
        return blob["state"]
    state = pretrain(cfg, recipe).state_dict()
    tmp = path.with_suffix(".tmp")
    torch.save({"config": cfg.model_dump_json(), "state": state}, tmp)
    tmp.replace(path)  # atomic: parallel hosts never read a half-written file
    return state


@lru_cache(maxsize=8)
def rehearsal_set(streams: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`streams` labelled source streams of `length` tokens: tokens (R, T, input_dim) and
    labels (R, T), the same in every call (a permanent set; both classes, ~10 % positive)."""
    x, y = make_stream(SyntheticConfig.source(), streams, length, seed=REHEARSAL_SEED)
    return torch.from_numpy(x), torch.from_numpy(y)


_FISHER_CACHE: dict[str, dict[str, torch.Tensor]] = {}


def source_fisher(cfg: YanConfig, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Diagonal Fisher of the detector's source loss at weights `state`: per parameter, the
    mean over FISHER_BATCHES single-stream source missions of the squared gradient of the
    detect BCE (pos_weight of the recipe). Computed once per (config, weights) in a process.

    Returns {name: tensor shaped like the parameter}; raises ValueError when `cfg.input_dim`
    is not the source distribution's (then there is no source task to compute it on)."""
    data = SyntheticConfig.source()
    if cfg.input_dim != data.input_dim:
        raise ValueError(
            f"source Fisher needs input_dim {data.input_dim}, got {cfg.input_dim}: set "
            "learner.ewc_weight: 0 for a world whose tokens differ from the source's"
        )
    blob = b"".join(
        np.ascontiguousarray(state[n].detach().float().numpy()).tobytes() for n in sorted(state)
    )
    key = hashlib.sha256(cfg.model_dump_json().encode() + blob).hexdigest()
    if key in _FISHER_CACHE:
        return _FISHER_CACHE[key]
    model = YanModel(cfg)
    model.load_state_dict(state)
    params = dict(model.named_parameters())
    fisher = {n: torch.zeros_like(p) for n, p in params.items()}
    x, y = make_stream(data, FISHER_BATCHES, 64, seed=FISHER_SEED)
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    for b in range(FISHER_BATCHES):
        out, _ = model(x[b : b + 1], mode="chunked")
        loss = stream_losses(out, x[b : b + 1], y[b : b + 1], RECIPE["pos_weight"], 0.0).sum()
        grads = torch.autograd.grad(loss, list(params.values()), allow_unused=True)
        for (n, _), g in zip(params.items(), grads, strict=True):
            if g is not None:
                fisher[n] += g.detach().pow(2) / FISHER_BATCHES
    _FISHER_CACHE[key] = fisher
    return fisher


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=["small", "large", "all"], default="all")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    sizes = ["small", "large"] if args.size == "all" else [args.size]
    probe_x, probe_y = make_stream(SyntheticConfig.source(), 16, 128, seed=999_999)
    for size in sizes:
        cfg = size_config(size)
        path = checkpoint_path(cfg)
        t0 = time.perf_counter()
        cached = path.exists()
        model = YanModel(cfg)
        model.load_state_dict(load_pretrained(cfg))
        auc = probe_auc(model, probe_x, probe_y)
        how = "cached" if cached else f"trained in {time.perf_counter() - t0:.1f} s"
        print(f"{size}: {count_params(cfg)} params, {how}, source AUC {auc:.3f} -> {path}")


if __name__ == "__main__":
    main()

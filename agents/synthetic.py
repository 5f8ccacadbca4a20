"""A synthetic detection-token stream in the docs/architecture.md §1 layout, for pretraining
and tests (agents cannot import scenarios).

Token = [obs (A) | ctx (A) | ref (A) | alt | sim]. A *mission* fixes a target signature s, the
terrain's background prototypes and a distractor direction w ⊥ s. Each tick a drone's candidate
cell shows background + content, where content is the target, a look-alike
(ρ·s + √(1−ρ²)·w), or clutter. Light (a gain drifting inside `light_range`, plus a per-drone
colour tint) scales what the camera sees; noise grows with altitude. `source()` (pretraining:
even light, weak look-alikes, fresh mission per stream) differs from `shifted()` (the field:
wider light range, tint, strong and frequent look-alikes, and a dated photo: the target
really looks like `photo_cos`·s + …), so adapting is real work.
"""

from __future__ import annotations

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from scipy.stats import mannwhitneyu

from agents.model import YanModel

__all__ = ["Mission", "SyntheticConfig", "make_mission", "make_stream", "probe_auc", "roc_auc"]


class SyntheticConfig(BaseModel):
    """Distribution of the synthetic stream."""

    model_config = ConfigDict(extra="forbid")

    appearance_dim: int = Field(8, ge=2)
    n_backgrounds: int = Field(5, ge=1)
    p_target: float = Field(0.1, ge=0, le=1)
    p_lookalike: float = Field(0.05, ge=0, le=1)
    lookalike_rho: float = Field(0.3, ge=-1, le=1, description="cos(look-alike, signature)")
    light_range: tuple[float, float] = (0.8, 1.2)
    light_drift: float = Field(0.02, ge=0, description="gain random-walk step per tick")
    tint: float = Field(0.0, ge=0, description="std of the per-drone colour tint")
    noise: float = Field(0.25, ge=0, description="camera noise std at altitude 0")
    alt_noise: float = Field(1.0, ge=0, description="extra noise factor at full altitude")
    clutter: float = Field(0.6, ge=0, description="std of clutter content")
    background_stay: float = Field(0.9, ge=0, le=1, description="P(same terrain next tick)")
    photo_cos: float = Field(
        1.0, ge=-1, le=1, description="cos(target photo, target as seen): < 1 = a dated photo"
    )

    @property
    def input_dim(self) -> int:
        return 3 * self.appearance_dim + 2

    @classmethod
    def source(cls) -> SyntheticConfig:
        """The pretraining distribution."""
        return cls()

    @classmethod
    def shifted(cls) -> SyntheticConfig:
        """The field distribution: other lighting, strong and frequent look-alikes."""
        return cls(
            p_lookalike=0.2,
            lookalike_rho=0.95,
            light_range=(0.4, 1.6),
            tint=0.3,
            noise=0.15,
            photo_cos=0.75,
        )


class Mission(BaseModel):
    """What stays fixed over one mission: the photo `signature` (A,), the `target` as it
    really looks (A,), background prototypes (n, A) and the look-alike direction (A,)."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    signature: np.ndarray
    target: np.ndarray
    backgrounds: np.ndarray
    distractor: np.ndarray


def make_mission(cfg: SyntheticConfig, rng: np.random.Generator) -> Mission:
    """A random mission: unit photo s, unit distractor w ⊥ s, the real target at `photo_cos`
    from s (along q ⊥ s, w), background prototypes."""
    a = cfg.appearance_dim
    basis, _ = np.linalg.qr(rng.standard_normal((a, 3)))  # orthonormal s, w, q
    s, w, q = basis.T
    target = cfg.photo_cos * s + np.sqrt(1 - cfg.photo_cos**2) * q
    bgs = rng.standard_normal((cfg.n_backgrounds, a))
    return Mission(signature=s, target=target, backgrounds=bgs, distractor=w)


def _one_stream(cfg: SyntheticConfig, m: Mission, length: int, rng: np.random.Generator):
    """One drone's tokens (T, 3A+2) and labels (T,)."""
    a = cfg.appearance_dim
    lo, hi = cfg.light_range
    kind = rng.choice(
        3, size=length, p=[cfg.p_target, cfg.p_lookalike, 1 - cfg.p_target - cfg.p_lookalike]
    )
    like = cfg.lookalike_rho * m.signature + np.sqrt(1 - cfg.lookalike_rho**2) * m.distractor
    content = cfg.clutter * rng.standard_normal((length, a))
    content[kind == 0] = m.target
    content[kind == 1] = like
    bg_idx = np.empty(length, dtype=int)
    gain = np.empty(length)
    bg_idx[0], gain[0] = rng.integers(cfg.n_backgrounds), rng.uniform(lo, hi)
    b, g = int(bg_idx[0]), float(gain[0])
    for t in range(1, length):  # slow terrain and light changes give the state something to hold
        if rng.random() >= cfg.background_stay:
            b = int(rng.integers(cfg.n_backgrounds))
        g = min(max(g + cfg.light_drift * rng.standard_normal(), lo), hi)  # scalar clip: fast
        bg_idx[t], gain[t] = b, g
    alt = np.clip(0.5 + np.cumsum(0.05 * rng.standard_normal(length)), 0.0, 1.0)
    tint = cfg.tint * rng.standard_normal(a)
    bg = m.backgrounds[bg_idx]
    sigma = (cfg.noise * (1 + cfg.alt_noise * alt))[:, None]
    obs = gain[:, None] * (bg + content + tint) + sigma * rng.standard_normal((length, a))
    ctx = gain[:, None] * (bg + tint) + 0.3 * sigma * rng.standard_normal((length, a))
    diff = obs - ctx
    sim = diff @ m.signature / (np.linalg.norm(diff, axis=1) + 1e-8)
    ref = np.broadcast_to(m.signature, (length, a))
    tokens = np.concatenate([obs, ctx, ref, alt[:, None], sim[:, None]], axis=1)
    return tokens.astype(np.float32), (kind == 0).astype(np.float32)


def make_stream(
    cfg: SyntheticConfig, n_streams: int, length: int, seed: int, mission: Mission | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Tokens (S, T, 3A+2) float32 and labels (S, T) float32 (1 = true target).

    With `mission` all streams share it (drones of one mission); otherwise each stream draws
    its own (pretraining sees many missions, so it learns to compare obs with ref).
    """
    rng = np.random.default_rng(seed)
    toks, labs = [], []
    for _ in range(n_streams):
        m = mission if mission is not None else make_mission(cfg, rng)
        t, y = _one_stream(cfg, m, length, rng)
        toks.append(t)
        labs.append(y)
    return np.stack(toks), np.stack(labs)


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve of scores (any shape) for labels > 0.5: U / (n_pos · n_neg)
    (`scipy.stats.mannwhitneyu`, ties averaged), the rule of `scenarios.metrics.auc`. Raises
    ValueError without both classes (AUC is undefined then)."""
    scores, labels = np.asarray(scores, float).ravel(), np.asarray(labels).ravel() > 0.5
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("roc_auc needs at least one positive and one negative label")
    u = mannwhitneyu(scores[labels], scores[~labels], method="asymptotic").statistic
    return float(u / (n_pos * n_neg))


@torch.no_grad()
def probe_auc(model: YanModel, tokens: np.ndarray, labels: np.ndarray) -> float:
    """Detection AUC of `model` on probe streams (S, T, D), each run from a zero state."""
    out, _ = model(torch.from_numpy(tokens), mode="chunked")
    return roc_auc(out["detect"][..., 0].numpy(), labels)

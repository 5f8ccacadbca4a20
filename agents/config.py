"""Configuration of a brain: the Yan model's sizes and the online learner's settings.

`YanConfig` fixes a model's shapes; `LearnerConfig` fixes how a brain keeps learning while it
acts. Both are pydantic models with unknown keys forbidden, composed by `swarm.config`.
`count_params(cfg)` counts one brain's parameters without building it, and
`scaled(cfg, factor)` widens a config until it holds about `factor` times as many (the single
large agent is `scaled(small, N)`). `forward_flops` and `train_tokens` are what one token's
step and one optimiser step cost (docs/model.md, "Compute cost").
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "MAX_PARAMS",
    "TRAIN_FLOPS_PER_FORWARD",
    "LearnerConfig",
    "YanConfig",
    "count_params",
    "forward_flops",
    "scaled",
    "train_tokens",
]


MAX_PARAMS = 2**27
"""Most parameters one model, or all brains of a team together, may have (512 MiB fp32)."""


class YanConfig(BaseModel):
    """Shapes of one Yan-style model (docs/model.md).

    `input_dim` is set from the scenario's token spec at run time, so YAML files normally leave
    it out; `heads` maps each supervised head to its output width.
    """

    model_config = ConfigDict(extra="forbid")

    # upper bounds: what a workstation can still build and train (MAX_PARAMS checks the whole)
    input_dim: int = Field(26, ge=1, le=4096, description="features per input token")
    d_model: int = Field(32, ge=2, le=8192, description="residual width D")
    n_layers: int = Field(2, ge=1, le=256, description="mixer + FFN layers")
    n_channels: int = Field(4, ge=1, le=1024, description="MCSD channels C; D must divide by C")
    ffn_groups: int = Field(8, ge=1, le=4096, description="neuron groups G in the selective FFN")
    ffn_active: int = Field(2, ge=1, description="groups that fire per token (top-k)")
    ffn_mult: int = Field(2, ge=1, le=64, description="FFN hidden width H = ffn_mult * d_model")
    chunk_size: int = Field(32, ge=1, le=65536, description="tokens per chunk in the chunked form")
    heads: dict[str, int] = Field(default_factory=lambda: {"detect": 1})
    select_noise: float = Field(
        1.0, ge=0, description="initial std of the selector's exploration noise (training only)"
    )
    select_noise_decay: float = Field(
        0.99, gt=0, le=1, description="noise multiplier per optimiser step (anneals to targeted)"
    )
    balance_rate: float = Field(
        0.01, ge=0, description="step of the usage-balancing bias per optimiser step"
    )

    @model_validator(mode="after")
    def _check_shapes(self) -> YanConfig:
        if self.d_model % self.n_channels:
            raise ValueError(
                f"d_model ({self.d_model}) must be divisible by n_channels ({self.n_channels})"
            )
        if self.ffn_active > self.ffn_groups:
            raise ValueError(
                f"ffn_active ({self.ffn_active}) cannot exceed ffn_groups ({self.ffn_groups})"
            )
        if (self.ffn_mult * self.d_model) % self.ffn_groups:
            raise ValueError(
                f"FFN hidden width {self.ffn_mult * self.d_model} must be divisible by "
                f"ffn_groups ({self.ffn_groups})"
            )
        if "next" in self.heads:
            raise ValueError("head name 'next' is reserved for next-token prediction; rename it")
        n = count_params(self)
        if n > MAX_PARAMS:
            raise ValueError(
                f"this model has {n:,} parameters, more than the limit of {MAX_PARAMS:,} "
                f"({4 * MAX_PARAMS // 2**20} MiB of float32 weights, several times that to "
                "train); use a smaller d_model, n_layers or ffn_mult"
            )
        return self


class LearnerConfig(BaseModel):
    """Online learning settings (train while infer); docs/learner.md gives each term's reason
    and the measurements behind the defaults.

    The field's labels are one-sided (inspections mostly reveal look-alikes), so the learner
    takes a supervised step only where a brain holds both classes: its labelled reservoir
    plus `photo_positives` it synthesizes from the photo in its own observed backgrounds, and a
    permanent rehearsal set of labelled source streams. Flagged hard negatives are ranked below
    the photo positives (`rank_weight`) and EWC anchors the weights to the pretrained ones.
    """

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="false: brains stay frozen at their checkpoint")
    lr: float = Field(5e-4, gt=0, description="optimiser learning rate")
    learn_every: int = Field(4, ge=1, description="ticks between optimiser steps")
    window: int = Field(64, ge=2, le=8192, description="ring-buffer length W in tokens")
    ssl_weight: float = Field(0.0, ge=0, description="weight of next-token prediction loss")
    ewc_weight: float = Field(
        0.01, ge=0, le=1, description="per-step pull toward the pretrained weights (× Fisher)"
    )
    pos_weight: float = Field(4.0, gt=0, description="weight of positives in the rehearsal BCE")
    grad_clip: float = Field(1.0, gt=0, description="per-brain gradient-norm clip")
    replay_per_class: int = Field(
        32,
        ge=0,
        le=8192,
        description="labelled tokens kept per class in each brain's replay reservoir",
    )
    photo_positives: int = Field(
        8, ge=0, le=256, description="positives synthesized from the photo per brain and step"
    )
    photo_scale: tuple[float, float] = Field(
        (1.0, 1.5), description="range of a synthesized person's contrast, × footprint rms"
    )
    rank_weight: float = Field(
        1.0, ge=0, description="weight of the hard-negative-below-photo-positive ranking term"
    )
    rehearsal_streams: int = Field(
        4, ge=0, le=256, description="labelled source streams replayed in every step"
    )
    rehearsal_pool: int = Field(
        64, ge=1, le=4096, description="permanent source streams the replayed ones are drawn from"
    )
    rehearsal_length: int = Field(32, ge=2, le=1024, description="tokens per rehearsal stream")
    rehearsal_weight: float = Field(1.0, ge=0, description="weight of the rehearsal BCE")

    @model_validator(mode="after")
    def _check_scale(self) -> LearnerConfig:
        lo, hi = self.photo_scale
        if not 0 < lo <= hi:
            raise ValueError(
                f"photo_scale must be (lo, hi) with 0 < lo <= hi, got {self.photo_scale}"
            )
        return self


def count_params(cfg: YanConfig) -> int:
    """Parameters of one brain built from `cfg` (weights only, no buffers)."""
    d, c, n_in = cfg.d_model, cfg.n_channels, cfg.input_dim
    dc, hidden = d // c, cfg.ffn_mult * d
    embed = n_in * d + d
    mixer = d + 4 * c * dc * dc + d + d * d  # norm, u/v/e/f, E' norm, W_O
    ffn = d + d * cfg.ffn_groups + d * 2 * hidden + hidden * d  # norm, selector, in, out
    heads = sum(d * w + w for w in cfg.heads.values()) + d * n_in + n_in
    return embed + cfg.n_layers * (mixer + ffn) + d + heads


#: Training FLOPs per token as a multiple of its forward FLOPs: the forward pass, and a
#: backward pass of about twice as much (gradients with respect to inputs and to weights).
TRAIN_FLOPS_PER_FORWARD = 3


def forward_flops(cfg: YanConfig) -> int:
    """Floating-point operations of one token's forward step, 2 per multiply-add with a weight.

    D = d_model, C = n_channels, Dc = D/C, G = ffn_groups, k = ffn_active, H = ffn_mult·D:
    embedding input_dim·D; per layer the mixer's block-diagonal u, v, e, f (4·C·Dc²) and W_O
    (D²), the FFN's selector (D·G) and the k fired groups' W_a, W_b, W_out (3·k·D·H/G; the
    other groups are not computed); the heads D·(Σ head widths + input_dim) (the supervised
    heads and the next-token head, computed every step). Element-wise work (norms, the
    recurrent state update, activations: O(D) per layer) is left out.
    """
    d, c = cfg.d_model, cfg.n_channels
    per_group = cfg.ffn_mult * d // cfg.ffn_groups
    mixer = 4 * c * (d // c) ** 2 + d * d
    ffn = d * cfg.ffn_groups + cfg.ffn_active * 3 * d * per_group
    heads = d * (sum(cfg.heads.values()) + cfg.input_dim)
    return 2 * (cfg.input_dim * d + cfg.n_layers * (mixer + ffn) + heads)


def train_tokens(lcfg: LearnerConfig, streams: int = 1) -> int:
    """Tokens one optimiser step of one weight set runs forward and backward, at most.

    Per recurrent stream (`streams`: N for the `central` team's shared model, else 1): the
    window when `ssl_weight` > 0, the replay reservoir at capacity (2 · `replay_per_class`),
    as many again when `rank_weight` > 0 (each reservoir token with the photo placed in, the
    ranking's pairs) and `photo_positives`; once per weight set the rehearsal streams
    (`rehearsal_streams` · `rehearsal_length`) when `rehearsal_weight` > 0. 0 when learning
    is off. The reservoir fills with the mission's first labels, so early steps take fewer.
    """
    if not lcfg.enabled:
        return 0
    reservoir = 2 * lcfg.replay_per_class * (1 + (lcfg.rank_weight > 0))
    field = lcfg.window * (lcfg.ssl_weight > 0) + reservoir + lcfg.photo_positives
    rehearsal = lcfg.rehearsal_streams * lcfg.rehearsal_length * (lcfg.rehearsal_weight > 0)
    return streams * field + rehearsal


def scaled(cfg: YanConfig, factor: float) -> YanConfig:
    """A wider copy of `cfg` with about `factor` times its parameters.

    Only `d_model` changes (channels, groups, depth and heads stay), searched over the widths
    the shape rules allow; the closest count wins. Used for the single large agent (≈ N × small).
    """
    if factor <= 0:
        raise ValueError(f"factor must be positive, got {factor}")
    target = factor * count_params(cfg)
    best, best_err = cfg, abs(count_params(cfg) - target)
    step = cfg.n_channels
    d = step
    while True:
        cand = _with_width(cfg, d)
        if cand is not None:
            err = abs(count_params(cand) - target)
            if err < best_err:
                best, best_err = cand, err
            elif count_params(cand) > target:
                break
        d += step
    return best


def _with_width(cfg: YanConfig, d_model: int) -> YanConfig | None:
    """`cfg` with `d_model` replaced, or None where the shape rules reject that width."""
    if d_model < 2 or (cfg.ffn_mult * d_model) % cfg.ffn_groups:
        return None
    return cfg.model_copy(update={"d_model": d_model})

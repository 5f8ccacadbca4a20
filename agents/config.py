"""Configuration of a brain: the Yan model's sizes and the online learner's settings.

`YanConfig` fixes a model's shapes; `LearnerConfig` fixes how a brain keeps learning while it
acts. Both are pydantic models with unknown keys forbidden, composed by `swarm.config`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["LearnerConfig", "YanConfig"]


class YanConfig(BaseModel):
    """Shapes of one Yan-style model (DESIGN §5).

    `input_dim` is set from the scenario's token spec at run time, so YAML files normally leave
    it out; `heads` maps each supervised head to its output width.
    """

    model_config = ConfigDict(extra="forbid")

    input_dim: int = Field(26, ge=1, description="features per input token")
    d_model: int = Field(32, ge=2, description="residual width D")
    n_layers: int = Field(2, ge=1, description="mixer + FFN layers")
    n_channels: int = Field(4, ge=1, description="MCSD channels C; D must divide by C")
    ffn_groups: int = Field(8, ge=1, description="neuron groups G in the selective FFN")
    ffn_active: int = Field(2, ge=1, description="groups that fire per token (top-k)")
    ffn_mult: int = Field(2, ge=1, description="FFN hidden width H = ffn_mult * d_model")
    chunk_size: int = Field(32, ge=1, description="tokens per chunk in the chunked form")
    heads: dict[str, int] = Field(default_factory=lambda: {"detect": 1})

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
        return self


class LearnerConfig(BaseModel):
    """Online learning settings (train while infer, DESIGN §5)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    lr: float = Field(3e-3, gt=0, description="optimiser learning rate")
    learn_every: int = Field(8, ge=1, description="ticks between optimiser steps")
    window: int = Field(64, ge=2, description="ring-buffer length W in tokens")
    ssl_weight: float = Field(0.1, ge=0, description="weight of next-token prediction loss")
    ewc_weight: float = Field(1.0, ge=0, description="weight of the online-EWC forgetting guard")
    pos_weight: float = Field(4.0, gt=0, description="weight of positive labels (rare)")

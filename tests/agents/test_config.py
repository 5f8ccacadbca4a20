"""Config rules, parameter counting and scaling."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agents.config import (
    LearnerConfig,
    YanConfig,
    count_params,
    forward_flops,
    scaled,
    train_tokens,
)
from agents.model import YanModel


@pytest.mark.parametrize("cfg", [YanConfig(), YanConfig(d_model=48, n_channels=6, ffn_groups=4)])
def test_count_params_matches_model(cfg: YanConfig) -> None:
    assert count_params(cfg) == sum(p.numel() for p in YanModel(cfg).parameters())


@pytest.mark.parametrize("factor", [4, 16, 64])
def test_scaled_hits_factor(factor: int) -> None:
    small = YanConfig()
    big = scaled(small, factor)
    assert abs(count_params(big) / count_params(small) - factor) / factor < 0.15


def test_rejects_bad_configs() -> None:
    with pytest.raises(ValidationError, match="divisible by n_channels"):
        YanConfig(d_model=30, n_channels=4)
    with pytest.raises(ValidationError, match="reserved"):
        YanConfig(heads={"next": 1})
    with pytest.raises(ValidationError):
        LearnerConfig(windo=3)
    with pytest.raises(ValueError, match="positive"):
        scaled(YanConfig(), 0)


def test_forward_flops_is_the_hand_count_of_docs_model_md() -> None:
    cfg = YanConfig(d_model=16, n_layers=1, n_channels=4, ffn_groups=4, ffn_active=1, input_dim=26)
    # embed 26*16, mixer 4*4*4^2 + 16^2, selector 16*4, one group of W_a, W_b, W_out 3*16*8,
    # heads 16*(1 + 26): 2 FLOPs per multiply-add
    assert forward_flops(cfg) == 2 * (416 + 256 + 256 + 64 + 384 + 432) == 3616
    two = cfg.model_copy(update={"n_layers": 2, "ffn_active": 2})
    # a second layer with two groups firing, and a second group in the first layer
    assert forward_flops(two) == 3616 + 2 * (256 + 256 + 64 + 2 * 384) + 2 * 384


def test_train_tokens_counts_what_one_step_runs() -> None:
    lc = LearnerConfig(replay_per_class=32, photo_positives=8, rehearsal_streams=4)
    # the reservoir at capacity, its ranking pairs (the same tokens with the photo placed in)
    assert train_tokens(lc) == 2 * 32 + 2 * 32 + 8 + 4 * 32
    assert train_tokens(lc, streams=16) == 16 * (4 * 32 + 8) + 4 * 32  # a shared model
    unranked = lc.model_copy(update={"rank_weight": 0.0})
    assert train_tokens(unranked) == 2 * 32 + 8 + 4 * 32
    ssl = lc.model_copy(update={"ssl_weight": 0.5, "rehearsal_weight": 0.0})
    assert train_tokens(ssl) == 64 + 4 * 32 + 8
    assert train_tokens(lc.model_copy(update={"enabled": False})) == 0

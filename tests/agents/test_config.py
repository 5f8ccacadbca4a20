"""Config rules, parameter counting and scaling."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agents.config import LearnerConfig, YanConfig, count_params, scaled
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

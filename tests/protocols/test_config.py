"""ProtocolConfig: defaults valid, unknown keys rejected, defaults match the code's."""

from typing import get_args

import numpy as np
import pytest
from pydantic import ValidationError

from protocols.aggregation import AGGREGATORS
from protocols.codec import Limits, Receiver
from protocols.compression import CODECS, decode_delta, get_codec
from protocols.config import AggregationRule, ProtocolConfig


def test_defaults_agree_with_the_code():
    cfg = ProtocolConfig()
    assert cfg.max_message_bytes == Limits().max_message_bytes
    assert cfg.replay_window == Receiver("r", b"k").window
    assert cfg.codec.kind in CODECS
    assert cfg.aggregation in AGGREGATORS


@pytest.mark.parametrize("kind", CODECS)
def test_every_codec_is_configurable_and_round_trips(kind):
    cfg = ProtocolConfig(codec={"kind": kind})
    x = np.linspace(-1.0, 1.0, 64, dtype=np.float32).reshape(8, 8)
    codec = get_codec(cfg.codec.kind, fraction=1.0, group_axes={"w": 0})
    out = decode_delta(codec.encode({"w": x}))
    assert out["w"].shape == x.shape
    assert np.allclose(out["w"], x, atol=0.02)  # every codec keeps all entries at fraction 1


@pytest.mark.parametrize("rule", get_args(AggregationRule))
def test_every_configurable_rule_aggregates_as_the_hub_calls_it(rule):
    """The hub calls `AGGREGATORS[cfg.aggregation](X, weights=w, f=f)`."""
    cfg = ProtocolConfig(aggregation=rule)
    X = np.array([[1.0, 2.0], [1.0, 2.0], [1.0, 2.0], [1.0, 2.0], [9.0, -9.0]])
    agg = AGGREGATORS[cfg.aggregation](X, weights=np.ones(5), f=1)
    assert agg.shape == (2,)
    if rule not in ("mean", "weighted_mean"):  # robust rules drop the one outlier
        assert np.allclose(agg, [1.0, 2.0])


def test_unknown_keys_and_bad_values_are_rejected():
    with pytest.raises(ValidationError):
        ProtocolConfig(sync_evry=3)
    with pytest.raises(ValidationError):
        ProtocolConfig(gossip_step=0)
    with pytest.raises(ValidationError):
        ProtocolConfig(codec={"kind": "zip"})

"""ProtocolConfig: defaults valid, unknown keys rejected, defaults match the code's."""

import pytest
from pydantic import ValidationError

from protocols.aggregation import AGGREGATORS
from protocols.codec import Limits, Receiver
from protocols.compression import CODECS
from protocols.config import ProtocolConfig
from protocols.topology import KINDS


def test_defaults_agree_with_the_code():
    cfg = ProtocolConfig()
    assert cfg.max_message_bytes == Limits().max_message_bytes
    assert cfg.replay_window == Receiver("r", b"k").window
    assert cfg.codec.kind in CODECS
    codec_kinds = ProtocolConfig.model_fields["codec"].annotation.model_fields["kind"].annotation
    assert set(codec_kinds.__args__) == set(CODECS)  # every configurable codec exists, and back
    rules = ProtocolConfig.model_fields["aggregation"].annotation.__args__
    assert set(rules) <= set(AGGREGATORS)


def test_every_config_kind_is_buildable_or_dynamic():
    kinds = ProtocolConfig.model_fields["topology"].annotation.model_fields["kind"].annotation
    assert set(kinds.__args__) - set(KINDS) == {"dynamic"}


def test_unknown_keys_and_bad_values_are_rejected():
    with pytest.raises(ValidationError):
        ProtocolConfig(sync_evry=3)
    with pytest.raises(ValidationError):
        ProtocolConfig(gossip_step=0)
    with pytest.raises(ValidationError):
        ProtocolConfig(codec={"kind": "zip"})

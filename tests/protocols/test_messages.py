"""The spec states the code's version; kinds and reject reasons match the document."""

import re
from pathlib import Path

import pytest

from protocols.messages import PROTOCOL_VERSION, REJECT_REASONS, Kind, ProtocolError

SPEC = (Path(__file__).parents[2] / "docs" / "protocol.md").read_text()


def test_document_states_the_code_version():
    stated = re.search(r"Protocol version: \*\*(\d+)\.(\d+)\*\*", SPEC)
    assert stated is not None, "docs/protocol.md must state 'Protocol version: **M.m**'"
    assert (int(stated[1]), int(stated[2])) == PROTOCOL_VERSION


def test_document_lists_every_reject_reason_and_kind():
    for reason in REJECT_REASONS:
        assert f"| `{reason}` |" in SPEC, reason
    for kind in Kind:
        assert f"{kind.value} {kind.name}" in SPEC, kind


def test_protocol_error_carries_reason():
    e = ProtocolError("replay", "seq 3")
    assert (e.reason, e.detail, str(e)) == ("replay", "seq 3", "replay: seq 3")
    with pytest.raises(ValueError):
        ProtocolError("bogus")

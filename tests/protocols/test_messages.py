"""The spec states the code's version; kinds and reject reasons match the document."""

import re
from pathlib import Path

import pytest

from protocols.codec import MAGIC, Limits
from protocols.messages import MAX_SEQ_JUMP, PROTOCOL_VERSION, REJECT_REASONS, Kind, ProtocolError

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


def test_document_states_frame_zero_bounds_and_reason_order():
    frame0 = " ".join(f"{b:02X}" for b in MAGIC + bytes(PROTOCOL_VERSION))
    assert f"`{frame0}`" in SPEC, f"section 2 must show frame 0 as {frame0}"
    exponent = MAX_SEQ_JUMP.bit_length() - 1
    sup = str(exponent).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))
    assert 2**exponent == MAX_SEQ_JUMP and f"more than 2{sup} above" in SPEC
    limits = Limits()
    assert f"4 + {limits.max_buffers}" in SPEC and f"{limits.max_message_bytes >> 20} MiB" in SPEC
    table = re.findall(r"^\| (\d+) \| `(\w+)` \|", SPEC, re.MULTILINE)
    assert [r for _, r in table] == list(REJECT_REASONS), "section 6 lists reasons in check order"
    assert [int(n) for n, _ in table] == list(range(1, len(REJECT_REASONS) + 1))

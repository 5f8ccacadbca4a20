"""The spec states the code's version; kinds and reject reasons match the document."""

import re
from pathlib import Path

import blake3
import msgpack
import numpy as np
import pytest

from protocols.codec import (
    HMAC_VERSION,
    MAC_KEY_CONTEXT,
    MAGIC,
    Limits,
    Mac,
    Receiver,
    _mac,
    new_key,
)
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


def _spec_mac(key: bytes, frames: list[bytes]) -> bytes:
    """Frame 1 of a 1.4 message computed from section 5's text alone (blake3 and the context
    string read from the document; nothing from protocols.codec)."""
    context = re.search(r'derive_key`\(context `"([^"]+)"`', SPEC)
    assert context is not None, "section 5 must state the derive_key context string"
    kb = blake3.blake3(key, derive_key_context=context[1]).digest()
    s = frames[0] + b"".join(len(f).to_bytes(8, "big") + f for f in frames[1:])
    return blake3.blake3(s, key=kb).digest()


def test_spec_test_vectors_match_the_code():
    key, parts = bytes(range(32)), [b"\x80", b"\x90", b"\x00\x01\x02"]
    rows = dict(
        re.findall(
            r"\| (Kᵦ|keyed BLAKE3, frame 0 `[^`]+`|HMAC-SHA256, frame 0 `[^`]+`)"
            r" \| `([0-9a-f]{64})` \|",
            SPEC,
        )
    )
    assert len(rows) == 3, "section 5 must give the test vector's Kᵦ, BLAKE3 and HMAC rows"
    v14, v13 = MAGIC + bytes(PROTOCOL_VERSION), MAGIC + bytes(HMAC_VERSION)
    blake_row = "keyed BLAKE3, frame 0 `" + " ".join(f"{b:02X}" for b in v14) + "`"
    assert rows["Kᵦ"] == blake3.blake3(key, derive_key_context=MAC_KEY_CONTEXT).hexdigest()
    assert rows[blake_row] == _spec_mac(key, [v14, *parts]).hex()
    assert rows[blake_row] == _mac(key, v14, parts, Mac.BLAKE3).hex()
    assert (
        rows["HMAC-SHA256, frame 0 `53 57 52 4D 01 03`"]
        == _mac(key, v13, parts, Mac.HMAC_SHA256).hex()
    )


def test_a_peer_written_from_the_spec_is_understood():
    """An independent 1.4 sender (msgpack + blake3 per sections 2-5) sends a DELTA with a
    fp32 tensor; our receiver accepts it and decodes the same values."""
    key = new_key()
    values = np.arange(6, dtype="<f4") / 4
    header = {"v": [1, 4], "kind": 3, "from": 7, "to": 2, "run": "spec", "seq": 1, "round": 0,
              "term": 0, "ts": 1.5, "body": {"base_round": 0, "scale": 1.0}}  # fmt: skip
    manifest = [{"name": "w", "codec": "none", "shape": [2, 3], "meta": {},
                 "parts": [["values", "float32", values.nbytes]]}]  # fmt: skip
    body = [msgpack.packb(header, use_bin_type=True), msgpack.packb(manifest, use_bin_type=True)]
    body.append(values.tobytes())
    frame0 = bytes.fromhex("53 57 52 4D 01 04")
    frames = [frame0, _spec_mac(key, [frame0, *body]), *body]
    got = Receiver("spec", key, me=2).accept(frames)
    assert (got.message.sender, got.message.seq) == (7, 1)
    assert np.array_equal(got.arrays["w"], values.reshape(2, 3))
    frames[1] = bytes(32)
    with pytest.raises(ProtocolError, match="signature"):
        Receiver("spec", key, me=2).accept(frames)

"""Wire codec: round trips, tampering, replay window, hostile input never crashes."""

import hashlib
import hmac

import msgpack
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocols.codec import MAGIC, Limits, Receiver, Session, decode, encode, new_key
from protocols.compression import CODECS, decode_delta, get_codec
from protocols.messages import PROTOCOL_VERSION, REJECT_REASONS, Kind, Message, ProtocolError

KEY = b"k" * 32
BODIES = {
    Kind.HELLO: {"endpoint": "tcp://127.0.0.1:5555", "params": 1234},
    Kind.HEARTBEAT: {"position": [1.5, 2.0], "competence": 0.75, "hub": 2},
    Kind.DELTA: {"base_round": 3, "scale": 1.0},
    Kind.BELIEF: {"shape": [8, 8]},
    Kind.OBS: {"ticks": [1, 2, 3]},
    Kind.ELECT: {"type": "request", "candidate": 4, "competence": 0.9},
    Kind.BYE: {"reason": "done"},
}


def _tensors(codec_name, seed=0):
    rng = np.random.default_rng(seed)
    named = {"w": rng.normal(size=(6, 10)).astype(np.float32), "b": rng.normal(size=4)}
    codec = get_codec(codec_name, fraction=0.3, group_axes={"w": 1})
    return codec.encode(named).tensors


def _message(kind=Kind.DELTA, codec="topk_int8", seq=1, **kw):
    return Message(kind, sender=2, recipient=5, run_id="run", seq=seq, round=7, term=3,
                   body=BODIES[kind], tensors=_tensors(codec), **kw)  # fmt: skip


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("kind", list(Kind))
def test_round_trip_every_kind_and_codec(kind, codec):
    msg = _message(kind, codec)
    got = Receiver("run", KEY, me=5).accept(encode(msg, KEY))
    m = got.message
    assert (m.kind, m.sender, m.recipient, m.run_id, m.seq, m.round, m.term) == (
        kind, 2, 5, "run", 1, 7, 3,
    )  # fmt: skip
    assert m.timestamp == msg.timestamp and m.body == msg.body
    want = decode_delta(msg.tensors)
    assert want.keys() == got.arrays.keys()
    for name in want:
        assert np.array_equal(want[name], got.arrays[name])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_flipped_byte_is_rejected(data):
    frames = [bytes(f) for f in encode(_message(codec=data.draw(st.sampled_from(CODECS))), KEY)]
    i = data.draw(st.integers(0, len(frames) - 1))
    j = data.draw(st.integers(0, len(frames[i]) - 1))
    bit = data.draw(st.integers(0, 7))
    tampered = bytearray(frames[i])
    tampered[j] ^= 1 << bit
    frames[i] = bytes(tampered)
    receiver = Receiver("run", KEY)
    with pytest.raises(ProtocolError) as e:
        receiver.accept(frames)
    assert e.value.reason in ("magic", "version", "signature")
    assert sum(receiver.rejects.values()) == 1


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=8))
def test_random_frames_only_raise_protocol_error(frames):
    receiver = Receiver("run", KEY)
    with pytest.raises(ProtocolError):
        receiver.accept(frames)
    assert sum(receiver.rejects.values()) == 1


def _signed(header: bytes, manifest: bytes, buffers=(), version=PROTOCOL_VERSION):
    """Frames with a *valid* HMAC over arbitrary content: exercises the parsers behind it."""
    frame0 = MAGIC + bytes(version)
    h = hmac.new(KEY, frame0, hashlib.sha256)
    for p in (header, manifest, *buffers):
        h.update(len(p).to_bytes(8, "big") + p)
    return [frame0, h.digest(), header, manifest, *buffers]


msgpack_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats() | st.text(max_size=5)
    | st.binary(max_size=5),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=5), c, max_size=4),
    max_leaves=12,
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=60), st.binary(max_size=60), st.lists(st.binary(max_size=9), max_size=3))
def test_signed_garbage_never_crashes(header, manifest, buffers):
    with pytest.raises(ProtocolError):
        Receiver("run", KEY).accept(_signed(header, manifest, buffers))


@settings(max_examples=200, deadline=None)
@given(msgpack_values, msgpack_values, st.lists(st.binary(max_size=9), max_size=3))
def test_signed_random_msgpack_never_crashes(header, manifest, buffers):
    frames = _signed(msgpack.packb(header), msgpack.packb(manifest), buffers)
    with pytest.raises(ProtocolError):
        Receiver("run", KEY).accept(frames)


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_mutated_valid_manifest_never_crashes(data):
    msg = _message(codec=data.draw(st.sampled_from(["topk", "topk_int8", "group", "int8"])))
    frames = [bytes(f) for f in encode(msg, KEY)]
    manifest = msgpack.unpackb(frames[3])
    entry = data.draw(st.sampled_from(manifest))
    key = data.draw(st.sampled_from(["shape", "meta", "codec", "parts"]))
    entry[key] = data.draw(msgpack_values)
    try:
        Receiver("run", KEY).accept(_signed(frames[2], msgpack.packb(manifest), frames[4:]))
    except ProtocolError as e:
        assert e.reason in ("manifest", "payload", "oversize")


def test_replay_and_stale_and_reordering():
    s, r = Session("run", 1, KEY), Receiver("run", KEY, window=4)
    frames = [s.encode(Kind.HEARTBEAT, body=BODIES[Kind.HEARTBEAT]) for _ in range(8)]
    r.accept(frames[2])
    r.accept(frames[0])  # out of order inside the window: fine once
    with pytest.raises(ProtocolError, match="replay"):
        r.accept(frames[0])
    r.accept(frames[7])  # window now covers seq 5..8
    with pytest.raises(ProtocolError, match="stale"):
        r.accept(frames[1])
    r.accept(frames[5])
    assert r.rejects == {"replay": 1, "stale": 1} and r.accepted == 4


def test_other_senders_have_their_own_window():
    r = Receiver("run", KEY)
    for sender in range(3):
        r.accept(Session("run", sender, KEY).encode(Kind.BYE))
    assert r.accepted == 3


def test_wrong_key_run_recipient_version_size():
    msg = _message()
    with pytest.raises(ProtocolError, match="signature"):
        Receiver("run", KEY).accept(encode(msg, new_key()))
    with pytest.raises(ProtocolError, match="run"):
        Receiver("other", KEY).accept(encode(msg, KEY))
    with pytest.raises(ProtocolError, match="recipient"):
        Receiver("run", KEY, me=4).accept(encode(msg, KEY))
    frames = encode(msg, KEY)
    frames[0] = MAGIC + bytes([2, 0])
    with pytest.raises(ProtocolError, match="version"):
        decode(frames, KEY)
    with pytest.raises(ProtocolError, match="oversize"):
        decode(encode(msg, KEY), KEY, Limits(max_message_bytes=100))
    with pytest.raises(ProtocolError, match="oversize"):
        decode(encode(msg, KEY), KEY, Limits(max_elements=10))


def test_newer_minor_version_with_extra_keys_is_accepted():
    frames = [bytes(f) for f in encode(_message(), KEY)]
    header = msgpack.unpackb(frames[2])
    header["v"], header["future"] = [1, 9], {"x": 1}
    frames = _signed(msgpack.packb(header), frames[3], frames[4:], version=(1, 9))
    assert decode(frames, KEY).round == 7


def test_reasons_are_listed_and_keys_required():
    with pytest.raises(ValueError, match="unknown reject reason"):
        ProtocolError("nope")
    assert len(set(REJECT_REASONS)) == len(REJECT_REASONS)
    with pytest.raises(ValueError, match="new_key"):
        encode(_message(), b"")
    with pytest.raises(ValueError, match=r"\.item\(\)"):
        Session("run", 1, KEY).encode(Kind.HEARTBEAT, body={"competence": np.float32(0.5)})

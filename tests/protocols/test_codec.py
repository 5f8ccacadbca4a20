"""Wire codec: round trips, tampering, replay window, hostile input never crashes."""

import copy
import hashlib
import hmac

import blake3
import msgpack
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocols.codec import (
    HMAC_VERSION,
    MAC_KEY_CONTEXT,
    MAGIC,
    SMALL_PART,
    Limits,
    Mac,
    Receiver,
    Session,
    decode,
    encode,
    encoded_bytes,
    mac_of,
    new_key,
)
from protocols.compression import CODECS, EncodedTensor, decode_delta, get_codec
from protocols.messages import (
    MAX_SEQ_JUMP,
    PROTOCOL_VERSION,
    REJECT_REASONS,
    Kind,
    Message,
    ProtocolError,
)
from protocols.transport import Endpoint

KEY = b"k" * 32
BODIES = {
    Kind.HELLO: {"endpoint": "tcp://127.0.0.1:5555", "params": 1234},
    Kind.HEARTBEAT: {"position": [1.5, 2.0], "competence": 0.75, "hub": 2},
    Kind.DELTA: {"base_round": 3, "scale": 1.0},
    Kind.BELIEF: {"shape": [8, 8]},
    Kind.OBS: {"ticks": [1, 2, 3]},
    Kind.ELECT: {"type": "request", "candidate": 4, "competence": 0.9},
    Kind.BYE: {"reason": "done"},
    Kind.CLAIM: {"brains": [2, 3], "goals": [[4, 5], [-1, -1]]},
    Kind.COMMAND: {"move": [1, -1], "altitude": 30.0, "flag": True},
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
    """Frames with a *valid* MAC over arbitrary content: exercises the parsers behind it.

    Written from docs/protocol.md section 5, not from the codec: HMAC-SHA256 up to 1.3, keyed
    BLAKE3 with the derived key from 1.4."""
    frame0 = MAGIC + bytes(version)
    if tuple(version) <= (1, 3):
        h = hmac.new(KEY, frame0, hashlib.sha256)
    else:
        h = blake3.blake3(
            frame0, key=blake3.blake3(KEY, derive_key_context=MAC_KEY_CONTEXT).digest()
        )
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


@pytest.mark.parametrize("version", [PROTOCOL_VERSION, HMAC_VERSION])
def test_both_macs_are_read_and_cover_every_buffer(version):
    """A 1.4 receiver reads 1.4 (keyed BLAKE3) and 1.3 (HMAC-SHA256) messages alike; under
    either MAC a flipped bit deep in a large buffer is caught."""
    named = {"w": np.random.default_rng(3).normal(size=300_000).astype(np.float32)}
    frames = Session("run", 2, KEY, version).encode(
        Kind.DELTA,
        recipient=5,
        body=BODIES[Kind.DELTA],
        tensors=get_codec("none").encode(named).tensors,
    )
    assert bytes(frames[0]) == MAGIC + bytes(version) and len(frames[1]) == 32
    got = Receiver("run", KEY, me=5).accept(frames)
    assert np.array_equal(got.arrays["w"], named["w"])
    tampered = [bytes(f) for f in frames]
    buf = bytearray(tampered[4])
    buf[-3] ^= 0x10
    tampered[4] = bytes(buf)
    with pytest.raises(ProtocolError, match=mac_of(version).value):
        Receiver("run", KEY).accept(tampered)


@pytest.mark.parametrize("version", [PROTOCOL_VERSION, HMAC_VERSION])
def test_mac_of_mixed_small_and_large_buffers_is_the_spec_mac(version):
    """Small parts are joined with the length prefixes before hashing, large ones fed alone:
    the MAC must still be the one over S built in memory (docs/protocol.md section 5), with
    parts on both sides of the threshold, empty ones and several large ones in a row."""
    rng = np.random.default_rng(7)
    sizes = [0, 1, SMALL_PART - 1, SMALL_PART, 3, SMALL_PART + 1, 50_000, 0, 7]
    tensors = [
        EncodedTensor(f"t{i}", "none", (n,), {}, (("values", "int8", rng.bytes(n)),))
        for i, n in enumerate(sizes)
    ]  # int8 parts of any length (a receiver would reject the codec; the MAC is checked first)
    frames = encode(Message(Kind.DELTA, 1, tensors=tuple(tensors)), KEY, version)
    assert frames[1] == _signed(*(bytes(f) for f in frames[2:4]), [bytes(f) for f in frames[4:]],
                                version=version)[1]  # fmt: skip


def test_version_bytes_choose_the_mac_and_cannot_be_swapped():
    """Relabelling a 1.4 message as 1.3 (or back) leaves a MAC of the wrong algorithm: rejected."""
    assert (mac_of((1, 3)), mac_of((1, 0)), mac_of((1, 4)), mac_of((1, 9))) == (
        Mac.HMAC_SHA256, Mac.HMAC_SHA256, Mac.BLAKE3, Mac.BLAKE3,
    )  # fmt: skip
    for sent, relabelled in ((PROTOCOL_VERSION, HMAC_VERSION), (HMAC_VERSION, PROTOCOL_VERSION)):
        frames = [bytes(f) for f in encode(_message(), KEY, sent)]
        header = msgpack.unpackb(frames[2])
        header["v"] = list(relabelled)
        frames[0], frames[2] = MAGIC + bytes(relabelled), msgpack.packb(header)
        with pytest.raises(ProtocolError, match="signature"):
            decode(frames, KEY)
    with pytest.raises(ValueError, match="can send wire version"):
        encode(_message(), KEY, (1, 2))


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


# -- hostile but correctly signed messages (issue: hardening) ---------------------------------


def _resigned(frames, header=None, manifest=None, buffers=None):
    """The frames of a valid message with header / manifest / buffers replaced, signed again."""
    frames = [bytes(f) for f in frames]
    h = msgpack.unpackb(frames[2]) if header is None else header
    m = msgpack.unpackb(frames[3]) if manifest is None else manifest
    b = frames[4:] if buffers is None else buffers
    return _signed(msgpack.packb(h), msgpack.packb(m), b)


def _reject_reason(receiver, frames):
    with pytest.raises(ProtocolError) as info:
        receiver.accept(frames)
    return info.value.reason


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("codec", ["none", "topk", "group"])
def test_non_finite_float32_values_are_a_payload_reject(codec, bad):
    frames = [bytes(f) for f in encode(_message(codec=codec), KEY)]
    manifest = msgpack.unpackb(frames[3])
    values = next(
        i for i, p in enumerate(p for e in manifest for p in e["parts"]) if p[1] == "float32"
    )
    buf = bytearray(frames[4 + values])
    buf[:4] = np.float32(bad).tobytes()
    r = Receiver("run", KEY)
    assert (
        _reject_reason(
            r,
            _resigned(frames, buffers=[*frames[4 : 4 + values], bytes(buf), *frames[5 + values :]]),
        )
        == "payload"
    )
    assert r.rejects == {"payload": 1} and r.accepted == 0
    r.accept(encode(_message(codec=codec, seq=2), KEY))  # the sender's next good message is fine


def test_fp16_infinity_and_int8_scale_overflow_are_rejected():
    frames = [bytes(f) for f in encode(_message(codec="fp16"), KEY)]
    inf16 = np.full(len(frames[4]) // 2, np.inf, np.float16).tobytes()
    assert (
        _reject_reason(Receiver("run", KEY), _resigned(frames, buffers=[inf16, *frames[5:]]))
        == "payload"
    )
    for codec in ("int8", "topk_int8"):
        frames = [bytes(f) for f in encode(_message(codec=codec), KEY)]
        manifest = msgpack.unpackb(frames[3])
        for e in manifest:
            e["meta"]["scale"] = 3e38  # finite itself, but 127 * 3e38 is inf in float32
        got = _reject_reason(Receiver("run", KEY), _resigned(frames, manifest=manifest))
        assert got == "payload", codec


@pytest.mark.parametrize(
    "where", [("body", "competence"), ("body", "position"), ("meta", "scale"), ("meta", "extra")]
)
def test_non_finite_float_fields_are_a_payload_reject(where):
    frames = [bytes(f) for f in encode(_message(Kind.HEARTBEAT, codec="int8"), KEY)]
    header, manifest = msgpack.unpackb(frames[2]), msgpack.unpackb(frames[3])
    section, key = where
    if section == "body":
        header["body"][key] = [1.0, float("nan")] if key == "position" else float("inf")
    else:
        manifest[0]["meta"][key] = float("nan")
    assert _reject_reason(Receiver("run", KEY), _resigned(frames, header, manifest)) == "payload"


def test_sequence_jump_is_bounded_and_the_window_stays_small():
    r = Receiver("run", KEY, window=64)
    s = Session("run", 1, KEY)
    s.seq = 2**63 - 2  # the next message carries the largest seq the header allows
    assert _reject_reason(r, s.encode(Kind.BYE)) == "jump"
    s.seq = MAX_SEQ_JUMP - 1  # the largest jump allowed from nothing: accepted, window cleared
    r.accept(s.encode(Kind.BYE))
    w = r._windows[1]
    assert (w.highest, w.seen) == (MAX_SEQ_JUMP, 1)
    s.seq += MAX_SEQ_JUMP - 1
    r.accept(s.encode(Kind.BYE))  # a second big jump: still one bit, no 2**32-bit shift
    assert r._windows[1].seen == 1 and r._windows[1].seen.bit_length() <= 64
    assert r.rejects == {"jump": 1} and r.accepted == 2


def test_rejected_message_does_not_consume_its_sequence_number():
    s, r = Session("run", 1, KEY), Receiver("run", KEY)
    good = s.encode(Kind.HEARTBEAT, body=BODIES[Kind.HEARTBEAT])
    header = msgpack.unpackb(bytes(good[2]))
    header["body"]["competence"] = float("nan")
    assert _reject_reason(r, _resigned(good, header)) == "payload"
    r.accept(good)  # same seq, now valid: accepted once
    assert _reject_reason(r, good) == "replay"


@pytest.mark.parametrize(
    "field,value",
    [
        ("part dtype", ["float32"]),
        ("part dtype", {"a": 1}),
        ("part name", ["values"]),
        ("codec", ["none"]),
        ("codec", {"none": 1}),
        ("name", ["w"]),
        ("meta key", None),
        ("shape", [[3]]),
        ("nbytes", "12"),
    ],
)
def test_every_manifest_field_is_type_checked(field, value):
    frames = [bytes(f) for f in encode(_message(codec="none"), KEY)]
    manifest = msgpack.unpackb(frames[3])
    e = manifest[0]
    if field == "part dtype":
        e["parts"][0][1] = value
    elif field == "part name":
        e["parts"][0][0] = value
    elif field == "nbytes":
        e["parts"][0][2] = value
    elif field == "meta key":
        e["meta"] = {1: 2.0}
    else:
        e[field] = value
    packed = msgpack.packb(manifest, strict_types=False)
    frames = _signed(frames[2], packed, frames[4:])
    assert _reject_reason(Receiver("run", KEY), frames) == "manifest"


def test_duplicate_tensor_names_are_rejected():
    frames = [bytes(f) for f in encode(_message(codec="none"), KEY)]
    manifest = msgpack.unpackb(frames[3])
    manifest[1]["name"] = manifest[0]["name"]
    assert _reject_reason(Receiver("run", KEY), _resigned(frames, manifest=manifest)) == "manifest"


def test_recipient_check_for_a_node_holding_many_ids():
    r = Receiver("run", KEY, me=np.array([4, 5, 9]).tolist())
    r.accept(encode(_message(), KEY))  # addressed to 5
    bcast = Message(Kind.BYE, sender=3, recipient=-1, run_id="run", seq=1, body={})
    r.accept(encode(bcast, KEY))
    other = Message(Kind.HEARTBEAT, sender=3, recipient=12345, run_id="run", seq=2,
                    body=BODIES[Kind.HEARTBEAT])  # fmt: skip
    assert _reject_reason(r, encode(other, KEY)) == "recipient"
    nobody = Receiver("run", KEY, me=())  # a host without brains takes broadcasts only
    assert _reject_reason(nobody, encode(_message(), KEY)) == "recipient"
    Receiver("run", KEY, me=np.int64(5)).accept(encode(_message(), KEY))


def test_any_exception_while_checking_is_a_counted_reject(monkeypatch):
    import protocols.codec as codec_module

    def broken(tensors):  # stands for a bug anywhere below accept()
        raise IndexError("boom")

    monkeypatch.setattr(codec_module, "decode_delta", broken)
    r = Receiver("run", KEY)
    assert _reject_reason(r, encode(_message(), KEY)) == "error"
    assert r.rejects == {"error": 1} and r.accepted == 0


# -- fuzz: mutated, correctly signed messages against a live receiver --------------------------

_HOSTILE = (
    None, True, False, 0, -1, 1, 7, 2**63 - 1, -(2**63), 2**64 - 1, 0.5, float("nan"),
    float("inf"), -float("inf"), 3e38, "", "x" * 300, "float32", "none", "run", [], [1],
    [[1]], [float("nan"), 1.0], {}, {"a": float("nan")}, {"float32": 1}, b"\x00",
)  # fmt: skip
_HEADER_KEYS = ("v", "kind", "from", "to", "run", "seq", "round", "term", "ts", "body", "new")
_BAD_FLOATS = (
    np.float32(np.nan).tobytes(), np.float32(np.inf).tobytes(), np.float32(-np.inf).tobytes(),
    np.float16(np.inf).tobytes() * 2, np.float16(np.nan).tobytes() * 2,
)  # fmt: skip
# op weights: buffer and meta mutations (reach the codec and finite checks) more often
_OP_WEIGHTS = np.array([2, 1, 2, 2, 2, 3, 4, 5, 3, 1, 1, 1, 1]) / 28
FUZZ_SENDERS = (1, 2, 3)  # the valid traffic afterwards comes from sender 777, never fuzzed


def _templates():
    """(header, manifest, buffers) of valid messages: every kind, every codec, a batch."""
    out = []
    for i, (kind, codec) in enumerate(
        [(k, c) for k in (Kind.DELTA, Kind.BELIEF) for c in CODECS] + [(k, "none") for k in Kind]
    ):
        msg = Message(kind, sender=FUZZ_SENDERS[i % 3], recipient=5, run_id="run", seq=1,
                      round=2, body=BODIES[kind], tensors=_tensors(codec, seed=i))  # fmt: skip
        frames = [bytes(f) for f in encode(msg, KEY)]
        out.append((msgpack.unpackb(frames[2]), msgpack.unpackb(frames[3]), frames[4:]))
    batch = {"base_round": 1, "scale": 1.0, "brains": [1, 4, 6]}
    tensors = [
        EncodedTensor(f"{b}/{t.name}", t.codec, t.shape, t.meta, t.parts)
        for b in (1, 4, 6)
        for t in _tensors("topk_int8", seed=b)
    ]
    msg = Message(Kind.DELTA, 1, 5, "run", 1, 2, body=batch, tensors=tuple(tensors))
    frames = [bytes(f) for f in encode(msg, KEY)]
    out.append((msgpack.unpackb(frames[2]), msgpack.unpackb(frames[3]), frames[4:]))
    return out


def _list(v):
    return v if isinstance(v, list) else []


def _mutate(rng, header, manifest, buffers, seqs):
    """One to three random mutations of a message's parts, in place; returns packed parts."""
    pick = lambda seq: seq[int(rng.integers(len(seq)))]  # noqa: E731
    hostile = lambda: copy.deepcopy(pick(_HOSTILE))  # noqa: E731 -- never share a container
    header["from"] = pick(FUZZ_SENDERS)
    seqs[0] += 1  # one counter for all senders: a forged `from` is then never far ahead
    header["seq"] = seqs[0]
    raw_header = raw_manifest = None
    for _ in range(int(rng.integers(1, 3))):
        op = int(rng.choice(13, p=_OP_WEIGHTS))
        entry = pick(manifest) if manifest else None
        if op == 0:
            header[pick(_HEADER_KEYS)] = hostile()
        elif op == 1:
            header.pop(pick(_HEADER_KEYS), None)
        elif op == 2 and isinstance(header.get("body"), dict):
            keys = [*header["body"], "brains", "sync", "scale"]
            header["body"][pick(keys)] = hostile()
        elif op == 3 and entry is not None:
            entry[pick(("name", "codec", "shape", "meta", "parts", "x"))] = hostile()
        elif op == 4 and entry is not None and _list(entry["parts"]):
            part = pick(entry["parts"])
            if isinstance(part, list) and len(part) == 3:
                part[int(rng.integers(3))] = hostile()
        elif op == 5 and entry is not None and isinstance(entry["meta"], dict):
            entry["meta"][pick(("scale", "count", "axis", "z"))] = hostile()
        elif op in (6, 7) and buffers:
            i = int(rng.integers(len(buffers)))
            buf = bytearray(buffers[i])
            if buf and op == 6:
                buf[int(rng.integers(len(buf)))] ^= 1 << int(rng.integers(8))
            elif len(buf) >= 4:
                at = 4 * int(rng.integers(len(buf) // 4))
                buf[at : at + 4] = pick(_BAD_FLOATS)
            buffers[i] = bytes(buf)
        elif op == 8 and buffers:
            i = int(rng.integers(len(buffers)))
            buffers[i] = buffers[i][: int(rng.integers(len(buffers[i]) + 1))] + b"\x01" * int(
                rng.integers(3)
            )
            parts = [p for e in manifest for p in _list(e.get("parts"))]
            if rng.random() < 0.5 and i < len(parts) and _list(parts[i])[2:]:
                parts[i][2] = len(buffers[i])  # consistent sizes: reach the codec checks
        elif op == 9:
            if manifest and rng.random() < 0.5:
                manifest.append(manifest[0]) if rng.random() < 0.5 else manifest.pop()
            elif buffers:
                buffers.append(buffers[0]) if rng.random() < 0.5 else buffers.pop()
        elif op == 10:
            ahead = seqs[0] + int(rng.integers(1, 1000))
            header["seq"] = pick((1, seqs[0] - 1, 2**63 - 1, seqs[0] + 2**32 + 1, ahead))
            seqs[0] = max(seqs[0], ahead if header["seq"] == ahead else 0)
        elif op == 11 and entry is not None and isinstance(entry.get("shape"), list):
            entry["shape"] = pick(([2**31, 2**31], [0], [*entry["shape"], 1], [1] * 9, []))
        elif op == 12:
            raw_header = bytearray(msgpack.packb(header))
            raw_header[int(rng.integers(len(raw_header)))] = int(rng.integers(256))
    h = bytes(raw_header) if raw_header is not None else msgpack.packb(header)
    m = raw_manifest if raw_manifest is not None else msgpack.packb(manifest)
    return h, m


def _fuzz(count: int, seed: int) -> Receiver:
    """`count` mutated, signed messages over real sockets to a live Receiver, then valid ones."""
    rng = np.random.default_rng(seed)
    templates = [msgpack.packb([h, m]) for h, m, _ in _templates()]
    buffers_of = [b for _, _, b in _templates()]
    receiver = Receiver("run", KEY, me=5)
    seqs = [0]
    seen, batch = 0, 256
    with Endpoint(0) as tx, Endpoint(5) as rx:
        tx.connect(5, rx.address)
        for start in range(0, count, batch):
            n = min(batch, count - start)
            for _ in range(n):
                t = int(rng.integers(len(templates)))
                header, manifest = msgpack.unpackb(templates[t])
                buffers = list(buffers_of[t])
                h, m = _mutate(rng, header, manifest, buffers, seqs)
                tx.send(5, _signed(h, m, buffers))
            for _ in range(n):
                got = rx.recv(timeout_ms=10_000)
                assert got is not None, "a message was lost on loopback"
                seen += 1
                try:
                    d = receiver.accept(got[1])
                except ProtocolError:
                    continue
                seqs[0] = max(seqs[0], d.message.seq)  # a forged jump moved the window: follow
                for name, a in d.arrays.items():
                    assert np.isfinite(a).all(), f"non-finite values accepted in {name}"
                assert not _has_non_finite(d.message.body)
        assert seen == count == receiver.accepted + sum(receiver.rejects.values())
        assert receiver.rejects["error"] == 0, "a check raised something other than a reject"
        assert receiver.accepted > 0, "the mutations never produced a valid message"
        good = Session("run", 777, KEY)
        for kind in Kind:
            for codec in CODECS:
                tensors = _tensors(codec, seed=3)
                tx.send(5, good.encode(kind, recipient=5, body=BODIES[kind], tensors=tensors))
                d = receiver.accept(rx.recv(timeout_ms=10_000)[1])
                want = decode_delta(tensors)
                assert all(np.array_equal(d.arrays[k], want[k]) for k in want)
    return receiver


def _has_non_finite(tree):
    if isinstance(tree, float):
        return not np.isfinite(tree)
    if isinstance(tree, dict):
        return any(_has_non_finite(v) for v in tree.values())
    if isinstance(tree, list):
        return any(_has_non_finite(v) for v in tree)
    return False


def test_fuzz_100k_mutated_signed_messages_against_a_live_receiver():
    _fuzz(100_000, seed=0)


@pytest.mark.slow
def test_fuzz_1m_mutated_signed_messages_against_a_live_receiver():
    _fuzz(1_000_000, seed=1)


@pytest.mark.parametrize("version", [PROTOCOL_VERSION, HMAC_VERSION])
def test_encoded_bytes_counts_the_frames_encode_writes(version):
    tensors = get_codec("topk_int8", fraction=0.3).encode({"w": np.arange(50.0)}).tensors
    msg = Message(Kind.DELTA, 3, 5, "run", 70000, 2, body={"brains": [3], "x": 1.5},
                  tensors=tensors)  # fmt: skip
    frames = encode(msg, new_key(), version)
    assert encoded_bytes(msg, version) == sum(memoryview(f).nbytes for f in frames)
    with pytest.raises(ValueError, match="wire version"):
        encoded_bytes(msg, (1, 0))

"""The wire codec: `Message` <-> signed multipart frames (docs/protocol.md is normative).

Frames, in order::

    [0] magic+version  b"SWRM" + bytes([major, minor])                      6 bytes
    [1] mac            keyed BLAKE3 (1.4 on) or HMAC-SHA256 (1.0-1.3)       32 bytes
    [2] header         msgpack map: v, kind, from, to, run, seq, round, term, ts, body
    [3] manifest       msgpack array, one map per tensor: name, codec, shape, meta, parts
    [4:] buffers       raw bytes of every part of every tensor, in manifest order

The signed bytes are frame 0, then for header, manifest and each buffer in order its length as
an 8-byte big-endian integer followed by its bytes: every byte a receiver acts on is signed,
buffers included. Buffers are sent as zero-copy memoryviews; nothing is ever pickled. The
version bytes of frame 0 choose the MAC (`mac_of`): a receiver reads 1.3 (HMAC-SHA256) and 1.4
(keyed BLAKE3, about 3x faster per byte) alike; a sender writes 1.4 unless told to speak 1.3.

    session = Session(run_id="r1", sender=3, key=key)
    frames = session.encode(Kind.DELTA, round=7, tensors=codec.encode(delta).tensors)
    receiver = Receiver(run_id="r1", key=key, me=5)
    got = receiver.accept(frames)            # ProtocolError(reason) if rejected, counted
    got.message.sender, got.arrays           # 3, {"w1": np.ndarray float32, ...}
"""

from __future__ import annotations

import enum
import functools
import hashlib
import hmac
import math
import secrets
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import blake3
import msgpack
import numpy as np

from protocols.compression import CodecError, Decoded, EncodedTensor, decode_delta
from protocols.messages import (
    BROADCAST,
    MAX_SEQ_JUMP,
    PROTOCOL_VERSION,
    Kind,
    Message,
    ProtocolError,
)
from protocols.wire_checks import check_header, check_manifest

__all__ = [
    "HMAC_VERSION",
    "MAC_KEY_CONTEXT",
    "MAGIC",
    "Delivery",
    "Limits",
    "Mac",
    "Receiver",
    "Session",
    "decode",
    "encode",
    "encoded_bytes",
    "mac_of",
    "new_key",
    "open_payload",
]

MAGIC = b"SWRM"
MAC_BYTES = 32

HMAC_VERSION = (1, 3)
"""The newest version signed with HMAC-SHA256: what a sender writes for a peer that predates 1.4."""

MAC_KEY_CONTEXT = "swarm protocol 1.4 message MAC key"
"""BLAKE3 derive_key context: the keyed-BLAKE3 key is derived from the run key with it, so the
same run key never serves two MAC algorithms directly (docs/protocol.md section 5)."""


class Mac(enum.Enum):
    """The keyed MAC in frame 1 (32 bytes either way); frame 0's version bytes say which."""

    HMAC_SHA256 = "HMAC-SHA256"  # versions 1.0 to 1.3
    BLAKE3 = "keyed BLAKE3"  # version 1.4 and later minors


def mac_of(version: tuple[int, int]) -> Mac:
    """The MAC a message of wire `version` (major, minor) is signed with."""
    return Mac.HMAC_SHA256 if tuple(version) <= HMAC_VERSION else Mac.BLAKE3


@dataclass(frozen=True)
class Limits:
    """Size limits a receiver enforces before it parses anything (bytes / counts)."""

    max_message_bytes: int = 64 * 2**20  # all frames together
    max_header_bytes: int = 64 * 2**10
    max_manifest_bytes: int = 2**20
    max_buffers: int = 4096
    max_elements: int = 2**26  # dense entries over all tensors of a message (256 MiB fp32)


def new_key() -> bytes:
    """A fresh random 32-byte (256-bit) key for one run: it signs every message."""
    return secrets.token_bytes(32)


@functools.lru_cache(maxsize=64)
def _blake3_key(key: bytes) -> bytes:
    """The 32-byte keyed-BLAKE3 key of a run key (derived once per key, then cached)."""
    return blake3.blake3(key, derive_key_context=MAC_KEY_CONTEXT).digest()


SMALL_PART = 4096
"""Parts shorter than this (bytes) reach the MAC joined with their neighbours' length prefixes
in one update: a call into the hash costs more than copying a few KiB."""


def _mac(key: bytes, frame0: Any, parts: Sequence[Any], mac: Mac) -> bytes:
    """The 32-byte MAC over frame0, then each part as its 8-byte big-endian length and its
    bytes (docs/protocol.md section 5). Large parts are fed as memoryviews, never copied;
    small ones and the length prefixes are joined so the hash sees few, larger updates (the
    same bytes in the same order, so the same MAC). Single threaded on purpose: on a shared
    core, BLAKE3's own thread pool costs more than it gains."""
    if mac is Mac.BLAKE3:
        h = blake3.blake3(key=_blake3_key(bytes(key)))
    else:
        h = hmac.new(key, digestmod=hashlib.sha256)
    pending = [frame0]
    for p in parts:
        view = memoryview(p)
        pending.append(view.nbytes.to_bytes(8, "big"))
        if view.nbytes < SMALL_PART:
            pending.append(view)
        else:
            h.update(b"".join(pending))
            h.update(view)
            pending.clear()
    h.update(b"".join(pending))
    return h.digest()


def _pack(obj: Any) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def encode(
    message: Message, key: bytes, version: tuple[int, int] = PROTOCOL_VERSION
) -> list[bytes | memoryview]:
    """Frames of a message, signed with key; buffers are the tensors' parts, not copied.

    version: PROTOCOL_VERSION (keyed BLAKE3), or HMAC_VERSION for a peer known to speak only
    1.3 (HMAC-SHA256); the layout is the same, only the MAC differs."""
    if not key:
        raise ValueError("a run key is required: use protocols.codec.new_key() once per run")
    frame0, signed = _unsigned_frames(message, version)
    return [frame0, _mac(key, frame0, signed, mac_of(version)), *signed]


def encoded_bytes(message: Message, version: tuple[int, int] = PROTOCOL_VERSION) -> int:
    """Bytes of `encode(message, key, version)`'s frames for any key, counted without signing
    (the MAC is always MAC_BYTES): how a meter sizes a message it does not send."""
    frame0, signed = _unsigned_frames(message, version)
    return len(frame0) + MAC_BYTES + sum(memoryview(f).nbytes for f in signed)


def _unsigned_frames(message: Message, version: tuple[int, int]) -> tuple[bytes, list[Any]]:
    """Frame 0 and the frames the MAC covers (header, manifest, buffers) of a message."""
    if tuple(version) not in (PROTOCOL_VERSION, HMAC_VERSION):
        raise ValueError(
            f"can send wire version {PROTOCOL_VERSION} or {HMAC_VERSION} (for a 1.3 peer), "
            f"not {version}"
        )
    header = {
        "v": list(version),
        "kind": int(message.kind),
        "from": message.sender,
        "to": message.recipient,
        "run": message.run_id,
        "seq": message.seq,
        "round": message.round,
        "term": message.term,
        "ts": float(message.timestamp),
        "body": dict(message.body),
    }
    manifest = [t.manifest_entry() for t in message.tensors]
    buffers = [memoryview(b).cast("B") for t in message.tensors for _, _, b in t.parts]
    frame0 = MAGIC + bytes(version)
    try:
        packed = [_pack(header), _pack(manifest)]
    except (TypeError, ValueError, OverflowError) as e:
        raise ValueError(
            f"message body must hold only msgpack-native values (int, float, str, bytes, list, "
            f"dict); convert numpy scalars with .item() and arrays to tensors ({e})"
        ) from None
    return frame0, [*packed, *buffers]


def _unpack(data: memoryview, what: str) -> Any:
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=True, use_list=True)
    except Exception as e:  # msgpack raises many types on hostile input; all mean "malformed"
        raise ProtocolError(what, f"msgpack: {type(e).__name__}") from None


def _views(frames: Sequence[Any], limits: Limits) -> list[memoryview]:
    try:
        views = [memoryview(f).cast("B") for f in frames]
    except (TypeError, ValueError):
        raise ProtocolError("frames", "every frame must be a contiguous byte buffer") from None
    if len(views) < 4 or len(views) > 4 + limits.max_buffers:
        raise ProtocolError(
            "frames", f"{len(views)} frames; expected 4 to {4 + limits.max_buffers}"
        )
    return views


def decode(frames: Sequence[Any], key: bytes, limits: Limits | None = None) -> Message:
    """Verify and parse frames into a Message (tensors still compressed); ProtocolError if bad.

    Checks in this order: frame count, magic, major version, sizes, signature, header,
    manifest. No replay check here: that needs per-sender state (see `Receiver`).
    """
    limits = limits or Limits()
    views = _views(frames, limits)
    f0 = views[0]
    if f0.nbytes != 6 or bytes(f0[:4]) != MAGIC:
        raise ProtocolError("magic", "frame 0 must be b'SWRM' + major + minor")
    if f0[4] != PROTOCOL_VERSION[0]:
        raise ProtocolError("version", f"major {f0[4]}, this receiver speaks {PROTOCOL_VERSION[0]}")
    total = sum(v.nbytes for v in views)
    if total > limits.max_message_bytes:
        raise ProtocolError("oversize", f"{total} bytes > {limits.max_message_bytes}")
    if views[2].nbytes > limits.max_header_bytes or views[3].nbytes > limits.max_manifest_bytes:
        raise ProtocolError("oversize", "header or manifest over its limit")
    mac = mac_of((f0[4], f0[5]))
    if not hmac.compare_digest(bytes(views[1]), _mac(key, f0, views[2:], mac)):
        raise ProtocolError("signature", f"{mac.value} does not match (wrong key or altered)")
    h = check_header(_unpack(views[2], "header"), major=f0[4], minor=f0[5])
    entries = check_manifest(_unpack(views[3], "manifest"), views[4:], limits.max_elements)
    tensors = []
    buffers = iter(views[4:])
    for e in entries:
        parts = tuple((p, dt, next(buffers)) for p, dt, _ in e["parts"])
        tensors.append(EncodedTensor(e["name"], e["codec"], tuple(e["shape"]), e["meta"], parts))
    return Message(
        kind=Kind(h["kind"]),
        sender=h["from"],
        recipient=h["to"],
        run_id=h["run"],
        seq=h["seq"],
        round=h["round"],
        term=h["term"],
        timestamp=float(h["ts"]),
        body=h["body"],
        tensors=tuple(tensors),
    )


def _non_finite_field(tree: Any) -> bool:
    """Whether any float inside a decoded msgpack value (maps, arrays, scalars) is NaN or ±inf.

    Iterative, so a deeply nested body cannot exhaust the Python stack."""
    stack = [tree]
    while stack:
        v = stack.pop()
        if isinstance(v, float):
            if not math.isfinite(v):
                return True
        elif isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return False


def open_payload(message: Message) -> Decoded:
    """Float32 arrays of a decoded message (`Decoded`: topk* tensors dense on access);
    ProtocolError("payload") if inconsistent.

    Every decoded value and every float field (body, codec meta) must be finite: one NaN
    accepted into a weight spreads to every brain that averages with it. Checking the decoded
    values (of a sparse tensor: the sent ones, all that is not zero) also catches codec
    overflow (an int8 `scale` of 3e38 times 127 is inf in fp32).
    """
    if _non_finite_field(message.body):
        raise ProtocolError("payload", "a body field is NaN or infinite")
    for t in message.tensors:
        if _non_finite_field(t.meta):
            raise ProtocolError("payload", f"{t.name}: a meta value is NaN or infinite")
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is caught just below
            arrays = decode_delta(message.tensors)
    except CodecError as e:
        raise ProtocolError("payload", str(e)) from None
    bad = arrays.non_finite()
    if bad is not None:
        raise ProtocolError("payload", f"{bad}: decodes to NaN or infinite values")
    return arrays


class Session:
    """The sending side of one node: stamps run id, sender id and a rising sequence number."""

    def __init__(
        self, run_id: str, sender: int, key: bytes, version: tuple[int, int] = PROTOCOL_VERSION
    ) -> None:
        """version: the wire version to write (`encode`): HMAC_VERSION for a 1.3-only peer."""
        self.run_id, self.sender, self.key, self.version = run_id, sender, key, tuple(version)
        self.seq = 0

    def encode(
        self,
        kind: Kind,
        *,
        recipient: int = BROADCAST,
        round: int = 0,
        term: int = 0,
        body: dict[str, Any] | None = None,
        tensors: Sequence[EncodedTensor] = (),
    ) -> list[bytes | memoryview]:
        """Frames of the next message from this node (seq = previous + 1, starting at 1)."""
        self.seq += 1
        msg = Message(kind, self.sender, recipient, self.run_id, self.seq, round, term,
                      body=body or {}, tensors=tuple(tensors))  # fmt: skip
        return encode(msg, self.key, self.version)


@dataclass(frozen=True)
class Delivery:
    """An accepted message and its tensors decompressed (float32 arrays by name; a
    `Decoded` keeps topk* tensors sparse until one is read dense)."""

    message: Message
    arrays: Mapping[str, np.ndarray]


@dataclass
class _Window:
    """Anti-replay window over one sender's sequence numbers (bit i: highest - i was seen).

    O(window) memory whatever the sequence numbers: a jump of `size` or more clears the
    bitmap instead of shifting it (a shift by 2**63 would allocate 2**60 bytes)."""

    size: int
    highest: int = 0
    seen: int = 0

    def check(self, seq: int) -> None:
        """ProtocolError("jump" / "stale" / "replay") unless `seq` may be accepted now."""
        if seq > self.highest:
            if seq - self.highest > MAX_SEQ_JUMP:
                raise ProtocolError(
                    "jump", f"seq {seq} is more than {MAX_SEQ_JUMP} above {self.highest}"
                )
            return
        back = self.highest - seq
        if back >= self.size:
            raise ProtocolError("stale", f"seq {seq} older than window {self.size}")
        if self.seen >> back & 1:
            raise ProtocolError("replay", f"seq {seq} already received")

    def admit(self, seq: int) -> None:
        """Mark a checked `seq` as received (only once the whole message is accepted)."""
        if seq > self.highest:
            jump = seq - self.highest
            mask = (1 << self.size) - 1
            self.seen = 1 if jump >= self.size else ((self.seen << jump) | 1) & mask
            self.highest = seq
        else:
            self.seen |= 1 << (self.highest - seq)


@dataclass
class Receiver:
    """The receiving side of one node: verifies, de-duplicates, counts rejects by reason.

    me: the node id, or the collection of ids, this receiver speaks for (a host holds many
    brains); a message addressed to any other id is rejected (`recipient`). None accepts any
    recipient (tools and tests only).
    window: how many sequence numbers behind a sender's highest are still accepted once.
    A rejected message changes no state; any exception while checking one is counted as
    `error` and raised as a ProtocolError, so a caller that skips ProtocolError never crashes.
    """

    run_id: str
    key: bytes
    me: int | Collection[int] | None = None
    window: int = 1024
    limits: Limits = field(default_factory=Limits)
    rejects: Counter = field(default_factory=Counter)
    accepted: int = 0
    _windows: dict[int, _Window] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.me is None:
            self._me: frozenset[int] | None = None
        else:
            ids = [self.me] if isinstance(self.me, int | np.integer) else list(self.me)
            self._me = frozenset(int(i) for i in ids) | {BROADCAST}

    def accept(self, frames: Sequence[Any]) -> Delivery:
        """Verify frames; returns the Delivery or raises ProtocolError (after counting it)."""
        try:
            msg = decode(frames, self.key, self.limits)
            if msg.run_id != self.run_id:
                raise ProtocolError("run", f"run {msg.run_id!r} is not {self.run_id!r}")
            if self._me is not None and msg.recipient not in self._me:
                raise ProtocolError("recipient", f"addressed to {msg.recipient}")
            window = self._windows.get(msg.sender) or _Window(self.window)
            window.check(msg.seq)
            arrays = open_payload(msg)
            window.admit(msg.seq)
            self._windows[msg.sender] = window
        except ProtocolError as e:
            self.rejects[e.reason] += 1
            raise
        except Exception as e:  # a receiver bug must cost one message, never the node
            self.rejects["error"] += 1
            raise ProtocolError("error", f"{type(e).__name__}: {e}") from e
        self.accepted += 1
        return Delivery(msg, arrays)

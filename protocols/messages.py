"""Message kinds, the `Message` record, the protocol version and the reasons a frame is rejected.

`PROTOCOL_VERSION` is the wire version (docs/protocol.md), separate from the package version:
a receiver rejects an unknown *major* version and accepts a newer *minor* (which may only add
optional header keys or body fields, which older receivers ignore).

Per-kind `body` fields (small values, carried in the signed header; arrays go in `tensors`):

| kind | body | tensors |
|---|---|---|
| HELLO | `endpoint` str, `public_key` str (z85, curve only), `params` int | - |
| HEARTBEAT | `position` [x, y] floats, `competence` float, `hub` int (-1: none) | - |
| DELTA | `base_round` int, `scale` float, `sync` bool (1.1) | compressed delta (sync: full x̂) |
| BELIEF | `shape` [H, W] | `cells` (topk/group codec: indices + values) |
| OBS | `ticks` [int] | `tokens` (N, input_dim) |
| ELECT | `type` "request" / "vote", `candidate` int, `competence` float | - |
| BYE | `reason` str | - |
| CLAIM | `brains` [int], `goals` [[row, col]] (or `table` [[brain, row, col]]) | - |
| COMMAND | `move` [int, int], `altitude` float, `flag` bool | - |

The term of HEARTBEAT and ELECT is the header's `term`. Since 1.2 a DELTA, BELIEF or
HEARTBEAT may carry many brains' payloads (body `brains`; docs/protocol.md §3).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from protocols.compression import EncodedTensor

__all__ = [
    "BROADCAST",
    "MAX_SEQ_JUMP",
    "PROTOCOL_VERSION",
    "REJECT_REASONS",
    "Kind",
    "Message",
    "ProtocolError",
]

PROTOCOL_VERSION = (1, 6)
"""(major, minor) of the wire format; docs/protocol.md states the same. 1.3 changed no byte
layout, only what a receiver rejects (non-finite values, sequence jumps, unique identities);
1.4 signs with keyed BLAKE3 instead of HMAC-SHA256 (same 32 bytes, same signed bytes) and
still reads every older 1.x message; 1.5 adds the CLAIM kind (goal claims); 1.6 the COMMAND
kind (a centre's order to one of its drones)."""

MAX_SEQ_JUMP = 2**32
"""How far above a sender's highest accepted `seq` a message may be (`jump` reject beyond):
one signed message must not burn a sender's whole sequence space (docs/protocol.md §6)."""

BROADCAST = -1
"""Recipient id meaning "every peer that receives this"."""


class Kind(IntEnum):
    """Message kinds; the integer is what the header carries."""

    HELLO = 1
    HEARTBEAT = 2
    DELTA = 3
    BELIEF = 4
    OBS = 5
    ELECT = 6
    BYE = 7
    CLAIM = 8  # since 1.5: goal claims, so drones that share keep apart
    COMMAND = 9  # since 1.6: a centre's order to one of its drones (`central`'s downlink)


REJECT_REASONS = (
    "frames",  # fewer than 4 frames or more than the buffer limit
    "magic",  # frame 0 is not b"SWRM" + 2 version bytes
    "version",  # unknown major version
    "oversize",  # a size limit exceeded
    "signature",  # MAC mismatch (keyed BLAKE3, or HMAC-SHA256 up to 1.3)
    "header",  # header is not the msgpack map the spec requires
    "manifest",  # manifest malformed or inconsistent with the buffers
    "run",  # header run id differs from the receiver's
    "recipient",  # addressed to someone else
    "jump",  # sequence number more than MAX_SEQ_JUMP above the sender's highest
    "replay",  # sequence number already seen inside the window
    "stale",  # sequence number older than the window
    "payload",  # buffers inconsistent with their codec, or a non-finite value anywhere
    "error",  # an unforeseen exception while checking: the message is dropped, never a crash
)
"""Every reason a receiver can reject a message, in the order checks run."""


class ProtocolError(Exception):
    """A rejected message; `reason` is one of REJECT_REASONS, `detail` says what was wrong."""

    def __init__(self, reason: str, detail: str = "") -> None:
        if reason not in REJECT_REASONS:
            raise ValueError(f"unknown reject reason {reason!r}")
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Message:
    """One protocol message; `seq` and `timestamp` are stamped by the sending `Session`.

    sender/recipient are node ids (int >= 0; recipient BROADCAST = -1), `round` the knowledge
    round, `term` the centre-election term, `timestamp` the sender's clock in seconds since the
    epoch (informational: receivers never reject on it).
    """

    kind: Kind
    sender: int
    recipient: int = BROADCAST
    run_id: str = ""
    seq: int = 0
    round: int = 0
    term: int = 0
    timestamp: float = field(default_factory=time.time)
    body: Mapping[str, Any] = field(default_factory=dict)
    tensors: tuple[EncodedTensor, ...] = ()

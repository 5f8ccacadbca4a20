"""What one host sent and heard, message by message, for a mission's recording (evaluation).

The host calls `sent` for every signed message it puts on a socket and `heard` for every
message it accepted (or rejected after decoding) in a round; `swarm.trajectory` drains the log
through `HostPool.view_record` and turns it into the recording's message and edge tables. The
log is off until the recorder first drains it (`take`), so runs that do not record keep
nothing; nothing here is ever read by a brain or a policy.

Rows are plain tuples of ints (cheap to append inside a round, cheap to pickle over Ray):

    sent:  (round, kind, sender, recipient, seq, src_host, dst_host, bytes, brains)
           `brains`: the brain ids the message speaks for (body `brains`, else the sender)
    heard: (sender, seq, dst_host, status)  status 0 accepted, 1 rejected after decoding
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from protocols.messages import Message

__all__ = ["ACCEPTED", "MAX_ROWS", "REJECTED", "WireLog"]

ACCEPTED, REJECTED = 0, 1
MAX_ROWS = 200_000
"""Rows kept between two drains at most (a recorder drains every round): bounds memory."""


class WireLog:
    """One host's log of messages since the last `take` (off until the first `take`)."""

    def __init__(self, host: int) -> None:
        self.host = host
        self.on = False
        self.sent_rows: list[tuple] = []
        self.heard_rows: list[tuple[int, int, int, int]] = []

    def sent(self, msg: Message, seq: int, dests: Sequence[int], frames: Sequence[Any]) -> None:
        """`msg` (sequence number `seq`) went to hosts `dests` as `frames`."""
        if not self.on or len(self.sent_rows) >= MAX_ROWS:
            return
        nbytes = sum(memoryview(f).nbytes for f in frames)
        brains = msg.body.get("brains") if isinstance(msg.body, dict) else None
        brains = tuple(int(b) for b in brains) if isinstance(brains, list) else (msg.sender,)
        for d in dests:
            self.sent_rows.append(
                (msg.round, int(msg.kind), msg.sender, msg.recipient, seq, self.host, d,
                 nbytes, brains)
            )  # fmt: skip

    def heard(self, msg: Message, status: int) -> None:
        """`msg` arrived here and was accepted (ACCEPTED) or rejected after decoding."""
        if self.on and len(self.heard_rows) < MAX_ROWS:
            self.heard_rows.append((msg.sender, msg.seq, self.host, status))

    def take(self) -> tuple[list[tuple], list[tuple[int, int, int, int]]]:
        """The rows since the last call (and switch the log on)."""
        self.on = True
        out = (self.sent_rows, self.heard_rows)
        self.sent_rows, self.heard_rows = [], []
        return out

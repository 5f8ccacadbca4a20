"""Traffic as real devices would send it: per drone, the bytes of each message's encoded form.

Hosts pack many drones' payloads into one batched message per destination host, and a host
reaches its own drones over a socket too; what crosses host sockets therefore depends on how
drones are sharded (`host_socket_*` in a run's stats: simulator overhead). The device-level
count does not: each batched message is split into the one-drone messages it stands for
(`protocols.batching.split_batch`), each is sized as that drone's own protocol session
would encode it (its own sequence numbers: exactly the frames it would send, the MAC
counted, not computed) and counted once per
drone that receives it (`Exchange.audience`: point-to-point links; a hub's own upload to
itself costs nothing). A `central` drone's per-tick OBS upload counts once, to the centre,
and so does the centre's per-tick COMMAND to each drone (the downlink; `swarm.host`).
These are `wire_messages` / `wire_bytes`, the same for any number of hosts.

    meter = DeviceTraffic(run_id)
    meter.count(message, audience=3)          # one drone's message heard by 3 drones
    meter.messages, meter.bytes               # cumulative
"""

from __future__ import annotations

import dataclasses

from protocols.batching import split_batch
from protocols.codec import Session, encoded_bytes
from protocols.messages import Message

__all__ = ["DeviceTraffic", "session_frames"]


def session_frames(
    sessions: dict[int, Session], run_id: str, key: bytes, msg: Message
) -> list[bytes | memoryview]:
    """Frames of `msg` from its sender's session in `sessions` (made on first use): the
    sender's next sequence number, signed with `key` for run `run_id`."""
    session = sessions.get(msg.sender)
    if session is None:
        session = sessions[msg.sender] = Session(run_id, msg.sender, key)
    return session.encode(
        msg.kind,
        recipient=msg.recipient,
        round=msg.round,
        term=msg.term,
        body=dict(msg.body),
        tensors=msg.tensors,
    )


class DeviceTraffic:
    """Cumulative device-level message and byte counts of one host's drones (see module)."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.seqs: dict[int, int] = {}  # per drone: the last sequence number it sent
        self.messages = 0
        self.bytes = 0

    def restart(self, run_id: str) -> None:
        """A new mission: fresh per-drone sessions (sequence numbers restart, as on the wire)."""
        self.run_id, self.seqs = run_id, {}

    def size(self, msg: Message) -> int:
        """Bytes of `msg`'s frames as its sender's own session would encode them (its seq
        advances), counted without signing them (`protocols.codec.encoded_bytes`)."""
        seq = self.seqs[msg.sender] = self.seqs.get(msg.sender, 0) + 1
        return encoded_bytes(dataclasses.replace(msg, run_id=self.run_id, seq=seq))

    def count(self, msg: Message, audience: int) -> None:
        """Count a one-drone message heard by `audience` drones (0: nobody, not sent)."""
        if audience > 0:
            self.messages += audience
            self.bytes += audience * self.size(msg)

    def count_batch(self, msg: Message, audience, seen: set[tuple[int, int]]) -> None:
        """Count each one-drone message of a (batched) `msg` once per round: `audience(kind,
        brain) -> int`; `seen` holds the (kind, brain) pairs already counted this phase (a
        host sends one brain's payload to several hosts, a device sends it once per peer)."""
        for one in split_batch(msg):
            key = (int(one.kind), one.sender)
            if key in seen:
                continue
            seen.add(key)
            self.count(one, audience(one.kind, one.sender))

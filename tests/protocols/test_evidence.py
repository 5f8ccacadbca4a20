"""Evidence increments: exact round trip over signed frames, their checks, the ledger."""

import numpy as np
import pytest

from protocols.codec import Session, decode, new_key, open_payload
from protocols.evidence import (
    Increment,
    Ledger,
    increment_bytes,
    increment_tensors,
    read_increments,
)
from protocols.messages import Kind, ProtocolError

CELLS = 40


def inc(origin, stamp, cells=(), values=(), pinned=(), truth=()):
    return Increment(
        origin,
        stamp,
        np.array(cells, np.int64),
        np.array(values, np.float32),
        np.array(pinned, np.int64),
        np.array(truth, bool),
    )


def over_the_wire(items, round_idx=3):
    """The increments as a receiver reads them: encoded, signed, sent, verified, decoded."""
    key = new_key()
    tensors = increment_tensors(items, CELLS)
    frames = Session("run", 0, key).encode(Kind.BELIEF, round=round_idx, tensors=tensors)
    msg = decode(frames, key)
    return read_increments(open_payload(msg), 8, CELLS, msg.round), frames


def test_increments_cross_the_wire_exactly():
    sent = [
        inc(2, 1, [0, 7, 39], [-0.693, 8.0, 1e-3], [7], [False]),
        inc(0, 3, [5], [2.5]),
        inc(5, 2, pinned=[1, 30], truth=[True, False]),
    ]
    got, frames = over_the_wire(sent)
    assert [g.key for g in got] == [(0, 3), (2, 1), (5, 2)]  # sorted by (origin, stamp)
    for g in got:
        want = next(s for s in sent if s.key == g.key)
        for field in ("cells", "values", "pinned", "truth"):
            np.testing.assert_array_equal(getattr(g, field), getattr(want, field))
    assert sum(len(f) for f in frames) < increment_bytes(CELLS, len(sent))


def test_empty_increments_send_nothing():
    assert increment_tensors([inc(1, 0)], CELLS) == []
    assert not inc(1, 0) and inc(1, 0, pinned=[3], truth=[True])


@pytest.mark.parametrize(
    ("name", "value", "match"),
    [
        ("cells", 1.0, "names"),
        ("ev.1", 1.0, "names"),
        ("ev.8.0", 1.0, "origin"),
        ("ev.1.4", 1.0, "stamp"),
        ("pin.1.0", 2.0, "±1"),
    ],
)
def test_a_malformed_payload_is_a_protocol_error(name, value, match):
    with pytest.raises(ProtocolError, match=match):
        read_increments({name: np.full(CELLS, value, np.float32)}, 8, CELLS, 3)
    with pytest.raises(ProtocolError, match="cells"):
        read_increments({"ev.1.0": np.ones(CELLS + 1, np.float32)}, 8, CELLS, 3)


def test_the_ledger_lets_each_increment_through_once_per_brain():
    ledger, a, b = Ledger(), inc(1, 0, [3], [1.0]), inc(1, 1, [3], [1.0])
    assert ledger.first(0, a) and not ledger.first(0, a)  # a repeat, e.g. relayed twice
    assert ledger.first(2, a) and ledger.first(0, b)  # another brain, another round
    assert not ledger.first(1, a)  # a brain's own evidence is never news to it

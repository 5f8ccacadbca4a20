"""Batched messages: batches, checked splitting per brain, row layout, belief payloads."""

import numpy as np
import pytest

from protocols.batching import (
    MANIFEST_SLACK,
    RowEncoder,
    RowLayout,
    SparseRow,
    batch_messages,
    batches,
    follows,
    per_brain,
    read_batch,
    row_index,
    sized_batches,
)
from protocols.codec import Delivery, Session, decode, new_key, open_payload
from protocols.compression import decode_tensor, get_codec
from protocols.messages import Kind, ProtocolError

LAYOUT = RowLayout([("a", (2, 3)), ("b", (4,))])  # P = 10


def deliver(kind, sender, body, arrays):
    """A real signed message, decoded and verified (the wire checks on the frames), with its
    arrays as sent: what `per_brain` gets, minus the receiver's own value checks, so these
    tests see the batching checks alone."""
    key = new_key()
    tensors = get_codec("none").encode(arrays).tensors if arrays else ()
    frames = Session("run", sender, key).encode(kind, body=body, tensors=tensors)
    return Delivery(decode(frames, key), {t.name: decode_tensor(t) for t in tensors})


def test_batches_depend_only_on_the_brains_and_sizes():
    assert batches([4, 5, 6, 7, 8], per_brain_bytes=100, max_bytes=400) == [[4, 5], [6, 7], [8]]
    assert batches([], 100, 400) == []
    assert batches([1, 2], per_brain_bytes=10**9, max_bytes=400) == [[1], [2]]  # one at least


def test_sized_batches_are_consecutive_runs_within_the_byte_limit():
    # brain b carries b fp32 entries (4b bytes + MANIFEST_SLACK per tensor)
    tensors = {
        b: get_codec("none").encode({str(b): np.ones(b, np.float32)}).tensors for b in (1, 2, 3, 4)
    }
    per = {b: MANIFEST_SLACK + 4 * b for b in tensors}
    limit = 2 * (per[1] + per[2] + per[3])  # half of it holds brains 1-3, not 4 as well
    assert sized_batches([1, 2, 3, 4], tensors, limit) == [[1, 2, 3], [4]]
    assert sized_batches([1, 2, 3, 4], tensors, 2 * (per[1] + per[2])) == [[1, 2], [3], [4]]
    assert sized_batches([1, 2, 3, 4], tensors, 2) == [[1], [2], [3], [4]]  # alone when over
    assert sized_batches([5, 6], {}, 2) == [[5, 6]]  # brains without tensors cost nothing
    assert sized_batches([], tensors, limit) == []


@pytest.mark.parametrize(
    ("brains", "announced"),
    [([2, 3], [(Kind.BELIEF, 5)]), ([5, 9], []), ([2, 3, 5, 9], []), ([3], [(Kind.BELIEF, 5)])],
)
def test_a_sized_batch_announces_the_next_brain_of_its_run(brains, announced):
    d = deliver(Kind.BELIEF, brains[0], {"brains": brains}, {})
    assert follows(d, [2, 3, 5, 9]) == announced


@pytest.mark.parametrize("brains", [[2, 5], [3, 9], [4], [2, 3, 5, 9, 11]])
def test_a_sized_batch_that_is_no_run_of_its_host_is_rejected(brains):
    d = deliver(Kind.BELIEF, brains[0], {"brains": brains}, {})
    with pytest.raises(ProtocolError, match="not a run") as err:
        follows(d, [2, 3, 5, 9])
    assert err.value.reason == "manifest"


def test_a_batched_message_splits_back_into_each_brains_row():
    rows = {3: np.arange(10, dtype=np.float32), 5: -np.arange(10, dtype=np.float32)}
    tensors = {b: get_codec("none").encode({str(b): r}).tensors for b, r in rows.items()}
    (out,) = batch_messages(Kind.DELTA, 1, [3, 5], tensors, 0, 100, 10**6)
    assert out.dests == (1,) and out.msg.sender == 3 and out.msg.body["brains"] == [3, 5]
    d = deliver(
        Kind.DELTA, 3, dict(out.msg.body), {t.name: decode_tensor(t) for t in out.msg.tensors}
    )
    got = {b: LAYOUT.unpack(a) for b, a in per_brain(d, n_brains=8)}
    assert got.keys() == rows.keys()
    for b in rows:
        np.testing.assert_array_equal(got[b], rows[b])


@pytest.mark.parametrize(
    ("body", "arrays", "reason", "match"),
    [
        ({"brains": [3, 5]}, {"7": np.zeros(10, np.float32)}, "manifest", "no brain in the body"),
        ({"brains": [3, 5]}, {"x/w": np.zeros(10, np.float32)}, "manifest", "no brain"),
        ({"brains": [5, 3]}, {}, "manifest", "ascending"),
        ({"brains": [3, 3]}, {}, "manifest", "ascending"),
        ({"brains": [3, 99]}, {}, "manifest", "outside the team"),
        ({"brains": []}, {}, "manifest", "non-empty"),
        ({"brains": [3, "5"]}, {}, "manifest", "integers"),
        ({"brains": [4, 5]}, {}, "manifest", "first brain"),
    ],
)
def test_a_malformed_batch_is_a_protocol_error_with_a_reason(body, arrays, reason, match):
    d = deliver(Kind.DELTA, 3, body, arrays)
    with pytest.raises(ProtocolError, match=match) as err:
        per_brain(d, n_brains=8)
    assert err.value.reason == reason


@pytest.mark.parametrize(
    "row", [np.array([1.0, np.nan], np.float32), np.array([np.inf], np.float32)]
)
def test_a_batch_with_non_finite_values_never_reaches_per_brain(row):
    """The one value check on the receive path is `open_payload` (what `Receiver.accept`
    builds every Delivery with), so `per_brain` never sees a NaN or an infinity."""
    tensors = get_codec("none").encode({"3": row}).tensors
    frames = Session("run", 3, key := new_key()).encode(
        Kind.DELTA, body={"brains": [3]}, tensors=tensors
    )
    with pytest.raises(ProtocolError, match="NaN") as err:
        open_payload(decode(frames, key))
    assert err.value.reason == "payload"


def test_a_row_of_the_wrong_size_or_shape_is_rejected():
    with pytest.raises(ProtocolError, match="a brain 10"):
        LAYOUT.unpack({"w": np.zeros(9, np.float32)})
    with pytest.raises(ProtocolError, match="shape"):
        LAYOUT.unpack({"a": np.zeros((3, 2), np.float32), "b": np.zeros(4, np.float32)})
    with pytest.raises(ProtocolError, match="lacks"):
        LAYOUT.unpack({"a": np.zeros((2, 3), np.float32)})
    row = np.arange(10, dtype=np.float32)
    np.testing.assert_array_equal(LAYOUT.unpack(LAYOUT.pack(row, by_tensor=True)), row)


@pytest.mark.parametrize(
    ("arrays", "match"),
    [
        ({"ev.0.0": np.ones(15, np.float32)}, "15 cells"),
        ({"cells": np.ones(16, np.float32)}, "names"),
        ({"ev.9.0": np.ones(16, np.float32)}, "origin"),
        ({"ev.1.5": np.ones(16, np.float32)}, "stamp"),
        ({"pin.1.0": np.full(16, 0.5, np.float32)}, "±1"),
    ],
)
def test_a_belief_payload_of_the_wrong_size_or_name_is_rejected(arrays, match):
    d = deliver(Kind.BELIEF, 3, {"brains": [3]}, {f"3/{k}": v for k, v in arrays.items()})
    with pytest.raises(ProtocolError, match=match):
        read_batch(d, n_brains=8, layout=LAYOUT, cells=16)
    ok = deliver(Kind.BELIEF, 3, {"brains": [3, 4]}, {"3/ev.3.0": np.ones(16, np.float32)})
    (b3, (inc,)), (b4, none) = read_batch(ok, n_brains=8, layout=LAYOUT, cells=16)[1]
    assert (b3, inc.key, inc.cells.size, b4, none) == (3, (3, 0), 16, 4, [])


def test_row_index_is_a_slice_for_a_run_of_ids_and_the_ids_otherwise():
    team = np.arange(40.0).reshape(10, 4)
    for ids in ([3, 4, 5, 6], [0, 2, 3], [7], [1, 9]):
        idx = row_index(np.array(ids))
        assert isinstance(idx, slice) == (ids == list(range(ids[0], ids[-1] + 1)))
        np.testing.assert_array_equal(team[idx], team[ids])
    assert row_index(np.zeros(0, np.int64)).size == 0


def test_a_topk_row_read_sparse_adds_as_the_dense_row():
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(2, 10)).astype(np.float32)
    enc = RowEncoder("topk_int8", 0.3, None, LAYOUT, None, 2)
    (out,) = batch_messages(Kind.DELTA, 1, [3, 5], enc.encode(rows, [3, 5]), 0, 100, 10**6)
    key = new_key()
    frames = Session("run", 3, key).encode(Kind.DELTA, body=dict(out.msg.body),
                                           tensors=out.msg.tensors)  # fmt: skip
    msg = decode(frames, key)
    d = Delivery(msg, open_payload(msg))
    _, dense = read_batch(d, 8, LAYOUT, 4)
    _, sparse = read_batch(d, 8, LAYOUT, 4, sparse=True)
    base = rng.normal(size=(2, 10)).astype(np.float32)
    for (b, want), (b2, got), x in zip(dense, sparse, base.copy(), strict=True):
        assert b == b2 and isinstance(got, SparseRow) and got.idx.size == 3
        np.testing.assert_array_equal(got.dense(), want)
        got.add_to(x)
        np.testing.assert_array_equal(x, base[[3, 5].index(b)] + want)

"""RowCodec: each row encodes to the same tensor (bytes and meta) as the per-stream Codec."""

import pickle

import numpy as np
import pytest

from protocols.compression import decode_delta, get_codec
from protocols.rowcodec import ROW_CODECS, RowCodec, sparse_tensors


def _same(a, b):
    assert (a.name, a.codec, a.shape, a.meta) == (b.name, b.codec, b.shape, b.meta)
    assert [(p, d, bytes(v)) for p, d, v in a.parts] == [(p, d, bytes(v)) for p, d, v in b.parts]


@pytest.mark.parametrize("name", ROW_CODECS)
def test_rows_match_the_per_stream_codec_over_rounds(name):
    rng = np.random.default_rng(0)
    k, n = 5, 300
    rc = RowCodec(name, fraction=0.07)
    singles = [get_codec(name, fraction=0.07) for _ in range(k)]
    for _ in range(3):  # error feedback carries residuals between rounds
        x = rng.standard_normal((k, n)).astype(np.float32)
        x[2] = 0.0  # an all-zero row: scale 0
        got = rc.encode_rows(x, [str(i) for i in range(k)])
        for i in range(k):
            (want,) = singles[i].encode({str(i): x[i]}).tensors
            _same(got[i], want)
        dense = decode_delta(got)
        assert set(dense) == {str(i) for i in range(k)}


def test_sparse_tensors_round_trip_exact_entries():
    upd = np.zeros((3, 4, 5), np.float32)
    upd[0, 1, 2], upd[2, 0, 0], upd[2, 3, 4] = 0.5, -1.0, 2.0
    flat = upd.reshape(3, -1)
    rows, cols = np.nonzero(flat)
    tensors = sparse_tensors(["a", "b", "c"], (20,), rows, cols, flat[rows, cols])
    assert [t.name for t in tensors] == ["a", "c"]  # row b has nothing to send
    dense = decode_delta(tensors)
    np.testing.assert_array_equal(dense["a"], flat[0])
    np.testing.assert_array_equal(dense["c"], flat[2])


def test_bad_input_is_refused_with_a_hint():
    with pytest.raises(ValueError, match="group"):
        RowCodec("group")
    rc = RowCodec("topk", fraction=0.5)
    rc.encode_rows(np.ones((2, 4)), ["a", "b"])
    with pytest.raises(ValueError, match="residual"):
        rc.encode_rows(np.ones((3, 4)), ["a", "b", "c"])


@pytest.mark.parametrize("name", ["topk", "topk_int8"])
def test_rows_with_ties_at_the_threshold_pick_as_the_per_stream_codec(name):
    # exact zeros and repeated magnitudes: the threshold value is shared by several entries
    rng = np.random.default_rng(3)
    k, n = 6, 200
    x = np.round(rng.standard_normal((k, n)), 1).astype(np.float32)
    x[0] = 0.0
    x[1, ::2] = 0.0
    x[2] = np.where(rng.random(n) < 0.5, 1.0, -1.0)  # every magnitude equal
    rc = RowCodec(name, fraction=0.1, error_feedback=False)
    got = rc.encode_rows(x, [str(i) for i in range(k)])
    for i in range(k):
        (want,) = get_codec(name, fraction=0.1, error_feedback=False).encode({str(i): x[i]}).tensors
        _same(got[i], want)


@pytest.mark.parametrize("n", [200, 18_875])
def test_all_zero_rows_among_moving_rows_pick_as_the_per_stream_codec(n):
    # early in a mission most brains' deltas are exactly zero (-0.0 too): those rows share
    # one precomputed pick, which must be argpartition's for each of them
    rng = np.random.default_rng(5)
    k = 7
    x = rng.standard_normal((k, n)).astype(np.float32)
    x[[0, 3, 4]] = 0.0
    x[4, : n // 3] = -0.0
    x[5, rng.random(n) < 0.97] = 0.0  # fewer non-zeros than picks: ties at zero
    for name in ("topk", "topk_int8"):
        got = RowCodec(name, fraction=0.1, error_feedback=False).encode_rows(
            x, [str(i) for i in range(k)]
        )
        for i in range(k):
            codec = get_codec(name, fraction=0.1, error_feedback=False)
            (want,) = codec.encode({str(i): x[i]}).tensors
            _same(got[i], want)
    only_zero = RowCodec("topk", fraction=0.1, error_feedback=False)
    got = only_zero.encode_rows(np.zeros((3, n), np.float32), ["a", "b", "c"])
    (want,) = (
        get_codec("topk", fraction=0.1, error_feedback=False)
        .encode({"a": np.zeros(n, np.float32)})
        .tensors
    )
    for t in got:
        assert [bytes(v) for _, _, v in t.parts] == [bytes(v) for _, _, v in want.parts]


def test_encoding_leaves_the_callers_rows_alone():
    x = np.random.default_rng(4).standard_normal((3, 50)).astype(np.float32)
    before = x.copy()
    for name in ROW_CODECS:
        RowCodec(name, fraction=0.2).encode_rows(x, ["a", "b", "c"])
        np.testing.assert_array_equal(x, before)


def test_a_pickled_codec_keeps_its_residual_not_its_scratch():
    """A host's restart snapshot pickles its RowCodec: the error-feedback residual travels,
    the top-k scratch buffers (nothing between rounds) do not, and the restored codec
    encodes the next round exactly as the original."""
    rng = np.random.default_rng(1)
    k, n = 4, 5000
    rc = RowCodec("topk_int8", fraction=0.1)
    rc.encode_rows(rng.standard_normal((k, n)).astype(np.float32), list("abcd"))
    blob = pickle.dumps(rc, protocol=5)
    assert len(blob) < rc.residual.nbytes * 1.1  # the residual, not the 5 bytes per entry
    copy = pickle.loads(blob)
    assert copy._scratch is None and rc._scratch is not None
    x = rng.standard_normal((k, n)).astype(np.float32)
    got, again = rc.encode_rows(x, list("abcd")), copy.encode_rows(x, list("abcd"))
    for a, b in zip(got, again, strict=True):
        _same(a, b)
    np.testing.assert_array_equal(rc.residual, copy.residual)

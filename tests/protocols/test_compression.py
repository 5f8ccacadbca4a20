"""Codecs: exact/approximate round trips, error bounds, error feedback, wire ratios."""

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from protocols.compression import (
    CODECS,
    CodecError,
    EncodedTensor,
    decode_delta,
    decode_tensor,
    get_codec,
)
from protocols.varint import decode_indices


def _delta(seed=0, shape=(64, 96)):
    rng = np.random.default_rng(seed)
    return {"w": rng.standard_t(3, size=shape).astype(np.float32), "b": rng.normal(size=5)}


finite = st.floats(-1e4, 1e4, width=32)


@settings(max_examples=40, deadline=None)
@given(arrays(np.float32, st.tuples(st.integers(0, 6), st.integers(1, 7)), elements=finite))
def test_every_codec_keeps_shape_and_dtype(x):
    for name in CODECS:
        codec = get_codec(name, fraction=0.3, group_axes={"x": 1})
        out = decode_delta(codec.encode({"x": x}))["x"]
        assert out.shape == x.shape and out.dtype == np.float32


def test_none_is_exact_and_fp16_close():
    x = _delta()
    assert np.array_equal(decode_delta(get_codec("none").encode(x))["w"], x["w"])
    out = decode_delta(get_codec("fp16").encode(x))["w"]
    np.testing.assert_allclose(out, x["w"], rtol=1e-3, atol=1e-4)


@settings(max_examples=40, deadline=None)
@given(arrays(np.float32, st.integers(1, 300), elements=finite))
def test_int8_error_within_half_scale(x):
    enc = get_codec("int8").encode({"x": x})
    scale = enc.tensors[0].meta["scale"]
    err = np.abs(decode_delta(enc)["x"].astype(np.float64) - x)
    assert err.max() <= scale / 2 * (1 + 1e-5) + 1e-30


@settings(max_examples=40, deadline=None)
@given(
    arrays(np.float32, st.integers(1, 400), elements=finite),
    st.floats(0.01, 1.0),
)
def test_topk_contraction(x, fraction):
    enc = get_codec("topk", fraction=fraction, error_feedback=False).encode({"x": x})
    k = enc.tensors[0].meta["count"]
    assert k == min(x.size, max(1, math.ceil(fraction * x.size)))
    x64 = x.astype(np.float64)
    err = np.sum((x64 - decode_delta(enc)["x"]) ** 2)
    assert err <= (1 - k / x.size) * np.sum(x64**2) * (1 + 1e-9) + 1e-30


@pytest.mark.parametrize("name", ["topk", "topk_int8"])
def test_error_feedback_residual_stays_bounded(name):
    rng = np.random.default_rng(1)
    codec = get_codec(name, fraction=0.1)
    d, delta = 500, 0.1
    # With a delta-contraction, ||e|| <= sqrt(1-delta)/(1-sqrt(1-delta)) * max||x||.
    bound = math.sqrt(1 - delta) / (1 - math.sqrt(1 - delta))
    norms = []
    for _ in range(1500):
        x = rng.standard_t(3, size=d).astype(np.float32)
        codec.encode({"x": x})
        norms.append(np.linalg.norm(codec.residual["x"]) / np.linalg.norm(x))
    norms = np.array(norms)
    assert norms.max() < bound
    assert norms[750:].max() < 1.5 * norms[:750].max()  # no slow growth


def test_error_feedback_delivers_everything_eventually():
    codec = get_codec("topk", fraction=0.05)
    x = _delta()["w"]
    sent = decode_delta(codec.encode({"w": x}))["w"]
    for _ in range(40):
        sent = sent + decode_delta(codec.encode({"w": np.zeros_like(x)}))["w"]
    np.testing.assert_allclose(sent, x, atol=1e-5)


def test_group_codec_sends_only_changed_groups():
    x = np.zeros((4, 32), np.float32)
    x[:, [3, 17]] = 1.0
    enc = get_codec("group", group_axes={"w": 1}).encode({"w": x, "b": np.ones(3)})
    w = enc.tensors[0]
    assert (w.codec, w.meta["count"]) == ("group", 2)
    assert enc.tensors[1].codec == "none"
    assert np.array_equal(decode_delta(enc)["w"], x)
    assert enc.buffer_bytes == 2 + 2 * 4 * 4 + 3 * 4


def test_wire_ratio_counts_manifest_and_topk_int8_is_small():
    x = _delta(shape=(256, 512))
    dense = get_codec("none").encode(x)
    assert dense.wire_ratio < 1.0  # manifest overhead counted
    small = get_codec("topk_int8", fraction=0.01).encode(x)
    assert small.wire_ratio > 100


def test_bad_parameters_and_parts_are_clear_errors():
    with pytest.raises(ValueError, match="unknown codec"):
        get_codec("zip")
    with pytest.raises(ValueError, match="group_axes"):
        get_codec("group")
    with pytest.raises(ValueError, match="fraction"):
        get_codec("topk", fraction=0)
    bad = EncodedTensor("w", "topk", (10,), {"count": 2}, (("index", "varint", b"\x00\x02"),))
    with pytest.raises(CodecError, match="expects part"):
        decode_delta([bad])
    bad = EncodedTensor("w", "none", (10,), {}, (("values", "float32", b"\x00" * 8),))
    with pytest.raises(CodecError, match="bytes"):
        decode_delta([bad])


def _reference_topk(x: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-tensor top-k written the slow, obvious way: (sorted indices, values)."""
    flat = x.reshape(-1).astype(np.float32)
    k = min(flat.size, max(1, math.ceil(fraction * flat.size)))
    idx = np.sort(np.argsort(-np.abs(flat), kind="stable")[:k])
    return idx, flat[idx]


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.integers(0, 200), min_size=1, max_size=6),
    st.floats(0.01, 1.0),
    st.sampled_from(["topk", "topk_int8"]),
)
def test_batched_topk_matches_per_tensor_selection(sizes, fraction, name):
    rng = np.random.default_rng(len(sizes))
    named = {f"t{i}": rng.normal(size=n).astype(np.float32) * (i + 1) for i, n in enumerate(sizes)}
    enc = get_codec(name, fraction=fraction, error_feedback=False).encode(named)
    out = decode_delta(enc)
    assert [t.name for t in enc.tensors] == list(named)
    for t in enc.tensors:
        x = named[t.name]
        if x.size == 0:
            assert t.codec == "none" and out[t.name].shape == (0,)
            continue
        idx, vals = _reference_topk(x, fraction)
        assert t.meta["count"] == idx.size
        got = out[t.name]
        assert np.array_equal(decode_indices(t.parts[0][2], idx.size, x.size), idx)
        if name == "topk":
            assert np.array_equal(got[idx], vals)
        else:  # one scale per tensor: max |sent| / 127, error at most half of it
            assert t.meta["scale"] == pytest.approx(float(np.abs(vals).max()) / 127.0)
            assert np.abs(got[idx] - vals).max() <= t.meta["scale"] / 2 + 1e-6


def test_batched_topk_error_feedback_keeps_each_tensors_residual():
    named = {"a": np.arange(10, dtype=np.float32), "b": -np.arange(6, dtype=np.float32) * 3}
    codec = get_codec("topk", fraction=0.2)
    sent = decode_delta(codec.encode(named))
    for k, x in named.items():  # sent + residual is exactly the input
        assert np.array_equal(sent[k] + codec.residual[k], x)
    again = decode_delta(codec.encode({k: np.zeros_like(v) for k, v in named.items()}))
    assert again["a"][7] == 7 and again["b"][3] == -9  # next-largest of what was left


def test_index_parts_cannot_borrow_varints_from_each_other():
    x = {"a": np.arange(1, 9, dtype=np.float32), "b": np.arange(1, 9, dtype=np.float32)}
    a, b = get_codec("topk", fraction=0.25).encode(x).tensors  # 2 indices each
    ia, ib = bytes(a.parts[0][2]), bytes(b.parts[0][2])
    moved = (ia + ib[:1], ib[1:])  # 3 varints + 1 varint: same total, wrong per tensor
    for pa, pb in (moved, (ia + b"\x80", ib), (ia, ib[:-1] + b"\x85")):
        bad = [
            EncodedTensor(t.name, t.codec, t.shape, t.meta, (("index", "varint", p), t.parts[1]))
            for t, p in ((a, pa), (b, pb))
        ]
        with pytest.raises(CodecError):
            decode_delta(bad)


@pytest.mark.parametrize("codec", ["topk", "topk_int8", "int8", "none"])
def test_decoded_keeps_topk_sparse_and_dense_on_access_as_decode_tensor(codec):
    tensors = get_codec(codec, fraction=0.2).encode(_delta(3)).tensors
    got = decode_delta(tensors)
    assert list(got) == ["w", "b"] and len(got) == 2 and "w" in got and "x" not in got
    for t in tensors:
        want = decode_tensor(t)
        assert got.shape(t.name) == want.shape
        sparse = got.sparse(t.name)
        if codec.startswith("topk"):
            idx, values = sparse
            assert np.all(np.diff(idx) > 0)
            np.testing.assert_array_equal(want.reshape(-1)[idx], values)
            assert np.count_nonzero(want) == np.count_nonzero(values)  # nothing else is set
        else:
            assert sparse is None
        np.testing.assert_array_equal(got[t.name], want)
    assert got.non_finite() is None
    picked = got.select({"x": "b"})
    assert list(picked) == ["x"]
    np.testing.assert_array_equal(picked["x"], decode_tensor(tensors[1]))
    with pytest.raises(KeyError):
        got["x"]


@pytest.mark.parametrize("codec", ["topk", "topk_int8", "none"])
def test_decoded_names_a_tensor_with_non_finite_values(codec):
    row = np.ones(20, np.float32)
    tensors = get_codec(codec, fraction=0.5).encode({"a": row, "b": row}).tensors
    if codec == "topk_int8":  # an overflowing scale: finite on the wire, inf once decoded
        bad = dataclasses.replace(tensors[1], meta={**tensors[1].meta, "scale": 3e38})
    else:
        parts = list(tensors[1].parts)
        vals = np.frombuffer(parts[-1][2], np.float32).copy()
        vals[0] = np.nan
        parts[-1] = (*parts[-1][:2], memoryview(vals).cast("B"))
        bad = dataclasses.replace(tensors[1], parts=tuple(parts))
    with np.errstate(over="ignore"):
        assert decode_delta([tensors[0], bad]).non_finite() == "b"

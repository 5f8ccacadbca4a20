"""bench.protocol's delta tally: it counts what the runtime's row encoder sends, changes
nothing it returns, and leaves the encoder as it found it."""

from __future__ import annotations

import numpy as np

from bench.protocol import _DeltaTally, _field_summary
from protocols.batching import RowEncoder, RowLayout
from protocols.compression import EncodedDelta


def _encoder() -> RowEncoder:
    layout = RowLayout([("a", (40, 25)), ("b", (500,))])
    return RowEncoder("topk_int8", 0.01, None, layout, None, k=3)


def test_tally_counts_the_deltas_the_encoder_sends():
    rows = np.random.default_rng(0).normal(size=(3, 1500)).astype(np.float32)
    plain = _encoder().encode(rows, [4, 5, 6])
    original = RowEncoder.encode
    with _DeltaTally() as tally:
        observed = _encoder().encode(rows, [4, 5, 6])
        _encoder().encode(rows[:1], [7])
    assert RowEncoder.encode is original
    for b in plain:  # the same tensors, byte for byte
        (p,), (o,) = plain[b], observed[b]
        assert p.manifest_entry() == o.manifest_entry()
        assert all(bytes(x[2]) == bytes(y[2]) for x, y in zip(p.parts, o.parts, strict=True))
    assert tally.dense == 4 * 4 * 1500
    first = EncodedDelta(tuple(t for ts in observed.values() for t in ts)).wire_bytes
    assert first < tally.wire < 2 * first  # the second call (one brain) counted too


def test_field_summary_pairs_seeds_and_pools_bytes():
    def run(seed, auc, dense, wire):
        return {"seed": seed, "field_auc": auc, "ticks": 10, "dense_bytes": dense,
                "wire_bytes": wire}  # fmt: skip

    runs = {
        "none": [run(0, 0.80, 400, 400), run(1, 0.70, 400, 400)],
        "topk_int8@0.01": [run(0, 0.78, 400, 4), run(1, float("nan"), 800, 6)],
    }
    s = _field_summary(runs)
    assert s["seeds"] == [0, 1]
    assert s["none"]["wire_ratio"] == 1.0 and s["none"]["auc_loss"]["mean"] == 0.0
    assert s["topk_int8@0.01"]["wire_ratio"] == 1200 / 10
    loss = s["topk_int8@0.01"]["auc_loss"]  # the NaN seed is left out, not counted as a loss
    assert loss["n"] == 1 and abs(loss["mean"] - 0.02) < 1e-12

"""bench.learn_cost's pieces: variant flags and the ratios to the default (not the timing)."""

import pytest

from bench.learn_cost import DEFAULT, _variants, summarise


def test_variants_parse_to_overrides_after_the_default():
    got = _variants([["le8", "learner.learn_every=8"], ["two", "learner.lr=1e-3", "drones=8"]])
    assert list(got) == [DEFAULT, "le8", "two"]
    assert got["le8"] == {"learner.learn_every": 8}
    assert got["two"] == {"learner.lr": 1e-3, "drones": 8}


@pytest.mark.parametrize(
    "spec, says",
    [(["le8"], "PATH=VALUE"), (["a=1"], "write a name"), ([DEFAULT, "drones=8"], "used twice")],
)
def test_a_malformed_variant_says_how_to_write_it(spec, says):
    with pytest.raises(SystemExit, match=says):
        _variants([spec])


def test_ratios_are_medians_over_rounds_against_the_default():
    def row(bank, tick, tokens):
        return {"bank_ms": bank, "tick_ms": tick, "tokens_per_step": tokens}

    rounds = {
        DEFAULT: [row(100, 120, 200), row(90, 110, 200), row(300, 320, 200)],
        "half": [row(50, 70, 100), row(40, 60, 100), row(45, 65, 100)],
    }
    med = summarise(rounds)
    assert med[DEFAULT]["bank_ms"] == 100 and med[DEFAULT]["bank_vs_default"] == 1.0
    assert med["half"]["bank_vs_default"] == pytest.approx(45 / 100)
    assert med["half"]["tick_vs_default"] == pytest.approx(65 / 120)
    assert med["half"]["tokens_vs_default"] == 0.5

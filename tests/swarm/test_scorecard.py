"""Summary maths of the scorecard: medians, intervals, cost totals, survival curves, table."""

from __future__ import annotations

import math

import numpy as np
import pytest
from rich.console import Console

from swarm.scorecard import cost_totals, summarize, summarize_runs, survival_curve, table


def test_summarize_odd_count_median_and_interval():
    s = summarize([3.0, 1.0, 2.0])
    assert s["median"] == 2.0
    assert s["n"] == 3
    assert s["mean"] == 2.0
    # 2.5% / 97.5% quantiles with linear interpolation: 1 + 0.05 * 1 and 3 - 0.05 * 1
    assert s["lo"] == pytest.approx(1.05)
    assert s["hi"] == pytest.approx(2.95)


def test_summarize_matches_percentiles_on_many_values():
    vals = np.arange(101, dtype=float)  # 0..100
    s = summarize(vals)
    assert s["median"] == 50.0
    assert s["lo"] == pytest.approx(2.5)
    assert s["hi"] == pytest.approx(97.5)


def test_summarize_single_value_and_level():
    assert summarize([7])["lo"] == summarize([7])["hi"] == 7.0
    s = summarize(range(11), level=0.8)
    assert (s["lo"], s["hi"]) == (pytest.approx(1.0), pytest.approx(9.0))
    with pytest.raises(ValueError, match="level"):
        summarize([1.0], level=1.0)


def test_summarize_drops_non_finite_and_handles_empty():
    s = summarize([1.0, math.nan, 3.0, math.inf])
    assert s["n"] == 2 and s["median"] == 2.0
    assert summarize([]) == {"median": None, "lo": None, "hi": None, "mean": None, "n": 0}


def test_summarize_runs_covers_metrics_and_stats_and_bools():
    runs = [
        {"metrics": {"found": True, "time_to_find": 40}, "stats": {"wire_bytes": 100}},
        {"metrics": {"found": False, "time_to_find": 300}, "stats": {"wire_bytes": 300}},
        {"metrics": {"found": True, "time_to_find": 60}, "stats": {"wire_bytes": 200}},
    ]
    s = summarize_runs(runs)
    assert list(s) == ["found", "time_to_find", "wire_bytes"]
    assert s["found"]["mean"] == pytest.approx(2 / 3)  # success rate
    assert s["time_to_find"]["median"] == 60.0
    assert s["wire_bytes"]["median"] == 200.0


def test_cost_totals_sums_counters_and_keeps_sizes():
    stats = [
        {"params_per_brain": 1000, "brains": 16, "wire_bytes": 10, "cpu_seconds": 1.25},
        {"params_per_brain": 1000, "brains": 16, "wire_bytes": 30, "cpu_seconds": 0.5},
    ]
    tot = cost_totals(stats)
    assert tot == {"params_per_brain": 1000, "brains": 16, "cpu_seconds": 1.75, "wire_bytes": 40}


def test_survival_curve_kaplan_meier_with_censoring():
    # found at 2 and 5; one censored at the horizon 6; one censored (not found) at 3
    t, s = survival_curve([2, 5, 6, 3], [True, True, False, False], horizon=6)
    assert t.tolist() == list(range(7))
    # before 2: 1; at 2: 1 - 1/4 = .75; at 5: at risk {5, 6} -> .75 * (1 - 1/2) = .375
    assert s.tolist() == pytest.approx([1.0, 1.0, 0.75, 0.75, 0.75, 0.375, 0.375])
    assert np.all(np.diff(s) <= 0)


def test_survival_curve_rejects_bad_input():
    with pytest.raises(ValueError, match="differ in length"):
        survival_curve([1, 2], [True], horizon=5)
    with pytest.raises(ValueError, match="horizon"):
        survival_curve([], [], horizon=-1)


def test_table_renders_teams_and_headline_metrics():
    results = {
        "name": "demo",
        "scenario": "drone_search",
        "teams": {
            "swarm": {
                "runs": [{}, {}],
                "summary": {"found": summarize([1, 0]), "coverage": summarize([0.5, 0.7])},
                "params_per_brain": 4242,
                "wire_bytes": 123456,
            },
            "isolated": {"runs": [{}], "summary": {"found": summarize([0])}},
        },
    }
    console = Console(width=250, record=True)
    console.print(table(results))
    text = console.export_text()
    assert "swarm" in text and "isolated" in text
    assert "coverage" in text and "found" in text
    assert "4242" in text and "123k" in text
    assert "0.6 [0.505, 0.695]" in text  # coverage of swarm
    assert "0.50" in text  # found: success rate 1 of 2
    header = next(line for line in text.splitlines() if "swarm" in line)
    assert header.index("swarm") < header.index("isolated")  # teams are columns

"""Summary maths of the scorecard: medians, intervals, cost totals, survival curves, table."""

from __future__ import annotations

import math

import numpy as np
import pytest
from rich.console import Console

from swarm.scorecard import (
    HEADLINE_METRICS,
    METRICS,
    CheckpointRows,
    checkpoint_ticks,
    comparison,
    cost_totals,
    metric_spec,
    summarize,
    summarize_runs,
    survival_band,
    table,
    team_estimates,
)
from swarm.stats import Better


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


def test_survival_band_kaplan_meier_with_censoring():
    # found at 2 and 5; one censored at the horizon 6; one censored (not found) at 3
    t, s, lo, hi = survival_band([2, 5, 6, 3], [True, True, False, False], horizon=6)
    assert t.tolist() == list(range(7))
    # before 2: 1; at 2: 1 - 1/4 = .75; at 5: at risk {5, 6} -> .75 * (1 - 1/2) = .375
    assert s.tolist() == pytest.approx([1.0, 1.0, 0.75, 0.75, 0.75, 0.375, 0.375])
    assert np.all(np.diff(s) <= 0)
    assert np.all(lo <= s + 1e-12) and np.all(s <= hi + 1e-12)  # the band holds the curve


def test_survival_band_rejects_bad_input():
    with pytest.raises(ValueError, match="differ in length"):
        survival_band([1, 2], [True], horizon=5)
    with pytest.raises(ValueError, match="horizon"):
        survival_band([], [], horizon=-1)


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


def _run(seed, found, ttf, coverage, at=None):
    return {
        "seed": seed,
        "horizon": 40,
        "metrics": {"found": found, "time_to_find": ttf, "coverage": coverage, "ticks": ttf},
        "at_ticks": at or {},
    }


def test_every_headline_metric_has_a_direction_and_kind():
    for names in HEADLINE_METRICS.values():
        for name in names:
            assert name in METRICS, f"add a METRICS row for headline metric {name!r}"
    assert METRICS["time_to_find"].event == "found"
    assert metric_spec("something_new").better is Better.NEITHER


def test_checkpoint_ticks_and_rows_carry_the_last_row_forward():
    assert checkpoint_ticks(40) == (10, 20, 30, 40)
    assert checkpoint_ticks(2) == (1, 2)
    with pytest.raises(ValueError, match="horizon"):
        checkpoint_ticks(0)
    rows = CheckpointRows(40)
    for tick in range(1, 26):  # the mission ends at tick 25
        rows.add(tick, {"coverage": tick / 100})
    assert rows.rows() == {
        "10": {"coverage": 0.1},
        "20": {"coverage": 0.2},
        "30": {"coverage": 0.25},
        "40": {"coverage": 0.25},
    }
    assert CheckpointRows(None).rows() == {}


def test_team_estimates_use_the_metric_kinds():
    runs = [
        _run(0, True, 12, 0.5, {"20": {"coverage": 0.3, "found": 1.0}}),
        _run(1, False, 40, 0.7, {"20": {"coverage": 0.5, "found": 0.0}}),
        _run(2, True, 30, 0.6, {"20": {"coverage": 0.4, "found": 0.0}}),
    ]
    est = team_estimates(runs)
    ttf = est["end"]["time_to_find"]
    # KM: S(12) = 2/3, S(30) = 2/3 * 1/2 = 1/3 <= 1/2 (the censored run at 40 is not an event)
    assert (ttf["stat"], ttf["value"], ttf["events"]) == ("KM median", 30.0, 2)
    assert est["end"]["found"]["value"] == pytest.approx(2 / 3)
    assert est["end"]["found"]["interval"] == "95% Wilson CI"
    assert est["end"]["coverage"]["value"] == pytest.approx(0.6)
    assert est["at_ticks"]["20"]["coverage"]["value"] == pytest.approx(0.4)
    assert est["at_ticks"]["20"]["found"]["value"] == pytest.approx(1 / 3)


def test_comparison_pairs_seeds_against_the_reference():
    ref = [_run(s, False, 40, 0.2 + 0.01 * s) for s in range(6)]
    better = [_run(s, True, 10 + s, 0.5 + 0.02 * s) for s in range(6)]
    teams = {"swarm": {"runs": ref}, "isolated": {"runs": better[::-1]}}  # order must not matter
    comp = comparison(teams)
    assert comp["reference"] == "swarm" and set(comp["teams"]) == {"isolated"}
    cov = comp["teams"]["isolated"]["end"]["coverage"]
    assert cov["diff"] == pytest.approx(np.mean([0.3 + 0.01 * s for s in range(6)]))
    assert cov["n"] == 6 and cov["p"] == pytest.approx(2 / 64) and cov["winner"] == "isolated"
    ttf = comp["teams"]["isolated"]["end"]["time_to_find"]
    assert ttf["test"] == "log-rank" and ttf["winner"] == "isolated"
    assert comp["teams"]["isolated"]["end"]["ticks"]["winner"] is None  # no better direction
    assert comp["metrics"]["coverage"] == {"better": "higher", "kind": "continuous"}
    assert comparison(teams, reference="isolated")["teams"]["swarm"]["end"]["coverage"]["diff"] < 0
    assert comparison({"isolated": {"runs": better}})["reference"] == "isolated"
    assert comparison({})["teams"] == {}


def test_table_shows_intervals_differences_and_winners():
    ref = [_run(s, False, 40, 0.2 + 0.01 * s) for s in range(6)]
    better = [{**_run(s, True, 10 + s, 0.5 + 0.02 * s), "drones": 4} for s in range(6)]
    results = {"name": "demo", "scenario": "drone_search"}
    results["teams"] = {
        n: {"runs": r, "summary": summarize_runs(r), "estimates": team_estimates(r)}
        for n, r in (("swarm", ref), ("isolated", better))
    }
    results["comparison"] = comparison(results["teams"])
    console = Console(width=250, record=True)
    console.print(table(results))
    text = console.export_text()
    assert "95% bootstrap CI" in text and "Wilson" in text and "Kaplan–Meier" in text
    assert "coverage ↑" in text and "time_to_find ↓" in text
    assert "n.r." in text  # swarm never found the target: its KM median is not reached
    row = next(line for line in text.splitlines() if "Δ coverage ↑ vs swarm" in line)
    assert "(reference)" in row and "p=0.031 better" in row
    assert "drones" in text


def test_checkpoints_of_the_run_horizon_hold_a_longer_missions_rows_at_those_ticks():
    """A hand-made ticks table: a budget drone flying 4 x the run's 40 ticks is scored at the
    run's ticks 10, 20, 30 and 40, with the rows it had then (its own end is its `end`)."""
    table_rows = {t: {"coverage": t / 200, "found": float(t >= 25)} for t in range(1, 161)}
    rows = CheckpointRows(40)
    for tick, row in table_rows.items():
        rows.add(tick, row)
    assert rows.rows() == {str(t): table_rows[t] for t in (10, 20, 30, 40)}


def _cost_run(seed, flops, extra=None):
    stats = {"inference_flops": flops, "train_flops": 2 * flops, "wire_bytes": 100.0 * seed}
    return {**_run(seed, False, 40, 0.5), "drones": 4, "stats": {**stats, **(extra or {})}}


def test_costs_are_totalled_estimated_and_compared_lower_is_better():
    ref = [_cost_run(s, 1000.0 + s) for s in range(6)]
    cheap = [_cost_run(s, 10.0, {"host_bytes": 7.0}) for s in range(6)]
    totals = cost_totals([r["stats"] for r in cheap])
    assert totals["inference_flops"] == 60 and totals["train_flops"] == 120  # summed
    assert totals["host_bytes"] == 7  # a counter this module does not know: read as it is
    assert metric_spec("host_bytes").better is Better.LOWER and metric_spec("host_bytes").cost
    assert metric_spec("train_flops").better is Better.LOWER
    est = team_estimates(cheap)["cost"]
    assert est["inference_flops"]["value"] == 10.0 and est["drones"]["value"] == 4
    comp = comparison({"swarm": {"runs": ref}, "scripted": {"runs": cheap}})
    d = comp["teams"]["scripted"]["cost"]["inference_flops"]
    assert d["diff"] == pytest.approx(10 - 1002.5) and d["winner"] == "scripted"
    assert comp["metrics"]["train_flops"] == {"better": "lower", "kind": "continuous"}
    results = {"name": "demo", "scenario": "drone_search"}
    results["teams"] = {
        n: {"runs": r, "estimates": team_estimates(r), **cost_totals([x["stats"] for x in r])}
        for n, r in (("swarm", ref), ("scripted", cheap))
    }
    results["comparison"] = comp
    console = Console(width=250, record=True)
    console.print(table(results))
    text = console.export_text()
    for row in ("inference_flops ↓ per run", "train_flops ↓ per run", "host_bytes ↓ per run"):
        assert row in text
    row = next(line for line in text.splitlines() if "Δ inference_flops ↓ vs swarm" in line)
    assert "better" in row


def test_a_share_of_targets_found_is_a_mean_not_a_wilson_rate():
    runs = [{"metrics": {"found": v}} for v in (0.5, 1.0, 0.0, 0.5, 1.0)]
    est = team_estimates(runs)["end"]["found"]
    assert est["stat"] == "mean" and est["value"] == pytest.approx(0.6)
    binary = team_estimates([{"metrics": {"found": v}} for v in (1.0, 0.0)])["end"]["found"]
    assert binary["stat"] == "rate" and binary["interval"] == "95% Wilson CI"


def test_every_metric_a_world_reports_has_a_direction():
    """Each name in a world's `metrics()` and per-tick row is a `METRICS` row (the tick
    counter aside), so no scorecard row is left without a better direction by accident."""
    from scenarios import REGISTRY

    for name, cls in REGISTRY.items():
        world = cls(cls.Config(height=16, width=16, max_alt_m=40.0), n_drones=2, seed=0)
        names = (set(world.metrics()) | set(world.tick_metrics())) - {"tick"}
        assert names <= set(METRICS), (name, sorted(names - set(METRICS)))

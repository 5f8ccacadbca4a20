"""How plots look: every metric, tick column and cost has the unit docs/scenarios.md gives
it; each team a distinct style; legends outside the axes; descriptive metrics named by the
scorecard's table."""

from __future__ import annotations

from pathlib import Path

import pytest

from swarm.loop import ADDITIVE_STATS
from swarm.plot_style import UNITS, axis_label, descriptive, finish, new_figure, team_styles
from swarm.scorecard import COST_KEYS, METRICS

DOCS = Path(__file__).resolve().parents[2] / "docs" / "scenarios.md"


def _documented_units() -> dict[str, str]:
    """{metric: unit} from the table of docs/scenarios.md "Metrics"."""
    text = DOCS.read_text().split("## Metrics", 1)[1].split("\n## ", 1)[0]
    out = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0].startswith("`"):
            for name in cells[0].replace("`", "").split(","):
                out[name.strip()] = cells[3]
    return out


def test_units_are_the_ones_the_docs_give():
    documented = _documented_units()
    assert set(METRICS) <= set(documented)  # the table is complete (test_schema checks more)
    assert {m: UNITS.get(m) for m in documented} == documented


@pytest.mark.parametrize("scenario", ["drone_search", "litter_patrol"])
def test_every_metric_and_tick_column_a_world_emits_has_a_unit(scenario):
    from scenarios import REGISTRY

    cls = REGISTRY[scenario]
    world = cls(cls.Config(height=16, width=16), n_drones=4, seed=0)
    names = set(world.metrics()) | set(world.tick_metrics()) - {"tick"}
    assert names - set(UNITS) == set()


def test_every_scorecard_metric_and_cost_has_a_unit():
    names = set(METRICS) | set(COST_KEYS) | set(ADDITIVE_STATS) | {"wall_seconds"}
    assert names - set(UNITS) == set()
    assert axis_label("wire_bytes") == "wire_bytes (bytes)"
    assert axis_label("made_up") == "made_up (unit not documented)"


def test_descriptive_metrics_are_those_without_a_better_direction():
    assert descriptive("inspections") and descriptive("ticks")
    assert not descriptive("false_alarms") and not descriptive("coverage")
    assert not descriptive("active_litter")  # not in the table: drawn, not hidden


def test_team_styles_differ_and_the_first_is_drawn_widest_below():
    styles = team_styles(["a", "b", "c", "d", "e"])
    looks = {(s.color, s.linestyle, s.marker) for s in styles.values()}
    assert len(looks) == 5
    widths = [s.linewidth for s in styles.values()]
    assert widths == sorted(widths, reverse=True) and widths[0] > widths[-1]
    assert [s.zorder for s in styles.values()] == sorted(s.zorder for s in styles.values())


def test_legend_sits_outside_every_axes_and_the_caption_below():
    fig, axes = new_figure("t", "time (ticks)", "coverage (fraction 0–1)", panels=4)
    for ax in axes:
        ax.plot([0, 1], [0, 1], label="b")
        ax.plot([0, 1], [1, 0], label="a")
    finish(fig, "what the band is", order=["a"])
    fig.canvas.draw()
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["a", "b"]  # order first, no repeats
    for ax in axes:
        assert not legend.get_window_extent().overlaps(ax.get_window_extent())
    assert fig.get_supxlabel() == "what the band is"
    assert len(axes) == 4 and len(fig.axes) == 4  # 3 to a row; the spare cell removed

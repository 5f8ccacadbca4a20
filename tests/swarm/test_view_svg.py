"""The SVG drawing of a recorded mission: one element per drone and per edge, at any tick."""

from __future__ import annotations

import re

import pytest

from swarm.trajectory import load
from swarm.view_svg import curves_svg, edge_width, map_svg, terrain_png
from tests.swarm.recorded_runs import record_missions


@pytest.fixture(scope="module")
def swarm(tmp_path_factory):
    run = tmp_path_factory.mktemp("svg")
    return load(record_missions(run, ["swarm"])["swarm"][1])


def test_map_has_one_circle_per_drone_at_its_recorded_cell(swarm):
    uri = terrain_png(swarm)
    assert uri.startswith("data:image/png;base64,")
    for t in (0, 7, swarm.ticks):
        svg = map_svg(swarm, t, uri)
        rows = re.findall(r'class="drone[^"]*" data-drone="(\d+)" data-row="(\d+)" '
                          r'data-col="(\d+)"', svg)  # fmt: skip
        got = sorted((int(i), int(r), int(c)) for i, r, c in rows)
        want = [(i, int(r), int(c)) for i, (r, c) in enumerate(swarm["pos"][t].tolist())]
        assert got == want
        assert f'data-tick="{t}"' in svg


def test_map_draws_exactly_the_edges_of_the_last_round(swarm):
    uri = terrain_png(swarm)
    for t in (4, 5, 12):
        svg = map_svg(swarm, t, uri)
        n = len(swarm.edges_at(t)["src"])
        assert svg.count('<line class="edge"') == n
        assert f'data-edges="{n}"' in svg
        assert f'data-round="{swarm.round_at(t)}"' in svg
    assert swarm.round_at(4) == -1 and swarm.round_at(5) == 0  # sync_every 5


def test_edge_width_grows_with_bytes_and_is_bounded():
    assert edge_width(0) < edge_width(1000) < edge_width(10**6) <= 0.6


def test_curves_have_a_cursor_at_the_tick(swarm):
    svg = curves_svg({"swarm": swarm}, "coverage", 9)
    assert 'class="cursor"' in svg and svg.count('class="curve"') == 1
    assert 'data-tick="9"' in svg
    assert curves_svg({"swarm": swarm}, "field_auc_curve", 0).count('class="curve"') == 1

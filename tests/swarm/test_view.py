"""`swarm.run --view`: the run records live and serves the viewer beside it, then stops it."""

from __future__ import annotations

import json

import swarm.view
from swarm.run import main
from swarm.trajectory import load
from tests.swarm.recorded_runs import SMOKE


def test_run_with_view_records_live_and_stops_its_viewer(tmp_path, monkeypatch, capsys):
    started = []

    class Spy(swarm.view.LiveViewer):
        def __init__(self, run_dir):
            super().__init__(run_dir)
            started.append(self)

    monkeypatch.setattr(swarm.view, "LiveViewer", Spy)
    out = tmp_path / "run"
    args = [str(SMOKE), "--out", str(out), "--local", "--quiet", "--teams", "swarm",
            "--seeds", "1", "--ticks", "15", "--set", "output.record=false", "--view"]  # fmt: skip
    assert main(args) == 0
    assert "live view: http://127.0.0.1:" in capsys.readouterr().out
    assert len(started) == 1 and started[0].proc.poll() is not None  # stopped with the run
    doc = json.loads((out / "results.json").read_text())
    assert doc["config"]["output"]["record"] is True and doc["config"]["output"]["live"] is True
    rec = doc["teams"]["swarm"]["runs"][0]["trajectory"]
    t = load(out / rec)
    assert t.ticks == 15 and t.meta["live"] is False

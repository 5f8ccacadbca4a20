"""The progress line: headline of tick metrics and a bar per team x seed."""

from __future__ import annotations

from rich.console import Console

from swarm.progress import RunProgress, headline


def test_headline_prefers_mission_keys_and_formats_numbers():
    row = {"energy": 3.2, "coverage": 0.31234, "found": False, "inspections": 2.0}
    assert headline(row) == "found=0 coverage=0.312 inspections=2"
    assert headline({"zeta": 1.5}) == "zeta=1.5"  # unknown scenario: whatever it reports


def test_bars_show_team_seed_and_final_headline():
    console = Console(width=120, record=True, force_terminal=False)
    with RunProgress(console) as prog:
        prog.start("swarm", 3, horizon=10)
        for tick in range(1, 5):
            prog.update(tick, {"found": 0.0, "coverage": tick / 10})
        prog.done("found=1")  # ended early, at tick 4 of 10
    text = console.export_text()
    assert "swarm" in text and "seed 3" in text
    assert "4/4" in text and "found=1" in text


def test_disabled_progress_prints_nothing():
    console = Console(width=120, record=True)
    with RunProgress(console, enabled=False) as prog:
        prog.start("isolated", 0, horizon=5)
        prog.update(5, {"found": 1.0})
        prog.done("done")
    assert console.export_text() == ""


def test_overall_bar_counts_runs_and_pretraining_is_its_own_step():
    console = Console(width=160, record=True, force_terminal=False)
    with RunProgress(console) as prog:
        prog.plan(3)
        prog.pretraining("small", "/tmp/cache-dir")
        prog.pretrained("trained in 2.0 s: /tmp/cache-dir/yan-1.pt")
        prog.start("swarm", 0, horizon=2)
        prog.update(2, {"found": 1.0})
        prog.done("found=1")
        prog.skip(1)  # a run finished elsewhere (a resumed sweep point)
        assert prog.overall == (2, 3)
    text = console.export_text()
    assert "all runs" in text and "2/3" in text
    assert "pretrain small" in text and "/tmp/cache-dir/yan-1.pt" in text

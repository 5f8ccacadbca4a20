"""Exporting a recorded mission to a video file with matplotlib's animation writers."""

from __future__ import annotations

import pytest
from PIL import Image

from swarm.view import main
from swarm.view_export import export
from tests.swarm.recorded_runs import record_missions


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    run = tmp_path_factory.mktemp("export")
    record_missions(run, ["swarm", "isolated"])
    return run


def test_gif_has_one_frame_per_exported_tick(run, tmp_path):
    paths = [run / "trajectories" / f"{t}-s0.npz" for t in ("swarm", "isolated")]
    out, note = export(paths, tmp_path / "m.gif", fps=5, every=6)
    assert out.exists() and note is None
    with Image.open(out) as im:
        assert im.n_frames == len(range(0, 24 + 1, 6))
        assert im.size[0] > im.size[1]  # two panels side by side


def test_cli_exports_and_names_what_is_missing(run, tmp_path, capsys):
    assert main([str(run), "--export", str(tmp_path / "a.gif"), "--every", "12"]) == 0
    assert (tmp_path / "a.gif").exists()
    assert main([str(run), "--export", str(tmp_path / "b.gif"), "--teams", "central"]) == 1
    assert "no recording of ['central'] for seed 0" in capsys.readouterr().err


def test_cli_says_how_to_record_when_a_run_has_no_recordings(tmp_path, capsys):
    assert main([str(tmp_path)]) == 1
    assert "output.record: true" in capsys.readouterr().err

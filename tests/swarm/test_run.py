"""The CLI end to end: exit codes, outputs, interruption, determinism, and a run through Ray."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import swarm.run as run_mod
from swarm.run import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_INVALID, main

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT / "scenarios" / "smoke.yaml"
# a smaller slice of the smoke scenario keeps each test within seconds
FAST = ["--ticks", "24", "--quiet"]


def _results(out: Path) -> dict:
    return json.loads((out / "results.json").read_text())


def _outcome(doc: dict) -> dict:
    """results.json without what legitimately differs between two identical runs (times)."""
    teams = {}
    for name, team in doc["teams"].items():
        runs = []
        for r in team["runs"]:
            stats = {k: v for k, v in r["stats"].items() if k != "cpu_seconds"}
            runs.append({**r, "stats": stats, "wall_seconds": None})
        teams[name] = runs
    return teams


@pytest.fixture
def no_runtime(monkeypatch):
    """Fail the test if anything tries to start Ray or a host pool."""
    # import first: modules that bind start_ray at import must get the real one, for later tests
    import swarm.pool
    import swarm.raylife

    def forbidden(*a, **k):
        raise AssertionError("Ray or the host pool was started for an invalid file")

    monkeypatch.setattr(swarm.raylife, "start_ray", forbidden)
    monkeypatch.setattr(swarm.pool, "HostPool", forbidden)


def test_invalid_file_exits_1_before_ray(tmp_path, capsys, no_runtime):
    bad = tmp_path / "bad.yaml"
    bad.write_text("scenario: drone_search\ndrones: 4\nseedz: 2\n")
    code = main([str(bad), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == EXIT_INVALID
    assert f"{bad}:3:" in err and "seedz" in err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()  # nothing written, nothing started


def test_bad_value_via_subprocess_has_no_traceback(tmp_path):
    bad = tmp_path / "neg.yaml"
    bad.write_text("scenario: drone_search\ndrones: -3\n")
    proc = subprocess.run(
        [sys.executable, "-m", "swarm.run", str(bad)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == EXIT_INVALID, proc.stderr
    assert f"{bad}:2:" in proc.stderr and "drones" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""  # no progress, no scorecard: nothing ran


def test_missing_file_exits_1(tmp_path, capsys, no_runtime):
    assert main([str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "out")]) == EXIT_INVALID
    err = capsys.readouterr().err
    assert "nope.yaml" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_smoke_local_writes_every_output(tmp_path):
    text = SMOKE.read_text()
    assert "plots: false" in text  # CI skips plots; this test wants them
    smoke = tmp_path / "smoke.yaml"
    smoke.write_text(text.replace("plots: false", "plots: true"))
    out = tmp_path / "run"
    code = main([str(smoke), "--local", "--out", str(out), "--seeds", "1", *FAST])
    assert code == 0
    doc = _results(out)
    assert doc["schema_version"] == 1 and doc["status"] == "complete"
    assert doc["scenario"] == "drone_search" and doc["seeds"] == [0]
    assert set(doc["teams"]) == set(doc["config"]["teams"])
    for name, team in doc["teams"].items():
        run = team["runs"][0]
        for key in ("time_to_find", "found", "coverage", "false_alarms", "inspections", "auc"):
            assert key in run["metrics"], (name, key)
        for key in ("params_per_brain", "brains", "train_steps", "cpu_seconds"):
            assert key in team, (name, key)
        for key in ("wire_messages", "wire_bytes", "host_socket_bytes", "rejected_messages"):
            assert team[key] >= 0
        assert team["summary"]["coverage"]["n"] == 1
        budget = 4 if name == "single_large_budget" else 1  # N x the flight time
        assert 1 <= run["ticks"] <= 24 * budget
        assert set(run["at_ticks"]) == {"6", "12", "18", "24"}  # the run's ticks, every team
    assert doc["teams"]["single_large"]["brains"] == 1
    assert doc["teams"]["scripted"]["brains"] == 0 and doc["teams"]["scripted"]["train_steps"] == 0
    if "swarm" in doc["teams"]:
        assert doc["teams"]["swarm"]["wire_bytes"] > 0
    assert doc["ray"]["backend"] == "local"
    rows = list(csv.DictReader((out / "ticks.csv").open()))
    assert rows and {"team", "seed", "tick"} <= set(rows[0])
    assert {r["team"] for r in rows} == set(doc["teams"])
    pngs = list(out.glob("*.png"))
    assert {"survival.png", "auc.png", "tick_coverage.png"} <= {p.name for p in pngs}
    assert all(p.stat().st_size > 1000 for p in pngs)
    assert (out / "config.yaml").read_text().startswith("name:")
    assert "seed 0" in (out / "run.log").read_text()


def test_same_seed_same_results_local(tmp_path):
    teams = "swarm,single_large,scripted"
    args = [str(SMOKE), "--local", "--seeds", "1", "--teams", teams, *FAST]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    assert _outcome(_results(tmp_path / "a")) == _outcome(_results(tmp_path / "b"))


def _raise_on_mission(monkeypatch, n: int, exc) -> list:
    """Make the run's `n`-th mission raise `exc` (the others fly); returns the (team, seed)
    of every mission started, in order."""
    real, calls = run_mod.run_episode, []

    def cut(*a, **k):
        calls.append(a[1:3])
        if len(calls) == n:
            raise exc
        return real(*a, **k)

    monkeypatch.setattr(run_mod, "run_episode", cut)
    return calls


@pytest.mark.parametrize(
    ("exc", "code", "status"),
    [
        (KeyboardInterrupt(), EXIT_INTERRUPTED, "interrupted"),
        (RuntimeError("host 1 died"), EXIT_FAILED, "failed"),
    ],
)
def test_interruption_keeps_completed_runs(tmp_path, monkeypatch, capsys, exc, code, status):
    _raise_on_mission(monkeypatch, 2, exc)
    out = tmp_path / "run"
    argv = [str(SMOKE), "--local", "--out", str(out), "--seeds", "2", "--teams", "isolated"]
    assert main([*argv, *FAST]) == code
    doc = _results(out)
    assert doc["status"] == status
    assert [r["seed"] for r in doc["teams"]["isolated"]["runs"]] == [0]
    err = capsys.readouterr().err
    assert f"run {status}" in err and "1 completed" in err and "Traceback" not in err


@pytest.mark.ray
def test_smoke_through_ray_matches_local(tmp_path, ray_session):
    import ray

    # short: Ray host actors run at nice 15, so on a busy machine they are slow to start
    args = [str(SMOKE), "--seeds", "1", "--teams", "swarm,central", "--ticks", "12", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "ray")]) == 0
    assert ray.is_initialized()  # the session's Ray is not ours to stop
    doc = _results(tmp_path / "ray")
    assert doc["ray"]["backend"] == "ray" and doc["ray"]["hosts"] >= 1
    assert doc["ray"]["nodes"] >= 1
    assert main([*args, "--local", "--out", str(tmp_path / "local")]) == 0
    assert _outcome(doc) == _outcome(_results(tmp_path / "local"))


def test_litter_patrol_every_team_end_to_end(tmp_path):
    """The patrol scenario through the whole loop: patrol metrics per team, zero violations
    by the brains' policy, and the swarm team's radio topology really moving bytes."""
    text = (ROOT / "scenarios" / "litter_patrol.yaml").read_text()
    assert "drones: 16" in text
    patrol = tmp_path / "patrol.yaml"
    patrol.write_text(text.replace("drones: 16", "drones: 4"))  # CI-size
    out = tmp_path / "run"
    assert main([str(patrol), "--local", "--out", str(out), "--seeds", "1", *FAST]) == 0
    doc = _results(out)
    assert doc["scenario"] == "litter_patrol" and doc["status"] == "complete"
    assert list(doc["teams"]) == doc["config"]["teams"]
    assert {"single_large_budget", "scripted", "swarm_no_beliefs"} <= set(doc["teams"])
    for name, team in doc["teams"].items():
        metrics = team["runs"][0]["metrics"]
        for key in ("avg_idleness", "worst_idleness", "precision", "recall", "energy"):
            assert key in metrics, (name, key)
        assert metrics["avg_idleness"] >= 0 and metrics["worst_idleness"] >= 0
        assert metrics["altitude_violations"] == 0 and metrics["nofly_violations"] == 0, name
    assert doc["teams"]["swarm"]["wire_bytes"] > 0
    assert doc["teams"]["isolated"]["wire_bytes"] == 0


# Seeds of a run the signal tests cut after its first run.
SIGNAL_SEEDS = 6


def _start_run(out: Path, *extra: str) -> subprocess.Popen:
    argv = [sys.executable, "-m", "swarm.run", str(SMOKE), "--out", str(out), "--quiet"]
    return subprocess.Popen(
        [*argv, "--teams", "isolated", "--seeds", str(SIGNAL_SEEDS), "--ticks", "24", *extra],
        # Ctrl-C's disposition, whatever this test inherited: a shell without job control
        # starts background jobs (a CI script run with `&`) with SIGINT ignored, and Python
        # then never raises KeyboardInterrupt, so the run would finish with rc 0.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _signal_after_first_run(proc: subprocess.Popen, out: Path, sig: int) -> tuple[int, str]:
    """Send `sig` once results.json holds a completed run; (exit code, stderr)."""
    import time

    deadline = time.monotonic() + 240  # a guard against a hang, not a measurement
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if _results(out)["teams"].get("isolated", {}).get("runs"):
                break
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            pass
        time.sleep(0.05)
    assert proc.poll() is None, f"the run ended before the signal: {proc.stderr.read()}"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=240)
    return proc.returncode, err


@pytest.mark.parametrize(
    ("sig", "code"),
    [(signal.SIGTERM, run_mod.EXIT_TERMINATED), (signal.SIGHUP, run_mod.EXIT_HANGUP)],
)
def test_sigterm_and_sighup_stop_like_ctrl_c(tmp_path, sig, code):
    out = tmp_path / "run"
    proc = _start_run(out, "--local")
    rc, err = _signal_after_first_run(proc, out, sig)
    assert rc == code, err
    doc = _results(out)
    assert doc["status"] == "interrupted" and signal.Signals(sig).name in doc["error"]
    runs = doc["teams"]["isolated"]["runs"]
    assert 1 <= len(runs) < SIGNAL_SEEDS and [r["seed"] for r in runs] == list(range(len(runs)))
    assert "run interrupted" in err and "Traceback" not in err


@pytest.mark.ray
def test_sigterm_through_ray_is_not_taken_by_rays_own_handler(tmp_path):
    """ray.init installs a SIGTERM handler (sys.exit): the run must still stop in order."""
    out = tmp_path / "run"
    rc, err = _signal_after_first_run(_start_run(out), out, signal.SIGTERM)
    assert rc == run_mod.EXIT_TERMINATED, err
    assert _results(out)["status"] == "interrupted"


def test_a_run_cut_short_keeps_whole_seeds_of_every_team(tmp_path, monkeypatch):
    """Seed by seed, every team in turn: cut after three missions, both teams have seed 0."""
    calls = _raise_on_mission(monkeypatch, 3, KeyboardInterrupt)
    out = tmp_path / "run"
    teams = ["--teams", "isolated,scripted"]
    argv = [str(SMOKE), "--local", "--out", str(out), "--seeds", "2", *teams]
    assert main([*argv, *FAST]) == EXIT_INTERRUPTED
    assert calls == [("isolated", 0), ("scripted", 0), ("isolated", 1)]
    runs = _results(out)["teams"]
    assert [[r["seed"] for r in runs[t]["runs"]] for t in ("isolated", "scripted")] == [[0], [0]]


def test_complete_only_when_every_planned_run_completed(tmp_path, monkeypatch, capsys):
    real = run_mod.RunOutputs.record

    def drop_second(self, team, run):  # a record lost without an exception
        if run["seed"] != 1:
            real(self, team, run)

    monkeypatch.setattr(run_mod.RunOutputs, "record", drop_second)
    out = tmp_path / "run"
    argv = [str(SMOKE), "--local", "--out", str(out), "--seeds", "2", "--teams", "isolated"]
    assert main([*argv, *FAST]) == EXIT_FAILED
    doc = _results(out)
    assert doc["status"] == "failed" and doc["error"] == "1 of 2 planned runs completed"


def test_bad_flag_value_is_invalid_input_and_names_the_flag(tmp_path, capsys, no_runtime):
    assert main([str(SMOKE), "--seeds", "abc"]) == EXIT_INVALID
    assert "--seeds" in capsys.readouterr().err
    assert main([str(SMOKE), "--ticks", "3", "--out", str(tmp_path / "o")]) == EXIT_INVALID
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["--ticks 3: inspect_ticks must be shorter than the horizon"]
    assert main([str(SMOKE), "--seeds", "100000", "--out", str(tmp_path / "o")]) == EXIT_INVALID
    assert "--seeds 100000: a seed count must be in 1..10000" in capsys.readouterr().err


def test_reused_out_folder_is_refused_and_left_alone(tmp_path, capsys):
    out = tmp_path / "run"
    argv = [str(SMOKE), "--local", "--out", str(out), "--seeds", "1", "--teams", "isolated"]
    assert main([*argv, *FAST]) == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}  # tb/ holds folders
    capsys.readouterr()
    assert main([*argv, *FAST]) == EXIT_INVALID
    err = capsys.readouterr().err
    assert "already holds a run" in err and "--out" in err
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_full_disk_fails_with_one_line_and_a_valid_failed_results(tmp_path, monkeypatch, capsys):
    import errno

    real = run_mod.RunOutputs.tick

    def full_after_first_run(self, team, seed, *a):
        if seed == 1:  # the disk fills up during the second run
            raise OSError(errno.ENOSPC, "No space left on device")
        real(self, team, seed, *a)

    monkeypatch.setattr(run_mod.RunOutputs, "tick", full_after_first_run)
    out = tmp_path / "run"
    argv = [str(SMOKE), "--local", "--out", str(out), "--seeds", "2", "--teams", "isolated"]
    assert main([*argv, *FAST]) == EXIT_FAILED
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "No space left on device" in err[0], err
    doc = _results(out)
    assert doc["status"] == "failed" and "No space left" in doc["error"]
    assert [r["seed"] for r in doc["teams"]["isolated"]["runs"]] == [0]


def test_variants_fly_with_their_own_overrides(tmp_path):
    smoke = SMOKE.read_text()
    teams = next(line for line in smoke.splitlines() if line.startswith("teams:"))
    text = smoke.replace(teams, "teams: [swarm, frozen_swarm, swarm_no_beliefs, five_isolated]")
    text += (
        "variants:\n"
        "  - {name: frozen_swarm, base: swarm, learner: {enabled: false}}\n"
        "  - {name: swarm_no_beliefs, base: swarm, protocol: {share_beliefs: false}}\n"
        "  - {name: five_isolated, base: isolated, drones: 5}\n"
    )
    path = tmp_path / "variants.yaml"
    path.write_text(text)
    out = tmp_path / "run"
    assert main([str(path), "--local", "--out", str(out), "--seeds", "2", *FAST]) == 0
    teams = _results(out)["teams"]
    assert teams["swarm"]["train_steps"] > 0 and teams["frozen_swarm"]["train_steps"] == 0
    # no BELIEF messages: fewer messages and bytes than the same swarm sharing beliefs
    assert 0 < teams["swarm_no_beliefs"]["wire_messages"] < teams["swarm"]["wire_messages"]
    assert 0 < teams["swarm_no_beliefs"]["wire_bytes"] < teams["swarm"]["wire_bytes"]
    assert teams["five_isolated"]["brains"] == 5 and teams["five_isolated"]["wire_bytes"] == 0
    assert [r["drones"] for r in teams["five_isolated"]["runs"]] == [5, 5]
    comp = _results(out)["comparison"]
    assert comp["reference"] == "swarm"
    assert set(comp["teams"]) == {"frozen_swarm", "swarm_no_beliefs", "five_isolated"}
    assert comp["teams"]["frozen_swarm"]["end"]["coverage"]["n"] == 2


# -- host-count invariance (docs/architecture.md) ---------------------------------------------
# 6 drones: 1, 2 and 3 hosts hold 6, 3 and 2 brains each
INVARIANCE = ["--seeds", "1", "--ticks", "10", "--quiet", "--set", "drones=6"]


def _placement_free(node):
    """results.json's teams and comparison without what may depend on placement or time:
    timing fields and host-socket traffic (simulator overhead)."""
    from swarm.scorecard import TIME_KEYS

    if isinstance(node, dict):
        return {
            k: _placement_free(v)
            for k, v in node.items()
            if k not in TIME_KEYS and not k.startswith("host_socket")
        }
    if isinstance(node, list):
        return [_placement_free(v) for v in node]
    return node


def _invariant_runs(tmp_path: Path, *extra: str) -> list[dict]:
    docs = []
    for per_host in (6, 3, 2):  # 1, 2 and 3 hosts
        out = tmp_path / f"h{per_host}"
        argv = [str(SMOKE), *INVARIANCE, "--set", f"hosts.agents_per_host={per_host}", *extra]
        assert main([*argv, "--out", str(out)]) == 0
        docs.append(_results(out))
    assert [d["ray"]["hosts"] for d in docs] == [1, 2, 3]
    return docs


def _assert_same_results(docs: list[dict]) -> None:
    assert set(docs[0]["teams"]) == set(docs[0]["config"]["teams"])
    assert {"swarm", "central", "single_large_budget", "scripted"} <= set(docs[0]["teams"])
    first = _placement_free({"teams": docs[0]["teams"], "comparison": docs[0]["comparison"]})
    for doc in docs[1:]:
        other = _placement_free({"teams": doc["teams"], "comparison": doc["comparison"]})
        for team in first["teams"]:  # per team first: a failure names the team
            assert other["teams"][team] == first["teams"][team], team
        assert other == first
    swarm = docs[0]["teams"]["swarm"]
    assert swarm["wire_bytes"] > 0 and swarm["wire_messages"] > 0  # something was compared


def _assert_overhead_differs(docs: list[dict]) -> None:
    sockets = [d["teams"]["swarm"]["host_socket_bytes"] for d in docs]
    assert len(set(sockets)) == 3  # the overhead does depend on the hosts; the results do not


def test_results_do_not_depend_on_the_number_of_local_hosts(tmp_path):
    docs = _invariant_runs(tmp_path, "--local")
    _assert_same_results(docs)
    _assert_overhead_differs(docs)


@pytest.mark.ray
def test_results_do_not_depend_on_the_number_of_ray_hosts(tmp_path, ray_session):
    docs = _invariant_runs(tmp_path)
    assert all(d["ray"]["backend"] == "ray" for d in docs)
    _assert_same_results(docs)
    _assert_overhead_differs(docs)
    local = tmp_path / "local"  # and Ray gives what the in-process hosts give
    assert main([str(SMOKE), *INVARIANCE, "--local", "--out", str(local)]) == 0
    _assert_same_results([docs[0], _results(local)])


def test_costs_and_fixed_tick_metrics_are_what_the_counts_and_ticks_csv_say(tmp_path):
    """Every team's FLOPs are the formula of docs/model.md on its counted ticks and steps,
    and its `at_ticks` rows are the ticks.csv rows at the run's fixed ticks."""
    from agents.config import TRAIN_FLOPS_PER_FORWARD, forward_flops, train_tokens
    from scenarios.policies import FIXED_DETECTOR_FLOPS
    from swarm.config import load_config
    from swarm.host import model_for
    from swarm.loop import make_world

    out = tmp_path / "run"
    teams = "swarm,central,single_large_budget,scripted"
    argv = [str(SMOKE), "--local", "--out", str(out), "--seeds", "1", "--teams", teams]
    assert main([*argv, "--set", "output.csv_every=1", *FAST]) == 0
    doc = _results(out)
    cfg = load_config(SMOKE, {"ticks": 24})
    spec = make_world(cfg, 1, 0).token_spec
    small = forward_flops(model_for(cfg.model.small, spec))
    large = forward_flops(model_for(cfg.large_model(), spec))
    per_token = {"swarm": small, "central": large, "single_large_budget": large}
    streams = {"swarm": 1, "central": 4, "single_large_budget": 1}
    for name in ("swarm", "central", "single_large_budget"):
        run = doc["teams"][name]["runs"][0]
        stats = run["stats"]
        assert stats["inference_flops"] == per_token[name] * run["drones"] * run["ticks"]
        step = TRAIN_FLOPS_PER_FORWARD * per_token[name] * train_tokens(cfg.learner, streams[name])
        assert stats["train_steps"] > 0 and stats["train_flops"] == step * stats["train_steps"]
    scripted = doc["teams"]["scripted"]["runs"][0]
    assert scripted["stats"]["inference_flops"] == FIXED_DETECTOR_FLOPS * 4 * scripted["ticks"]
    assert scripted["stats"]["train_flops"] == 0
    budget = doc["teams"]["single_large_budget"]["runs"][0]
    assert budget["horizon"] == 4 * 24 and budget["drones"] == 1
    rows = list(csv.DictReader((out / "ticks.csv").open()))
    for name, team in doc["teams"].items():
        mine = {int(r["tick"]): r for r in rows if r["team"] == name and r["seed"] == "0"}
        for tick, row in team["runs"][0]["at_ticks"].items():
            at = min(int(tick), max(mine))  # a mission that ended keeps its last row
            for key, value in row.items():  # NaN (no field AUC yet) is null in JSON
                want = float("nan") if value is None else value
                assert float(mine[at][key]) == pytest.approx(want, nan_ok=True), (name, tick, key)
        est = team["estimates"]
        assert (
            est["cost"]["inference_flops"]["value"] == team["runs"][0]["stats"]["inference_flops"]
        )
        assert set(est["at_ticks"]) == {"6", "12", "18", "24"}
    diffs = doc["comparison"]["teams"]["scripted"]["cost"]
    assert diffs["train_flops"]["better"] == "lower" and diffs["train_flops"]["diff"] < 0


def test_resume_after_sigint_flies_only_the_remaining_runs(tmp_path, capsys):
    out = tmp_path / "run"
    rc, err = _signal_after_first_run(_start_run(out, "--local"), out, signal.SIGINT)
    assert rc == EXIT_INTERRUPTED, err
    before = _results(out)["teams"]["isolated"]["runs"]
    assert 1 <= len(before) < SIGNAL_SEEDS
    flags = ["--teams", "isolated", "--seeds", str(SIGNAL_SEEDS), "--ticks", "24", "--quiet"]
    flags.append("--local")
    # another config is refused, and the folder is left as it was
    assert main([str(SMOKE), *flags, "--set", "world.horizon=30", "--resume", str(out)]) == 1
    assert "differs at world.horizon" in capsys.readouterr().err
    assert _results(out)["teams"]["isolated"]["runs"] == before
    assert main([str(SMOKE), *flags, "--resume", str(out)]) == 0
    doc = _results(out)
    runs = doc["teams"]["isolated"]["runs"]
    assert doc["status"] == "complete" and [r["seed"] for r in runs] == list(range(SIGNAL_SEEDS))
    assert runs[: len(before)] == before  # kept as they were (their wall_seconds too)
    with (out / "ticks.csv").open() as fh:
        keys = [(r["team"], r["seed"], r["tick"]) for r in csv.DictReader(fh)]
    assert len(keys) == len(set(keys))  # the cut-short run's rows did not stay twice
    assert {int(s) for _, s, _ in keys} == set(range(SIGNAL_SEEDS))

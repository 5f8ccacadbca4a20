"""Mission recordings: what a recorded smoke mission holds, checked against the run itself."""

from __future__ import annotations

import numpy as np
import pytest

from protocols.messages import Kind
from swarm.trajectory import (
    CENTRE,
    MAX_BELIEF_BYTES,
    SMALL_RUN_DRONE_TICKS,
    EventKind,
    belief_interval,
    find_recordings,
    load,
    record_enabled,
)
from tests.swarm.recorded_runs import PATROL, PATROL_SMALL, record_missions


@pytest.fixture(scope="module")
def ring(tmp_path_factory):
    run = tmp_path_factory.mktemp("ring")
    return run, record_missions(run, ["swarm", "central", "isolated"])


def test_record_auto_means_small_runs_only():
    assert record_enabled("auto", 4, 60)
    assert record_enabled("auto", 100, SMALL_RUN_DRONE_TICKS // 100)
    assert not record_enabled("auto", 100, SMALL_RUN_DRONE_TICKS // 100 + 1)
    assert not record_enabled("auto", 4, None)
    assert record_enabled(True, 10_000, 10_000) and not record_enabled(False, 1, 1)


def test_belief_snapshots_stay_under_the_byte_bound():
    assert belief_interval(0, 400, 16, 64, 64) == 20  # horizon / 20 when small
    k = belief_interval(1, 10_000, 1000, 128, 128)  # asked for every tick: widened
    snapshots = 10_000 // k + 1
    assert snapshots * 2 * 1000 * 128 * 128 <= MAX_BELIEF_BYTES


def test_frames_cover_every_tick_and_stay_on_the_map(ring):
    _, runs = ring
    ep, path = runs["swarm"]
    t = load(path)
    assert t.ticks == ep.ticks and t["pos"].shape == (ep.ticks + 1, 4, 2)
    h, w = t.meta["shape"]
    assert (t["pos"] >= 0).all() and (t["pos"][..., 0] < h).all() and (t["pos"][..., 1] < w).all()
    assert (np.abs(np.diff(t["pos"].astype(int), axis=0)) <= h).all()
    assert t["battery"][-1].max() < 1.0  # flying costs energy
    assert t.metrics["coverage"].shape == (ep.ticks,)


def test_messages_add_up_to_the_bytes_the_sockets_counted(ring):
    _, runs = ring
    for team in ("swarm", "central", "isolated"):
        ep, path = runs[team]
        t = load(path)
        assert int(t["msg_bytes"].sum()) == ep.stats["host_socket_bytes"], team
        assert len(t["msg_bytes"]) == ep.stats["host_socket_messages"], team
        assert (t["msg_status"] == 0).all()  # a clean run rejects nothing


def test_gossip_edges_follow_the_ring_and_every_round_is_recorded(ring):
    _, runs = ring
    ep, path = runs["swarm"]
    t = load(path)
    assert len(t["round"]) == ep.rounds
    for rnd in range(ep.rounds):
        e = t.edges_of_round(rnd)
        assert len(e["src"]), rnd
        gap = np.abs(e["src"] - e["dst"]) % 4
        assert set(gap.tolist()) <= {1, 3}  # ring neighbours only (weights, beliefs, claims)
        assert (
            {Kind.DELTA, Kind.BELIEF}
            <= set(e["kind"].tolist())
            <= {Kind.DELTA, Kind.BELIEF, Kind.CLAIM}
        )


def test_central_uploads_go_to_the_centre_every_tick(ring):
    _, runs = ring
    t = load(runs["central"][1])
    e = t.edges_at(5)
    assert sorted(e["src"].tolist()) == [0, 1, 2, 3] and (e["dst"] == CENTRE).all()
    assert not len(load(runs["isolated"][1])["edge_src"])  # isolated brains never talk


def test_events_match_the_world_counters(ring):
    _, runs = ring
    for team in ("swarm", "central", "isolated"):
        ep, path = runs[team]
        kinds = load(path)["event_kind"]
        alarms = int((kinds == EventKind.FALSE_ALARM).sum())
        finds = int((kinds == EventKind.FIND).sum())
        assert alarms == ep.metrics["false_alarms"], team
        assert alarms + finds == ep.metrics["inspections"], team


def test_beliefs_are_snapshotted_every_k_ticks(ring):
    _, runs = ring
    t = load(runs["swarm"][1])
    ticks = t["belief_tick"]
    assert ticks[0] == 0 and (np.diff(ticks) == 4).all()
    assert t["belief"].shape[1:] == (4, *t.meta["shape"])
    assert t["belief"].dtype == np.float16
    assert t.belief_at(5)[0] == 4


def test_auc_curves_come_from_the_episode(ring):
    _, runs = ring
    ep, path = runs["swarm"]
    t = load(path)
    np.testing.assert_allclose(t["field_curve"], np.asarray(ep.field_curve, np.float32))


def test_find_recordings_lists_team_and_seed(ring):
    run, _ = ring
    assert sorted(find_recordings(run)) == [("central", 0), ("isolated", 0), ("swarm", 0)]


def test_hub_rounds_record_hub_and_term(tmp_path):
    runs = record_missions(tmp_path, ["swarm"], {"protocol.topology.kind": "dynamic"})
    ep, path = runs["swarm"]
    t = load(path)
    assert (t["round"][:, 2] >= 0).all() and (t["round"][:, 2] < 4).all()
    e = t.edges_of_round(ep.rounds - 1)
    hub = t["round"][-1, 2]
    up = (e["kind"] == Kind.DELTA) & (e["dst"] == hub)
    assert up.sum() >= 3  # every other brain uploads to the hub


def test_patrol_reports_and_litter_are_recorded(tmp_path):
    runs = record_missions(tmp_path, ["swarm"], PATROL_SMALL, scenario=PATROL)
    ep, path = runs["swarm"]
    t = load(path)
    kinds = t["event_kind"]
    assert int((kinds == EventKind.REPORT).sum()) == ep.metrics["reports"]
    assert t["nofly"].shape == tuple(t.meta["shape"])
    assert len(t["litter_offsets"]) == t.ticks + 2


def test_load_rejects_what_is_not_a_recording(tmp_path):
    bad = tmp_path / "x.npz"
    np.savez(bad, a=np.zeros(3))
    with pytest.raises(ValueError, match="not a swarm recording"):
        load(bad)
    (tmp_path / "y.npz").write_text("hello")
    with pytest.raises(ValueError, match="not a readable recording"):
        load(tmp_path / "y.npz")


def test_a_live_recording_is_on_disk_from_the_start_and_final_at_the_end(tmp_path):
    import torch

    from swarm.config import load_config
    from swarm.loop import run_episode
    from swarm.pool import HostPool
    from swarm.trajectory import Recorder
    from tests.swarm.recorded_runs import SMOKE

    torch.set_num_threads(1)
    cfg = load_config(SMOKE, {"ticks": 12, "drones": 4})
    path = tmp_path / "trajectories" / "swarm-s0.npz"
    seen = {}

    class Watch(Recorder):
        def before_step(self, world):
            if world.tick == 0:  # the mission has not flown a tick yet: already on disk
                seen["start"] = load(path).meta
            super().before_step(world)

    with HostPool(cfg, n_hosts=2, backend="local") as pool:
        run_episode(cfg, "swarm", 0, pool, recorder=Watch(path, "swarm", 0, live=True))
    assert seen["start"]["live"] is True and seen["start"]["ticks"] == 0
    final = load(path)
    assert final.meta["live"] is False and final.ticks == 12
    assert not list(path.parent.glob(".*.part"))  # no half-written file left behind

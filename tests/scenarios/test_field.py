"""Field AUC: pooled scoring, and proof that the truth it and the knowledge-transfer concept
curve read reaches no brain or policy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scenarios.drone_search import DroneSearch
from scenarios.field import FieldScores
from scenarios.litter_patrol import LitterPatrol
from scenarios.metrics import auc

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT / "scenarios" / "smoke.yaml"
PATROL = ROOT / "scenarios" / "litter_patrol.yaml"


def test_field_scores_pool_ticks_and_need_both_kinds() -> None:
    f = FieldScores()
    f.record(np.array([0.1, 0.2], np.float32), np.array([False, False]))
    assert np.isnan(f.auc()) and f.positives == 0  # no target seen yet: undefined
    f.record(None, np.array([True, True]))  # a team that reported no logits adds nothing
    f.record(np.array([0.9, np.nan, 0.15], np.float32), np.array([True, True, False]))
    want = auc(np.array([0.1, 0.2, 0.9, 0.15]), np.array([0, 0, 1, 0]))
    assert f.auc() == want == 1.0 and f.positives == 1


def _mission(cfg, poison: bool, world=DroneSearch):
    """One swarm mission of `world` through the in-process pool; with `poison` the world's
    candidate truth (what field AUC reads), concept probe labels and witnesses are inverted.
    Returns per-tick actions, the episode, weights, and how many times the loop read the
    truth."""
    import torch

    from swarm.loop import run_episode
    from swarm.pool import HostPool

    torch.set_num_threads(1)
    seen: list[tuple] = []
    reads = [0]
    truth = world.candidate_truth
    concept_probe, witnesses = world.concept_probe_set, world.concept_witnesses

    def read(world, cells):
        reads[0] += 1
        t = truth(world, cells)
        return ~t if poison else t

    def probe(world):
        x, y = concept_probe(world)
        return x, (1 - y if poison else y)

    def witness(world):
        w = witnesses(world)
        return ~w if poison else w

    pool = HostPool(cfg, n_hosts=2, backend="local")
    act = pool.act

    def recorded(obs):
        a = act(obs)
        seen.append((a.move.copy(), a.altitude.copy(), a.flag.copy(), a.detect.copy()))
        return a

    pool.act = recorded
    mp = pytest.MonkeyPatch()
    mp.setattr(world, "candidate_truth", read)
    mp.setattr(world, "concept_probe_set", probe)
    mp.setattr(world, "concept_witnesses", witness)
    try:
        ep = run_episode(cfg, "swarm", 0, pool)
        weights = [h.bank.read_flat() for h in pool.hosts.hosts if h.bank is not None]
    finally:
        mp.undo()
        pool.close()
    return seen, ep, weights, reads[0]


#: litter_patrol small, its concept kind from the start and its crew quick, so the crew's
#: photo of the new kind (the concept's own label path) is sent and used within the mission
PATROL_CONCEPT = {
    "ticks": 60, "drones": 4, "world.height": 24, "world.width": 24, "world.n_bins": 4,
    "world.zone_cells": 3, "world.overflow_per_tick": 0.05, "world.river_litter_per_tick": 0.2,
    "world.concept_litter_per_tick": 0.5, "world.concept_from": 0.0, "world.crew_delay": 5,
    "model.small": {"d_model": 16, "n_layers": 1, "n_channels": 4, "ffn_groups": 4,
                    "ffn_active": 1},
    "protocol.sync_every": 5,
}  # fmt: skip


@pytest.mark.parametrize(
    ("world", "yaml", "over"),
    [
        (DroneSearch, SMOKE, {"ticks": 40, "drones": 4, "world.concept_lookalikes": 6}),
        (LitterPatrol, PATROL, PATROL_CONCEPT),
    ],
    ids=["drone_search", "litter_patrol"],
)
def test_truth_read_for_field_auc_changes_no_action_and_no_weight(world, yaml, over) -> None:
    """Field AUC's truth, the concept probe's labels and the witnesses, inverted, change no
    action, no weight and no world metric; in litter_patrol this covers the crew's photo of
    the concept kind (sent to drones by where they fly, never by who is a witness)."""
    from swarm.config import load_config

    cfg = load_config(yaml, over)
    clean, ep0, w0, reads0 = _mission(cfg, poison=False, world=world)
    bad, ep1, w1, reads1 = _mission(cfg, poison=True, world=world)
    assert len(clean) == len(bad) > 0
    # the loop read the (poisoned) truth every tick, so the runs below were exposed to it
    # even where field AUC stays undefined (NaN) in both
    assert reads0 == reads1 == len(clean)
    for a, b in zip(clean, bad, strict=True):
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)
    for x, y in zip(w0, w1, strict=True):
        np.testing.assert_array_equal(x, y)
    drop = {"field_auc", "field_probe_auc", "concept_auc_non_witness", "concept_lift_non_witness"}
    same = {k: v for k, v in ep0.metrics.items() if k not in drop}
    assert same == {k: v for k, v in ep1.metrics.items() if k not in drop}
    # the poisoned truth did reach the record: the test would see a leak if there were one
    f0, f1 = ep0.metrics["field_auc"], ep1.metrics["field_auc"]
    assert (np.isnan(f0) and np.isnan(f1)) or f0 != f1
    assert [p[0] for p in ep0.field_curve] == [p[0] for p in ep1.field_curve]
    # so did the concept curve's truth (probe labels and witnesses), every probe tick
    c0, c1 = ep0.concept_curve, ep1.concept_curve
    assert [p.tick for p in c0] == [p.tick for p in c1] and len(c0) >= len(ep0.field_curve) > 0
    for p, q in zip(c0, c1, strict=True):
        assert p.witness == tuple(not w for w in q.witness)
        np.testing.assert_allclose(p.aucs, 1 - np.asarray(q.aucs), atol=1e-9)
    if world is LitterPatrol:  # the photo went out and some brain was labelled on the concept
        assert ep0.metrics["concept_sample_holders"] > 0 and c0[-1].witness != c1[-1].witness

"""HostCore on real sockets: every team acts; bad, poisoned or malformed messages and diverged
brains are counted rejects or quarantines and the run goes on; faults say what is missing."""

import os
import signal
import time

import blake3
import msgpack
import numpy as np
import pytest
import ray
import torch
import zmq

from protocols.codec import MAC_KEY_CONTEXT, Session, new_key
from protocols.compression import get_codec
from protocols.messages import Kind
from swarm import host as host_mod
from swarm.exchange import Phase
from swarm.host import HostCore, HostDied, HostTimeout, SnapshotFailed
from swarm.loop import make_world
from swarm.pool import HostPool
from tests.conftest import drift_apart


def configure(pool, cfg, team, seed=0):
    n = 1 if team == "single_large" else cfg.drones
    world = make_world(cfg, n, seed)
    pool.configure(team, seed, world.public_info(), world.token_spec, n)
    return world


@pytest.mark.parametrize("team", ["swarm", "isolated", "single_large", "central"])
def test_every_team_returns_valid_actions_for_all_its_drones(tiny_cfg, team):
    cfg = tiny_cfg(drones=5)
    with HostPool(cfg, n_hosts=2, backend="local") as pool:
        world = configure(pool, cfg, team)
        n = 1 if team == "single_large" else 5
        for _ in range(6):
            actions = pool.act(world.observe())
            actions.validate(n)
            world.step(actions)
        stats = pool.stats()
        # no inspection label arrives in 6 ticks, and a brain without field labels of both
        # classes takes no learning step (docs/learner.md): the weights stay pretrained
        assert stats["train_steps"] == 0
        if team == "central":  # raw observations went up over the sockets, one shared model
            assert stats["wire_bytes"] > 0 and stats["brains"] == 1
            assert pool.hosts.hosts[0].bank.k == 5
        # pretrained detectors, a few ticks of learning: better than chance on the probe set
        assert pool.probe_auc(*world.probe_set()) > 0.5


def test_central_plans_every_drone_from_one_fused_belief(tiny_cfg):
    """The centre fuses every drone's uploaded observation into one map: equal for every
    drone, holding each drone's own evidence once."""
    cfg = tiny_cfg(drones=5)
    with HostPool(cfg, n_hosts=2, backend="local") as pool:
        world = configure(pool, cfg, "central")
        for _ in range(8):
            world.step(pool.act(world.observe()))
        pol = pool.hosts.hosts[0].policy
        assert pol.fused and pol.k == 5
        belief = np.asarray(pol.belief)
        np.testing.assert_array_equal(belief, np.broadcast_to(belief[0], belief.shape))
        assert (pol.own != 0).any(1).all()  # every drone's evidence is in it
        np.testing.assert_allclose(pol.ev[0], pol.own.sum(0), atol=1e-4)


def test_scripted_hosts_fly_the_scripted_policy_with_the_fixed_detector(tiny_cfg):
    from scenarios.metrics import auc
    from scenarios.policies import fixed_logit, make_policy

    cfg = tiny_cfg(drones=4)
    with HostPool(cfg, n_hosts=2, backend="local") as pool:
        world = configure(pool, cfg, "scripted")
        hosts = pool.hosts.hosts
        assert all(h.bank is None for h in hosts) and type(hosts[0].policy).__name__ == "Lawnmower"
        obs = world.observe()
        actions = pool.act(obs)
        actions.validate(4)
        np.testing.assert_array_equal(actions.detect, fixed_logit(obs.tokens))
        # the same decisions as the standalone scripted policy on host 0's drones
        alone = make_policy(
            "lawnmower", world.public_info(), np.arange(2), np.random.default_rng(0), team_size=4
        )
        mine = alone.act(obs.select(np.arange(2)), 1 / (1 + np.exp(-fixed_logit(obs.tokens[:2]))))
        np.testing.assert_array_equal(actions.move[:2], mine.move)
        world.step(actions)
        stats = pool.stats()
        assert stats["train_steps"] == stats["brains"] == stats["wire_bytes"] == 0
        tokens, labels = world.probe_set()
        assert pool.probe_auc(tokens, labels) == pytest.approx(auc(fixed_logit(tokens), labels))


def test_probe_leaves_the_brains_state_alone(tiny_cfg):
    cfg = tiny_cfg()
    with HostPool(cfg, n_hosts=2, backend="local") as pool:
        world = configure(pool, cfg, "swarm")
        world.step(pool.act(world.observe()))
        bank = pool.hosts.hosts[0].bank
        state = bank.state.clone()
        pool.probe_auc(*world.probe_set())
        assert torch.equal(bank.state, state)


def test_forged_and_tampered_messages_are_rejected_and_counted(tiny_cfg):
    cfg = tiny_cfg(drones=4)
    with HostPool(cfg, n_hosts=2, backend="local") as pool:
        world = configure(pool, cfg, "swarm")
        world.step(pool.act(world.observe()))
        target = pool.hosts.hosts[1]
        tensors = get_codec("none").encode({"w": np.ones(4, np.float32)}).tensors
        forged = Session(target._run, 0, new_key()).encode(Kind.DELTA, tensors=tensors)
        good = Session(target._run, 0, target.key).encode(Kind.DELTA, tensors=tensors)
        tampered = [bytes(f) for f in good]
        tampered[-1] = bytes([tampered[-1][0] ^ 1]) + tampered[-1][1:]  # flip one payload bit
        ctx = zmq.Context.instance()
        sock = ctx.socket(zmq.DEALER)
        sock.connect(target.address())
        for frames in (forged, tampered):
            sock.send_multipart(frames)
        pool.exchange(0)  # the round still completes with the genuine messages
        # batched rounds need few messages: a forgery still queued is read in the next round
        pool.exchange(1)
        sock.close(linger=0)
        assert pool.stats()["rejected_messages"] == 2
        assert target.receiver.rejects["signature"] == 2


def test_hosts_bind_inside_hosts_ports_and_say_when_it_is_full(tiny_cfg):
    ctx = zmq.Context.instance()
    squatter = ctx.socket(zmq.ROUTER)
    port = squatter.bind_to_random_port("tcp://127.0.0.1", min_port=20000, max_port=60000)
    try:
        with pytest.raises(OSError, match=f"host 0: every port of {port}-{port} .* hosts.ports"):
            HostCore(0, 1, tiny_cfg(hosts={"ports": port}), "run", new_key())
        host = HostCore(0, 1, tiny_cfg(hosts={"ports": f"{port}-{port + 50}"}), "run", new_key())
        try:  # the first free port of the range, never one outside it
            assert port < int(host.address().rsplit(":", 1)[1]) <= port + 50
        finally:
            host.close()
    finally:
        squatter.close(linger=0)


def test_a_silent_peer_raises_a_clear_timeout(tiny_cfg, monkeypatch):
    monkeypatch.setattr(host_mod, "RECV_TIMEOUT_S", 0.3)
    cfg = tiny_cfg(drones=4)
    with HostPool(cfg, n_hosts=2, backend="local") as pool:
        configure(pool, cfg, "swarm")
        pool.hosts.hosts[0].send(0, Phase.MIX, None)  # host 1 never sends its half
        with pytest.raises(HostTimeout, match=r"DELTA of brain 2 \(host 1\)") as err:
            pool.hosts.hosts[0].recv(0, Phase.MIX)
        assert err.value.hosts == (1,)


def test_act_before_configure_says_what_to_do(tiny_cfg):
    with HostPool(tiny_cfg(), n_hosts=1, backend="local") as pool:
        world = make_world(tiny_cfg(), 4, 0)
        with pytest.raises(RuntimeError, match="configure"):
            pool.act(world.observe())


def _resign(key, frames, manifest):
    """frames with their manifest replaced, signed again with the run's key (1.4: keyed BLAKE3,
    docs/protocol.md section 5)."""
    frame0, body = frames[0], [frames[2], msgpack.packb(manifest), *frames[4:]]
    mac = blake3.blake3(frame0, key=blake3.blake3(key, derive_key_context=MAC_KEY_CONTEXT).digest())
    for part in body:
        mac.update(len(part).to_bytes(8, "big") + part)
    return [frame0, mac.digest(), *body]


def test_hostile_signed_messages_are_rejected_and_the_run_goes_on(tiny_cfg):
    """Correctly signed but hostile: a DELTA full of NaN to a brain on the host, a HEARTBEAT
    addressed to a brain no host holds, a seq of 2**63 - 1 and a list where a part dtype
    belongs. Each is a counted reject; the rounds complete and no NaN lands in any brain."""
    cfg = tiny_cfg(drones=4)
    with HostPool(cfg, n_hosts=2, backend="local") as pool:
        world = configure(pool, cfg, "swarm")
        world.step(pool.act(world.observe()))
        target = pool.hosts.hosts[1]
        mine = int(target.plan.brains_on(1)[0])
        nan = {"w": np.full(4, np.nan, np.float32)}
        tensors = get_codec("none").encode({"w": np.ones(4, np.float32)}).tensors
        session = Session(target._run, 0, target.key)
        poisoned = session.encode(
            Kind.DELTA, recipient=mine, body={"base_round": 0, "scale": 1.0},
            tensors=get_codec("none").encode(nan).tensors,
        )  # fmt: skip
        astray = session.encode(
            Kind.HEARTBEAT, recipient=12345, body={"position": [0.0, 0.0], "competence": 0.5}
        )
        far = Session(target._run, 1, target.key)
        far.seq = 2**63 - 2  # the next message carries seq 2**63 - 1 (once a MemoryError)
        jump = far.encode(Kind.BYE, body={"reason": "x"})
        listed = [bytes(f) for f in session.encode(Kind.DELTA, recipient=mine, tensors=tensors)]
        manifest = msgpack.unpackb(listed[3])
        manifest[0]["parts"][0][1] = ["float32"]  # a list dtype (once an unhashable TypeError)
        listed = _resign(target.key, listed, manifest)
        sock = zmq.Context.instance().socket(zmq.DEALER)
        sock.connect(target.address())
        for frames in (poisoned, astray, jump, listed):
            sock.send_multipart(frames)
        for round_idx in range(10):  # a round reads what it needs; the rest waits for the next
            pool.exchange(round_idx)
            if sum(target.receiver.rejects.values()) == 4:
                break
        sock.close(linger=0)
        assert target.receiver.rejects == {"payload": 1, "recipient": 1, "jump": 1, "manifest": 1}
        for host in pool.hosts.hosts:
            assert torch.isfinite(host.bank.state).all()


# -- issue: hostile and broken input never crashes, stalls or poisons a run ----------------
def all_weights(pool):
    return np.concatenate([h.bank.read_flat() for h in pool.hosts.hosts if h.bank is not None])


def inject(host, sender, body, arrays, round_idx=0, kind=Kind.DELTA):
    """A message signed with the run's key (a real peer's), straight into `host`'s ROUTER.

    Its seq is well ahead of the genuine sender's (inside the replay window), so the genuine
    message of the same sender is still accepted after it."""
    session = Session(host._run, sender, host.key)
    session.seq = 100
    tensors = get_codec("none").encode(arrays).tensors
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.connect(host.address())
    sock.send_multipart(session.encode(kind, round=round_idx, body=body, tensors=tensors))
    return sock


def fly_and_round(pool, world, ticks, round_idx):
    for _ in range(ticks):
        world.step(pool.act(world.observe()))
    pool.exchange(round_idx)


def rounds_until_rejected(pool, first_round, most=10):
    """Hold rounds from `first_round` on until a reject is counted; returns the next round.

    An injected message may land after the genuine ones of its round (ZeroMQ's queues are
    asynchronous); it is then read, and rejected for its content, in a later round."""
    r = first_round
    while r < first_round + most:
        pool.exchange(r)
        r += 1
        if pool.stats()["rejected_messages"]:
            break
    return r


@pytest.mark.parametrize(
    ("body", "tensor", "value", "reason"),
    [
        ({"brains": [0]}, "0", np.nan, "payload"),  # a NaN DELTA
        ({"brains": [0]}, "0", np.inf, "payload"),
        ({"brains": [0]}, "5", 0.0, "manifest"),  # a tensor of brain 5, not in its body
        ({"brains": [0, 0]}, "0", 0.0, "manifest"),  # brains not ascending
        ({"brains": [0, 99]}, "0", 0.0, "manifest"),  # a brain outside the team
        ({"brains": [0, 1]}, "0", 0.0, "manifest"),  # brain 1 listed without its delta
    ],
)
def test_a_poisoned_or_malformed_delta_from_a_signed_peer_is_a_counted_reject(
    tiny_cfg, body, tensor, value, reason
):
    cfg = tiny_cfg(drones=4, protocol={"sync_every": 100})
    with HostPool(cfg, n_hosts=2, backend="local") as pool:
        world = configure(pool, cfg, "swarm")
        world.step(pool.act(world.observe()))
        target = pool.hosts.hosts[1]
        arrays = {tensor: np.full(target.bank.params_per_brain, value, np.float32)}
        sock = inject(target, 0, body, arrays)  # brain 0's batch is what host 1 awaits first
        world.step(pool.act(world.observe()))
        nxt = rounds_until_rejected(pool, 0)  # each round completes with the genuine message
        sock.close(linger=0)
        assert pool.stats()["rejected_messages"] == 1
        # named where it was caught: by the receiver or by the round reading the batch
        assert (target.rejects + target.receiver.rejects)[reason] == 1
        assert np.isfinite(all_weights(pool)).all()
        fly_and_round(pool, world, 2, nxt)  # and the run goes on
        assert np.isfinite(all_weights(pool)).all()
        assert pool.stats()["rejected_messages"] == 1


@pytest.mark.parametrize("aggregation", ["median", "krum", "trimmed_mean", "weighted_mean"])
def test_a_nan_upload_to_a_robust_hub_is_rejected_and_the_round_completes(tiny_cfg, aggregation):
    cfg = tiny_cfg(drones=6, protocol={"topology": {"kind": "star"}, "aggregation": aggregation})
    with HostPool(cfg, n_hosts=2, backend="local") as pool:
        world = configure(pool, cfg, "swarm")
        world.step(pool.act(world.observe()))
        hub_host = pool.hosts.hosts[0]  # the star's hub is brain 0; host 1 uploads brains 3-5
        nan = {"3": np.full(hub_host.bank.params_per_brain, np.nan, np.float32)}
        sock = inject(hub_host, 3, {"brains": [3], "base_round": 0, "scale": 1.0}, nan)
        rounds_until_rejected(pool, 0)
        sock.close(linger=0)
        assert pool.stats()["rejected_messages"] == 1
        weights = all_weights(pool)
        assert np.isfinite(weights).all()
        np.testing.assert_array_equal(weights, np.broadcast_to(weights[0], weights.shape))


@pytest.mark.parametrize(
    "protocol",
    [
        {"topology": {"kind": "ring"}},
        {"topology": {"kind": "star"}, "aggregation": "median"},
        {"topology": {"kind": "dynamic"}, "aggregation": "krum"},
    ],
)
def test_an_exploding_brain_is_quarantined_and_nothing_spreads(tiny_cfg, protocol):
    cfg = tiny_cfg(drones=6, protocol={**protocol, "sync_every": 100})
    with HostPool(cfg, n_hosts=2, backend="local") as pool:
        world = configure(pool, cfg, "swarm")
        fly_and_round(pool, world, 2, 0)
        drift_apart(pool)
        bank = pool.hosts.hosts[0].bank
        good = bank.read_flat()[1].copy()
        for t in bank.params.values():  # brain 1 diverges on its own
            t[1] = float("nan")
        pool.exchange(1)
        assert pool.stats()["quarantined_brains"] == 1
        assert np.isfinite(all_weights(pool)).all()
        if protocol["topology"]["kind"] == "ring":  # gossip: back to its last good weights,
            assert not np.array_equal(bank.read_flat()[1], good)  # then mixed with the others
        fly_and_round(pool, world, 3, 2)  # it flies and learns on; nothing non-finite appears
        assert np.isfinite(all_weights(pool)).all()
        assert pool.stats()["quarantined_brains"] == 1 and pool.stats()["rejected_messages"] == 0


def test_central_counts_its_command_downlink_as_device_traffic(tiny_cfg, monkeypatch):
    """Every tick the centre sends each drone one COMMAND (its move, altitude and flag): the
    device count holds one OBS up and one COMMAND down per drone and tick, and the downlink's
    bytes are those of the COMMANDs encoded from the centre's own session (node id N)."""
    cfg, n, ticks = tiny_cfg(drones=4), 4, 5

    def fly(count_commands: bool):
        if not count_commands:
            monkeypatch.setattr(HostCore, "_count_commands", lambda self, tick, actions: None)
        with HostPool(cfg, n_hosts=2, backend="local") as pool:
            world = configure(pool, cfg, "central")
            sent = []
            for _ in range(ticks):
                obs = world.observe()
                actions = pool.act(obs)
                sent.append((obs.tick, actions))
                world.step(actions)
            centre = pool.hosts.hosts[0]
            return pool.stats(), sent, centre._run, centre.key

    (full, sent, run, key), (up_only, _, _, _) = fly(True), fly(False)
    assert full["wire_messages"] == 2 * n * ticks
    assert up_only["wire_messages"] == n * ticks
    session, down = Session(run, n, key), 0
    for tick, a in sent:
        for d in range(n):
            body = {"move": [int(v) for v in a.move[d]], "altitude": float(a.altitude[d]),
                    "flag": bool(a.flag[d])}  # fmt: skip
            frames = session.encode(Kind.COMMAND, recipient=d, round=tick, body=body)
            down += sum(len(f) for f in frames)
    assert full["wire_bytes"] - up_only["wire_bytes"] == down > 0


def _unpicklable(host):
    """Give a host's exchange an attribute pickle refuses (a lambda made here, in the actor),
    as a bug once did: its next restart snapshot fails."""
    host.exchange.broken = lambda d: []


@pytest.mark.ray
def test_a_snapshot_that_fails_ends_the_run_at_the_next_round_naming_host_round_and_cause(
    ray_session, tiny_cfg
):
    cfg = tiny_cfg(drones=4, hosts={"max_restarts": 1})
    every = cfg.protocol.sync_every
    with HostPool(cfg, n_hosts=2, backend="ray") as pool:
        world = configure(pool, cfg, "swarm")
        for tick in range(1, 2 * every + 1):  # rounds 0 and 1: every snapshot taken
            world.step(pool.act(world.observe()))
            if tick % every == 0:
                pool.exchange(tick // every - 1)
        ray.get(pool.hosts.actors[1].__ray_call__.remote(_unpicklable))
        for _ in range(every):
            pool.act(world.observe())
        pool.exchange(2)  # checks round 1's snapshots (fine), takes round 2's: host 1's fails
        with pytest.raises(SnapshotFailed, match=r"host 1 .* after knowledge round 2: .*ickl"):
            for _ in range(every):  # the first act after the round reads the size replies
                pool.act(world.observe())
            pool.exchange(3)  # at the latest: the check of round 2's snapshots


def _files(folder):
    """Names of the files in a snapshot folder."""
    return sorted(f.name for f in folder.iterdir())


@pytest.mark.ray
def test_ray_hosts_hold_two_sealed_snapshots_per_host_between_rounds(ray_session, tiny_cfg):
    """While a round's snapshots are being taken the newest ones stay (a host may die
    taking its own); once the next act has returned they are sealed: between rounds each
    host has two snapshot files on its node, its newest and the one before (which the next
    is written over), never more. The next mission's first snapshots replace the last
    one's; closing the pool removes all."""
    cfg = tiny_cfg(drones=4)
    every = cfg.protocol.sync_every
    with HostPool(cfg, n_hosts=2, backend="ray") as pool:
        folder = pool.hosts.files.folder()
        assert _files(folder) == []  # made (and checked writable) when the pool started
        world = configure(pool, cfg, "swarm")
        assert pool.hosts.snapshot_rounds() == [[-1], [-1]]  # the mission's start
        for tick in range(1, 3 * every + 2):
            world.step(pool.act(world.observe()))
            latest = (tick - 1) // every - 1  # the last round before this tick
            held = [r for r in (latest - 1, latest) if r >= -1]
            assert pool.hosts.snapshot_rounds() == [held, held], tick
            names = [f"host{h}-m0-r{r}.pickle" for h in (0, 1) for r in held]
            assert _files(folder) == sorted(names), tick
            assert [pool.hosts.sealed[h].round for h in (0, 1)] == [latest, latest]
            if tick % every == 0:
                pool.exchange(latest + 1)
                assert pool.hosts.snapshot_rounds() == [[latest, latest + 1]] * 2, tick
        sizes = [pool.hosts.sealed[h].size for h in (0, 1)]
        assert sizes == [(folder / f"host{h}-m0-r2.pickle").stat().st_size for h in (0, 1)]
        world = configure(pool, cfg, "swarm", seed=1)  # the next mission
        world.step(pool.act(world.observe()))
        assert _files(folder) == ["host0-m1-r-1.pickle", "host1-m1-r-1.pickle"]
    assert not folder.exists()  # closed: no file left behind


def _wait_gone(pid: int, timeout_s: float = 30.0) -> None:
    """Until process `pid` has exited (AssertionError after `timeout_s`)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} still runs {timeout_s} s after it was killed")


@pytest.mark.ray
def test_snapshots_every_nth_round_and_a_restart_goes_back_to_the_last(ray_session, tiny_cfg):
    """hosts.snapshot_every = 2: the hosts take their snapshots at the mission's start and
    after rounds 1, 3, ... only; host 1, killed after round 2, restores round 1 (losing
    round 2's work too) and the run flies on."""
    cfg = tiny_cfg(drones=4, hosts={"max_restarts": 1, "snapshot_every": 2})
    every = cfg.protocol.sync_every
    with HostPool(cfg, n_hosts=2, backend="ray") as pool:
        world = configure(pool, cfg, "swarm")
        folder = pool.hosts.files.folder()
        for tick in range(1, 3 * every + 1):
            world.step(pool.act(world.observe()))
            if tick % every == 0:
                pool.exchange(tick // every - 1)
        assert pool.hosts.snapshot_rounds() == [[-1, 1], [-1, 1]]  # none after rounds 0, 2
        assert _files(folder) == [f"host{h}-m0-r{r}.pickle" for h in (0, 1) for r in (-1, 1)]
        os.kill(pool.hosts.pids()[1], signal.SIGKILL)
        world.step(pool.act(world.observe()))
        (r,) = pool.restarts()
        assert (r["host"], r["restored_round"]) == (1, 1)
        for _ in range(every):
            world.step(pool.act(world.observe()))
        assert pool.stats()["rejected_messages"] == 0


class _DiesWhilePickled:
    """Kills the process pickling it (SIGKILL: nothing of it runs any cleanup), as a host
    that dies half way through writing its snapshot."""

    def __reduce__(self):
        os.kill(os.getpid(), signal.SIGKILL)


def _dies_at_next_snapshot(host):
    host.zz_dies = _DiesWhilePickled()  # pickled last: after the rest of its state


@pytest.mark.ray
def test_a_host_killed_while_writing_its_snapshot_restarts_from_its_older_one(
    ray_session, tiny_cfg
):
    """Host 1's real process dies half way through writing round 2's snapshot: what it
    wrote (over its round 0 file) stays under a temporary name, its round 1 file stays
    whole, and the restarted host restores round 1 from it and flies on; its next snapshot
    removes the temporary file and keeps round 1's as the one before. The dead host's files
    are removed when the pool closes."""
    cfg = tiny_cfg(drones=4, hosts={"max_restarts": 1})
    every = cfg.protocol.sync_every
    with HostPool(cfg, n_hosts=2, backend="ray") as pool:
        world = configure(pool, cfg, "swarm")
        folder = pool.hosts.files.folder()
        for tick in range(1, 4 * every + 2):
            if tick == 2 * every + 2:  # round 1's snapshots sealed by the act before
                held = [f"host{h}-m0-r{r}.pickle" for h in (0, 1) for r in (0, 1)]
                assert _files(folder) == held
                pid = pool.hosts.pids()[1]
                ray.get(pool.hosts.actors[1].__ray_call__.remote(_dies_at_next_snapshot))
            world.step(pool.act(world.observe()))
            if tick == 3 * every + 1:  # round 2's taken: host 1 died writing it, restarted
                (r,) = pool.restarts()
                assert (r["host"], r["call"], r["restored_round"]) == (1, "act", 1)
                left = _files(folder)
                tmp = [f for f in left if f.startswith("host1-m0-r2.pickle.")]
                assert left == [
                    "host0-m0-r1.pickle",
                    "host0-m0-r2.pickle",
                    "host1-m0-r1.pickle",
                    *tmp,
                ]
                assert tmp == [f"host1-m0-r2.pickle.{pid}.tmp"]
                assert (folder / tmp[0]).stat().st_size > 0  # half written, never renamed
            if tick % every == 0:
                pool.exchange(tick // every - 1)
        assert pool.hosts.pids()[1] != pid
        assert _files(folder) == [
            "host0-m0-r2.pickle",
            "host0-m0-r3.pickle",
            "host1-m0-r1.pickle",
            "host1-m0-r3.pickle",
        ]
        assert pool.stats()["rejected_messages"] == 0
    assert not folder.exists()


@pytest.mark.ray
@pytest.mark.parametrize("loss", ["files", "process"])
def test_a_host_that_cannot_be_restored_ends_the_mission_saying_why(ray_session, tiny_cfg, loss):
    """Host 1 dies after its mission-start snapshot was sealed. `files`: its file went too
    (as when its node's disk is lost): nothing to restore, and HostDied names the files'
    place. `process`: Ray will not restart it: HostDied says so, and the dead host's file,
    which no host removes, goes when the pool closes."""
    cfg = tiny_cfg(drones=4, hosts={"max_restarts": 1})
    with HostPool(cfg, n_hosts=2, backend="ray") as pool:
        world = configure(pool, cfg, "swarm")
        world.step(pool.act(world.observe()))  # the mission's start snapshots sealed
        folder = pool.hosts.files.folder()
        if loss == "files":
            os.kill(pool.hosts.pids()[1], signal.SIGKILL)
            (folder / "host1-m0-r-1.pickle").unlink()
            why = (
                r"FileNotFoundError: no snapshot of host 1 could be read .*none there.*its disk was"
            )
        else:
            pid = pool.hosts.pids()[1]
            ray.kill(pool.hosts.actors[1], no_restart=True)
            _wait_gone(pid)  # the kill is asynchronous: an act sent at once may still run
            why = r"Ray did not restart it"
        with pytest.raises(HostDied, match=rf"(?s)\(host 1\) during act.*Not restarted: {why}"):
            pool.act(world.observe())
        assert (folder / "host1-m0-r-1.pickle").exists() == (loss == "process")
    assert not folder.exists()

"""HostCore on real sockets: every team acts, bad frames are rejected and counted, faults."""

import blake3
import msgpack
import numpy as np
import pytest
import torch
import zmq

from protocols.codec import MAC_KEY_CONTEXT, Session, new_key
from protocols.compression import get_codec
from protocols.messages import Kind
from swarm import host as host_mod
from swarm.host import HostCore, HostTimeout
from swarm.loop import make_world
from swarm.pool import HostPool


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
        assert stats["train_steps"] > 0  # brains learn while they fly
        if team == "central":  # raw observations went up over the sockets, one shared model
            assert stats["wire_bytes"] > 0 and stats["brains"] == 1
            assert pool.calls.hosts[0].shard.bank.k == 5
        auc = pool.probe_auc(*world.probe_set())
        assert 0.0 <= auc <= 1.0


def test_probe_leaves_the_brains_state_alone(tiny_cfg):
    cfg = tiny_cfg()
    with HostPool(cfg, n_hosts=2, backend="local") as pool:
        world = configure(pool, cfg, "swarm")
        world.step(pool.act(world.observe()))
        bank = pool.calls.hosts[0].shard.bank
        state = bank.state.clone()
        pool.probe_auc(*world.probe_set())
        assert torch.equal(bank.state, state)


def test_forged_and_tampered_messages_are_rejected_and_counted(tiny_cfg):
    cfg = tiny_cfg(drones=4)
    with HostPool(cfg, n_hosts=2, backend="local") as pool:
        world = configure(pool, cfg, "swarm")
        world.step(pool.act(world.observe()))
        target = pool.calls.hosts[1]
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


def test_a_taken_port_falls_back_to_a_free_one(tiny_cfg):
    ctx = zmq.Context.instance()
    squatter = ctx.socket(zmq.ROUTER)
    port = squatter.bind_to_random_port("tcp://127.0.0.1")
    host = HostCore(0, 1, tiny_cfg(), "run", new_key(), port=port)
    try:
        assert host.address().startswith("tcp://127.0.0.1:")
        assert not host.address().endswith(f":{port}")
    finally:
        host.close()
        squatter.close(linger=0)


def test_a_silent_peer_raises_a_clear_timeout(tiny_cfg, monkeypatch):
    monkeypatch.setattr(host_mod, "RECV_TIMEOUT_S", 0.3)
    cfg = tiny_cfg(drones=4)
    with HostPool(cfg, n_hosts=2, backend="local") as pool:
        configure(pool, cfg, "swarm")
        pool.calls.hosts[0].exchange_send(0, 0, None)  # host 1 never sends its half
        with pytest.raises(HostTimeout, match="a peer host died or is stuck"):
            pool.calls.hosts[0].exchange_recv(0, 0)


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
        target = pool.calls.hosts[1]
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
        for host in pool.calls.hosts:
            assert torch.isfinite(host.shard.bank.state).all()

"""ZeroMQ endpoints on 127.0.0.1: delivery, counters, ports, CurveZMQ, clean shutdown."""

import threading
import time

import numpy as np
import pytest

from protocols.codec import Receiver, Session
from protocols.compression import get_codec
from protocols.messages import Kind
from protocols.transport import CurveKeys, Endpoint

KEY = b"t" * 32


def _os_threads() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("Threads:"))


def _recv(ep, timeout_ms=2000):
    return ep.recv(timeout_ms=timeout_ms)


def test_signed_delta_crosses_and_is_counted():
    with Endpoint(1) as a, Endpoint(2) as b:
        assert a.address.startswith("tcp://127.0.0.1:")
        a.connect(2, b.address)
        delta = {"w": np.random.default_rng(0).normal(size=(300, 400)).astype(np.float32)}
        frames = Session("r", 1, KEY).encode(
            Kind.DELTA, tensors=get_codec("none").encode(delta).tensors
        )
        a.send(2, frames)
        ident, got = _recv(b)
        assert ident.startswith(b"1:") and len(ident) == 2 + 16  # node id, 16 hex digits
        out = Receiver("r", KEY, me=2).accept(got)
        assert np.array_equal(out.arrays["w"], delta["w"])
        size = sum(memoryview(f).nbytes for f in frames)
        assert (a.stats.messages_sent, a.stats.bytes_sent) == (1, size)
        assert (b.stats.messages_received, b.stats.bytes_received) == (1, size)
        assert b.recv(timeout_ms=10) is None


def test_a_peer_named_by_its_node_id_does_not_shadow_a_host():
    """Spec §1 once said a DEALER's identity is its node id: a drone with id 1 using b"1" must
    still reach a ROUTER that host 1 already talks to (a ROUTER drops a duplicate identity)."""
    import zmq

    with Endpoint(1) as host1, Endpoint(2) as b:
        host1.connect(2, b.address)
        host1.send(2, [b"from host"])
        assert _recv(b)[1][0].tobytes() == b"from host"
        with zmq.Context() as ctx, ctx.socket(zmq.DEALER) as drone:
            drone.setsockopt(zmq.LINGER, 0)
            drone.setsockopt(zmq.IDENTITY, b"1")
            drone.connect(b.address)
            drone.send_multipart([b"from drone"])
            got = _recv(b)
            assert got is not None and got[0] == b"1" and got[1][0].tobytes() == b"from drone"
        host1.send(2, [b"again"])
        assert _recv(b)[1][0].tobytes() == b"again"


def test_port_in_use_is_a_clear_error_or_falls_back():
    with Endpoint(1) as a:
        port = int(a.address.rsplit(":", 1)[1])
        with pytest.raises(OSError, match="port=0"):
            Endpoint(2, port=port)
        with Endpoint(3, port=port, port_fallback=True) as c:
            assert c.address != a.address


def test_port_range_takes_its_first_free_port_and_never_one_outside():
    with Endpoint(1) as a:
        taken = int(a.address.rsplit(":", 1)[1])
        with pytest.raises(OSError, match=f"every port of {taken}-{taken} on 127.0.0.1 is taken"):
            Endpoint(2, port=0, port_fallback=True, port_range=(taken, taken))
        with Endpoint(3, port_range=(taken, min(taken + 50, 65535))) as b:
            port = int(b.address.rsplit(":", 1)[1])
            assert taken < port <= taken + 50
            a.connect(3, b.address)  # the bound socket works like any other
            a.send(3, [b"x"])
            assert _recv(b)[1][0].tobytes() == b"x"
    with pytest.raises(ValueError, match="lo <= hi"):
        Endpoint(4, port_range=(7001, 7000))


def test_send_to_unknown_peer_says_connect_first():
    with Endpoint(1) as a, pytest.raises(KeyError, match="connect"):
        a.send(9, [b"x"])


def test_curve_shared_run_key_exchanges_and_stranger_cannot():
    run = CurveKeys.generate()
    with Endpoint(1, curve=run) as a, Endpoint(2, curve=run) as b:
        a.connect(2, b.address)
        a.send(2, [b"hello"])
        assert bytes(_recv(b)[1][0]) == b"hello"
        stranger = CurveKeys.generate()
        with Endpoint(3, curve=stranger) as s:
            s.connect(2, b.address, server_key=run.public)  # knows the server key, not authorised
            s.send(2, [b"let me in"])
            assert b.recv(timeout_ms=700) is None
        with Endpoint(4) as plain:  # no curve at all
            plain.connect(2, b.address)
            plain.send(2, [b"plain"])
            assert b.recv(timeout_ms=500) is None
        a.send(2, [b"still fine"])
        assert bytes(_recv(b)[1][0]) == b"still fine"


def test_curve_per_host_keys_with_allowlist():
    ka, kb = CurveKeys.generate(), CurveKeys.generate()
    with Endpoint(2, curve=kb, authorized=[ka.public]) as b, Endpoint(1, curve=ka) as a:
        a.connect(2, b.address, server_key=kb.public)
        a.send(2, [b"ok"])
        assert bytes(_recv(b)[1][0]) == b"ok"


def test_close_leaves_no_threads_or_sockets():
    base_py, base_os = threading.active_count(), _os_threads()
    run = CurveKeys.generate()
    eps = [Endpoint(i, curve=run) for i in range(3)]
    for ep in eps:
        for other in eps:
            if other is not ep:
                ep.connect(other.node_id, other.address)
    eps[0].send(1, [b"x"])
    assert _recv(eps[1]) is not None
    assert threading.active_count() > base_py
    for ep in eps:
        ep.close()
        ep.close()  # idempotent
    assert threading.active_count() == base_py
    for _ in range(50):  # native zmq threads exit asynchronously after term(); give them a moment
        if _os_threads() <= base_os:
            break
        time.sleep(0.05)
    assert _os_threads() <= base_os  # zmq I/O and reaper threads are gone too


def test_recv_without_timeout_returns_queued_messages_then_none():
    with Endpoint(1) as a, Endpoint(2) as b:
        a.connect(2, b.address)
        assert b.recv(timeout_ms=0) is None
        for i in range(3):
            a.send(2, [b"m", bytes([i])])
        first = b.recv(timeout_ms=2000)  # waits for the first; the rest are queued behind it
        assert first is not None and bytes(first[1][1]) == b"\x00"
        deadline = time.monotonic() + 2
        rest = []
        while len(rest) < 2 and time.monotonic() < deadline:
            got = b.recv(timeout_ms=0)
            if got is not None:
                rest.append(bytes(got[1][1]))
        assert rest == [b"\x01", b"\x02"]
        assert b.recv(timeout_ms=0) is None
        assert b.stats.messages_received == 3

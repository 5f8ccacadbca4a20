"""ZeroMQ transport: one ROUTER to receive, one DEALER per peer to send, counted at the socket.

    ep = Endpoint(node_id=0)                      # binds tcp://127.0.0.1:<free port>
    ep = Endpoint(0, host=ip, port_range=(7000, 7007))   # the first free port of 7000..7007
    ep.address                                    # give it to the peers (through Ray at start)
    ep.connect(1, other_address)                  # a DEALER to peer 1
    ep.send(1, frames)                            # multipart, zero-copy for big buffers
    got = ep.recv(timeout_ms=100)                 # (sender identity bytes, [memoryview]) | None
    ep.stats                                      # messages/bytes sent and received
    ep.close()                                    # or `with Endpoint(...) as ep:`

The transport moves frames; it does not trust them: the identity it reports is the DEALER's
routing id, unauthenticated. Authenticate with the signed header (`codec.Receiver`).
Routing ids are `<node id>:<16 random hex digits>` (`routing_id`), unique per socket: a ROUTER
silently drops a second peer with an identity it already knows, so a bare node id (a host's
index, a drone's id) would let one peer shadow another (docs/protocol.md §1).

CurveZMQ (`curve=CurveKeys.generate()`): the ROUTER is a CURVE server whose ZAP handler (a
pyzmq ThreadAuthenticator) admits only client public keys in `authorized`, by default the
endpoint's own key, so hosts sharing one per-run key pair talk to each other and nobody else.
A client whose key is not authorised completes no handshake and exchanges nothing.
Byte counts are the frames' payload bytes at the socket API (ZMTP framing not included).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import zmq
from zmq.auth.thread import ThreadAuthenticator

__all__ = ["CurveKeys", "Endpoint", "TransportStats", "routing_id"]

SEND_TIMEOUT_MS = 10_000  # a send blocks only when a peer's queue is full; never hang forever


def routing_id(node_id: int) -> bytes:
    """A fresh DEALER identity: ASCII `<node id>:<16 hex digits>`, unique per socket."""
    return f"{node_id}:{secrets.token_hex(8)}".encode()


@dataclass(frozen=True)
class CurveKeys:
    """A CurveZMQ key pair, z85-encoded (40 bytes each)."""

    public: bytes
    secret: bytes

    @classmethod
    def generate(cls) -> CurveKeys:
        public, secret = zmq.curve_keypair()
        return cls(public, secret)


@dataclass
class TransportStats:
    """What crossed this endpoint's sockets: messages (multipart) and payload bytes."""

    messages_sent: int = 0
    bytes_sent: int = 0
    messages_received: int = 0
    bytes_received: int = 0


class _Allowlist:
    """ZAP credentials provider: admits the z85 public keys it holds."""

    def __init__(self, keys: Iterable[bytes]):
        self.keys = set(keys)

    def callback(self, domain: str, key: bytes) -> bool:
        return key in self.keys


class Endpoint:
    """One node's sockets; see the module docstring. Not thread-safe: use from one thread."""

    def __init__(
        self,
        node_id: int,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        port_fallback: bool = False,
        port_range: tuple[int, int] | None = None,
        curve: CurveKeys | None = None,
        authorized: Iterable[bytes] | None = None,
    ) -> None:
        """`port` 0: any free port; a port: that one (taken: `OSError`, or any free port with
        `port_fallback`). `port_range=(lo, hi)`, inclusive, overrides both: the first free port
        of lo..hi, never one outside it (a firewall may open only those); all taken: `OSError`.
        """
        self.node_id, self.curve = node_id, curve
        self.stats = TransportStats()
        self._ctx = zmq.Context(io_threads=1)
        self._auth: ThreadAuthenticator | None = None
        self._peers: dict[int, zmq.Socket] = {}
        self._closed = False
        try:
            self._router = self._ctx.socket(zmq.ROUTER)
            self._router.setsockopt(zmq.LINGER, 0)
            if curve is not None:
                self._start_curve_server(curve, authorized)
            if port_range is not None:
                self.address = self._bind_in_range(host, *port_range)
            else:
                self.address = self._bind(host, port, port_fallback)
        except BaseException:
            self.close()
            raise

    def _start_curve_server(self, curve: CurveKeys, authorized: Iterable[bytes] | None) -> None:
        self._auth = ThreadAuthenticator(self._ctx)
        self._auth.start()
        keys = [curve.public] if authorized is None else list(authorized)
        self._auth.configure_curve_callback("*", credentials_provider=_Allowlist(keys))
        self._router.curve_secretkey = curve.secret
        self._router.curve_publickey = curve.public
        self._router.curve_server = True

    def _bind(self, host: str, port: int, fallback: bool) -> str:
        if port:
            try:
                self._router.bind(f"tcp://{host}:{port}")
            except zmq.ZMQError as e:
                if e.errno != zmq.EADDRINUSE or not fallback:
                    raise OSError(
                        f"cannot bind tcp://{host}:{port}: {e}. Pass port=0 for a free port, "
                        "or port_fallback=True to fall back to one"
                    ) from None
                self._router.bind(f"tcp://{host}:*")
        else:
            self._router.bind(f"tcp://{host}:*")
        return self._router.getsockopt_string(zmq.LAST_ENDPOINT)

    def _bind_in_range(self, host: str, lo: int, hi: int) -> str:
        if not 0 < lo <= hi <= 65535:
            raise ValueError(f"port_range must satisfy 0 < lo <= hi <= 65535, got ({lo}, {hi})")
        for port in range(lo, hi + 1):  # in order: the lowest free port, predictable for users
            try:
                self._router.bind(f"tcp://{host}:{port}")
            except zmq.ZMQError as e:
                if e.errno != zmq.EADDRINUSE:
                    raise OSError(f"cannot bind tcp://{host}:{port}: {e}") from None
                continue
            return self._router.getsockopt_string(zmq.LAST_ENDPOINT)
        raise OSError(f"every port of {lo}-{hi} on {host} is taken ({hi - lo + 1} port(s))")

    def connect(self, peer: int, address: str, server_key: bytes | None = None) -> None:
        """Open a DEALER to peer's ROUTER address; server_key: its curve public key (default:
        this endpoint's own, i.e. a shared per-run key pair)."""
        if peer in self._peers:
            raise ValueError(f"already connected to peer {peer}; one DEALER per peer")
        sock = self._ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDTIMEO, SEND_TIMEOUT_MS)
        sock.setsockopt(zmq.IDENTITY, routing_id(self.node_id))
        if self.curve is not None:
            sock.curve_secretkey = self.curve.secret
            sock.curve_publickey = self.curve.public
            sock.curve_serverkey = server_key or self.curve.public
        sock.connect(address)
        self._peers[peer] = sock

    def disconnect(self, peer: int) -> None:
        """Close the DEALER to `peer` (unsent messages dropped), e.g. to connect it anew."""
        sock = self._peers.pop(peer, None)
        if sock is not None:
            sock.close(linger=0)

    def send(self, peer: int, frames: Sequence[Any]) -> None:
        """Send one multipart message to a connected peer (buffers not copied when large)."""
        sock = self._peers.get(peer)
        if sock is None:
            raise KeyError(f"peer {peer} not connected; call connect(peer, address) first")
        try:
            sock.send_multipart(frames, copy=False)
        except zmq.Again:
            raise TimeoutError(f"peer {peer} queue full for {SEND_TIMEOUT_MS} ms") from None
        self.stats.messages_sent += 1
        self.stats.bytes_sent += sum(memoryview(f).nbytes for f in frames)

    def recv(self, timeout_ms: int = 0) -> tuple[bytes, list[memoryview]] | None:
        """The next message as (sender routing id, frames), or None after timeout_ms."""
        try:  # a queued message needs no poll (one syscall less per message when streaming)
            identity, *frames = self._router.recv_multipart(zmq.NOBLOCK, copy=False)
        except zmq.Again:
            if not timeout_ms or not self._router.poll(timeout_ms, zmq.POLLIN):
                return None
            identity, *frames = self._router.recv_multipart(copy=False)
        views = [f.buffer for f in frames]
        self.stats.messages_received += 1
        self.stats.bytes_received += sum(v.nbytes for v in views)
        return identity.bytes, views

    def close(self) -> None:
        """Close every socket, stop the authenticator thread, terminate the context."""
        if self._closed:
            return
        self._closed = True
        for sock in self._peers.values():
            sock.close(linger=0)
        self._peers.clear()
        if getattr(self, "_router", None) is not None:
            self._router.close(linger=0)
        if self._auth is not None:
            self._auth.stop()
        self._ctx.term()

    def __enter__(self) -> Endpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""protocols — how brains share what they learned (wire format: docs/protocol.md).

Depends on numpy, msgpack, pyzmq and networkx only. Modules, small to whole:
`varint` (delta-coded indices), `compression` (delta codecs), `messages` (kinds, version,
reject reasons), `codec` (signed frames, `Session`/`Receiver`), `transport` (ZeroMQ
`Endpoint`), `topology`, `aggregation`, `gossip` (exact and CHOCO), `centre` (hub election).

How a host uses this, one knowledge round (DELTA gossip with CHOCO on a ring)::

    from protocols import (ChocoNode, Endpoint, Kind, ProtocolError, Receiver, Session,
                           build, get_codec, mixing_matrix, neighbours, new_key)

    key = new_key()                                   # once per run, shared through Ray
    ep = Endpoint(node_id=me)                         # ROUTER on 127.0.0.1:<free port>
    ...exchange ep.address with the other hosts through Ray, then:
    for peer, address in peers.items():
        ep.connect(peer, address)
    session, receiver = Session(run_id, me, key), Receiver(run_id, key, me=me)

    W = mixing_matrix(build("ring", n))
    node = ChocoNode(me, bank.export_weights(i), neighbours(W, me),
                     get_codec("topk", fraction=0.1, error_feedback=False), gamma=0.3)
    payload = node.outgoing()                         # EncodedDelta (payload.wire_ratio)
    frames = session.encode(Kind.DELTA, round=r, tensors=payload.tensors)
    for peer in node.weights:
        ep.send(peer, frames)
    while waiting for the round's neighbours:         # rounds are barriers
        got = ep.recv(timeout_ms=50)
        if got is None: continue
        try:
            d = receiver.accept(got[1])               # verified, de-duplicated, decompressed
        except ProtocolError:
            continue                                  # counted in receiver.rejects
        node.incoming(d.message.sender, d.arrays)
    node.finish_round()                               # the consensus step
    ep.stats, receiver.rejects                        # bytes on the wire, rejects by reason
    ep.close()

On a time-varying graph (`radio`, rebuilt from positions every round) a node gets each
round's neighbours and sends per peer: `for peer, (payload, sync) in
node.payloads(neighbours(W_t, me)).items()`, DELTA body `{"sync": sync}`; the receiver calls
`node.incoming(sender, d.arrays, d.message.body.get("sync", False))`. New edges swap full
public copies once (docs/protocol.md section 8).

A hub instead stacks received deltas (`aggregation.flatten`) and applies an `AGGREGATORS`
rule; the `dynamic` topology feeds HEARTBEAT/ELECT messages to a `Centre` and asks it who the
hub is.
"""

from protocols.aggregation import AGGREGATORS, flatten, unflatten
from protocols.centre import Centre, Outgoing
from protocols.codec import (
    Delivery,
    Limits,
    Receiver,
    Session,
    decode,
    encode,
    new_key,
    open_payload,
)
from protocols.compression import (
    CODECS,
    Codec,
    EncodedDelta,
    EncodedTensor,
    decode_delta,
    get_codec,
)
from protocols.config import CodecConfig, ProtocolConfig, TopologyConfig
from protocols.gossip import ChocoNode, ExactGossipNode, disagreement, run_rounds
from protocols.messages import (
    BROADCAST,
    PROTOCOL_VERSION,
    REJECT_REASONS,
    Kind,
    Message,
    ProtocolError,
)
from protocols.topology import KINDS, build, mixing_matrix, neighbours, rounds_bound, spectral_gap
from protocols.transport import CurveKeys, Endpoint, TransportStats

__all__ = [
    "AGGREGATORS",
    "BROADCAST",
    "CODECS",
    "KINDS",
    "PROTOCOL_VERSION",
    "REJECT_REASONS",
    "Centre",
    "ChocoNode",
    "Codec",
    "CodecConfig",
    "CurveKeys",
    "Delivery",
    "EncodedDelta",
    "EncodedTensor",
    "Endpoint",
    "ExactGossipNode",
    "Kind",
    "Limits",
    "Message",
    "Outgoing",
    "ProtocolConfig",
    "ProtocolError",
    "Receiver",
    "Session",
    "TopologyConfig",
    "TransportStats",
    "build",
    "decode",
    "decode_delta",
    "disagreement",
    "encode",
    "flatten",
    "get_codec",
    "mixing_matrix",
    "neighbours",
    "new_key",
    "open_payload",
    "rounds_bound",
    "run_rounds",
    "spectral_gap",
    "unflatten",
]

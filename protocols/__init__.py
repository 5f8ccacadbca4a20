"""protocols — what the runtime speaks when brains share what they learned (docs/protocol.md).

Depends on numpy, msgpack, pyzmq, networkx and (for the sparse mixing product) torch; no
Ray, no model. Modules, small to whole: `varint` (delta-coded indices), `compression` (delta
codecs), `rowcodec` (a host's K rows compressed in one pass), `messages` (kinds, version,
reject reasons), `codec` (signed frames, `Session`/`Receiver`), `transport` (ZeroMQ
`Endpoint`), `batching` (many brains' payloads in one message), `evidence` (belief
increments, each fused once), `topology` (graphs, mixing weights), and the round
algorithms as pure functions: `gossip` (CHOCO mixing), `aggregation` (hub rules), `centre`
(hub election with terms).

How a host runs one knowledge round (what `swarm.host` and `swarm.exchange_*` do; CHOCO
gossip on a ring, a host speaking for the brains `local`)::

    key = new_key()                                   # once per run, shared through Ray
    ep = Endpoint(node_id=host)                       # ROUTER on 127.0.0.1:<free port>
    ...exchange ep.address with the other hosts through Ray, then:
    for peer, address in enumerate(addresses):
        ep.connect(peer, address)                     # every host, itself included
    receiver = Receiver(run_id, key)
    sessions = {b: Session(run_id, b, key) for b in local}   # one per sending brain

    layout = RowLayout(bank.flat_layout())
    q = RowEncoder("topk_int8", 0.1, False, layout, None, len(local)).encode(
        bank.read_flat() - xhat[local], local)        # q_i = C(x_i − x̂_i), each once
    for out in batch_messages(Kind.DELTA, dest, brains, q, r, per_brain_bytes, max_bytes):
        frames = sessions[out.msg.sender].encode(out.msg.kind, round=r, body=out.msg.body,
                                                 tensors=out.msg.tensors)
        ep.send(dest, frames)
    while the round's expected (kind, sender) messages are missing:   # rounds are barriers
        try:
            d = receiver.accept(ep.recv(timeout_ms=...)[1])   # verified, decompressed
            parts = per_brain(d, n_brains)                    # checked batch
        except ProtocolError:
            continue                                          # counted by reason
        for brain, arrays in parts:
            xhat[brain] += layout.unpack(arrays)
    bank.add_flat(choco_pull(mixing_rows(build("ring", n), local), xhat, local, gamma))

A hub round instead uploads deltas to the hub's host, which applies
`aggregation.hub_aggregate` and broadcasts one DELTA; the `dynamic` topology first sends
batched HEARTBEATs that every host feeds to the same `centre.Election`.
"""

from protocols.aggregation import AGGREGATORS, hub_aggregate
from protocols.batching import (
    Outgoing,
    RowEncoder,
    RowLayout,
    batch_messages,
    batches,
    per_brain,
)
from protocols.centre import Election, elect
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
from protocols.gossip import choco_pull, mixing_rows
from protocols.messages import (
    BROADCAST,
    PROTOCOL_VERSION,
    REJECT_REASONS,
    Kind,
    Message,
    ProtocolError,
)
from protocols.topology import KINDS, build, mixing_matrix, rounds_bound
from protocols.transport import CurveKeys, Endpoint, TransportStats

__all__ = [
    "AGGREGATORS",
    "BROADCAST",
    "CODECS",
    "KINDS",
    "PROTOCOL_VERSION",
    "REJECT_REASONS",
    "Codec",
    "CodecConfig",
    "CurveKeys",
    "Delivery",
    "Election",
    "EncodedDelta",
    "EncodedTensor",
    "Endpoint",
    "Kind",
    "Limits",
    "Message",
    "Outgoing",
    "ProtocolConfig",
    "ProtocolError",
    "Receiver",
    "RowEncoder",
    "RowLayout",
    "Session",
    "TopologyConfig",
    "TransportStats",
    "batch_messages",
    "batches",
    "build",
    "choco_pull",
    "decode",
    "decode_delta",
    "elect",
    "encode",
    "get_codec",
    "hub_aggregate",
    "mixing_matrix",
    "mixing_rows",
    "new_key",
    "open_payload",
    "per_brain",
    "rounds_bound",
]

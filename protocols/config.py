"""Configuration of knowledge sharing: codec, topology, aggregation, security, rounds.

The `Literal` types here are the one list of each choice: `protocols.compression.CODECS`,
`protocols.topology.KINDS` and the keys of `protocols.aggregation.AGGREGATORS` are typed or
derived from them, so a name the config accepts is one the code implements.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AggregationRule",
    "CodecConfig",
    "CodecKind",
    "ProtocolConfig",
    "TopologyConfig",
    "TopologyKind",
]

TopologyKind = Literal[
    "star",
    "ring",
    "complete",
    "random_regular",
    "small_world",
    "erdos_renyi",
    "grid",
    "radio",
    "edges",
    "dynamic",
]
CodecKind = Literal["none", "fp16", "int8", "topk", "topk_int8", "group"]
AggregationRule = Literal[
    "mean", "weighted_mean", "median", "trimmed_mean", "krum", "multi_krum", "centered_clipping"
]


class TopologyConfig(BaseModel):
    """Who talks to whom. `star` and `dynamic` aggregate at a hub; the others gossip."""

    model_config = ConfigDict(extra="forbid")

    kind: TopologyKind = Field(
        "ring",
        description="graph shape; `star` and `dynamic` aggregate at a hub, the others gossip",
    )
    degree: int = Field(4, ge=1, description="random_regular degree; small_world k")
    p: float = Field(0.2, ge=0, le=1, description="small_world rewiring / erdos_renyi edge prob")
    radio_range: float = Field(16.0, gt=0, description="radio: edge when within this many cells")
    edges: list[tuple[int, int]] = Field(default_factory=list, description="kind: edges")
    heartbeat_timeout: int = Field(
        3, ge=1, description="dynamic: silent heartbeats before failover"
    )
    hysteresis: float = Field(
        0.05, ge=0, description="dynamic: competence margin a challenger needs to unseat the hub"
    )


class CodecConfig(BaseModel):
    """How a weight delta is compressed on the wire."""

    model_config = ConfigDict(extra="forbid")

    kind: CodecKind = Field("topk_int8", description="delta codec on the wire")
    fraction: float = Field(0.1, gt=0, le=1, description="topk: fraction of entries kept")


class ProtocolConfig(BaseModel):
    """The knowledge protocol for the `swarm` team (docs/protocol.md)."""

    model_config = ConfigDict(extra="forbid")

    sync_every: int = Field(10, ge=1, description="ticks between knowledge rounds")
    topology: TopologyConfig = Field(default_factory=TopologyConfig)
    codec: CodecConfig = Field(default_factory=CodecConfig)
    aggregation: AggregationRule = Field(
        "mean",
        description="how a hub combines deltas (star, dynamic): mean, weighted_mean, or a "
        "robust rule: median, trimmed_mean, krum, multi_krum, centered_clipping",
    )
    byzantine_f: int | None = Field(
        None,
        ge=0,
        description="Byzantine contributions the robust hub rules assume (empty: (n-3)//4)",
    )
    gossip_clip: bool = Field(
        False,
        description="gossip: self-centred clipping, each brain adds its neighbours' "
        "differences clipped to clip_radius (robust to Byzantine neighbours)",
    )
    clip_radius: float | None = Field(
        None,
        gt=0,
        description="L2 radius of gossip_clip and centered_clipping (empty: automatic, the "
        "lower median of the distances)",
    )
    gossip: Literal["exact", "choco"] = Field(
        "choco", description="gossip rule: exact averaging, or CHOCO-Gossip for compressed deltas"
    )
    gossip_step: float = Field(
        0.3,
        gt=0,
        le=1,
        description="CHOCO step; top-k 10% on a ring of 16: 0.3 converges, 0.5 diverges",
    )
    share_weights: bool = Field(
        True, description="exchange weight deltas (false: an ablation, brains learn alone)"
    )
    share_beliefs: bool = Field(True, description="exchange belief-map updates")
    share_claims: bool = Field(
        True, description="exchange goal claims (CLAIM) so sharing drones keep apart"
    )
    security: Literal["hmac", "curve"] = "hmac"
    max_message_bytes: int = Field(64 * 2**20, ge=1024, le=2**30)
    replay_window: int = Field(
        1024,
        ge=1,
        le=2**16,  # one bit per number and sender: 8 KiB each at the bound
        description="sequence numbers behind a sender's highest still accepted once",
    )

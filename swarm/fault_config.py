"""A run's `faults:` section: what goes wrong, when and to whom (docs/faults.md).

```yaml
faults:
  loss: 0.1                    # P(a brain-to-brain message is lost), per link per round
  delay: 0.05                  # P(it arrives `delay_rounds` rounds late)
  delay_rounds: 1
  links: [{src: 3, dst: 4, loss: 0.5}]        # per directed link (overrides the above)
  partitions: [{start: 100, end: 200, groups: [[0, 1, 2, 3], [4, 5, 6, 7]]}]
  crashes: [{drone: 5, tick: 120}]           # the drone goes silent and stops flying
  hub_crash: 150                             # star / dynamic: the hub of that time crashes
  byzantine: {fraction: 0.2, attack: alie}   # or drones: [1, 7]
```

Everything is drawn from the mission's seed (`swarm.faults.FaultPlan`), so a seed gives the
same faults on every host layout. Ticks are world ticks; a round is held every
`protocol.sync_every` ticks, and a fault of tick t hits the first round at or after it.
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, model_validator

from protocols.attacks import AttackKind

__all__ = [
    "ByzantineConfig",
    "CrashConfig",
    "FaultsConfig",
    "LinkConfig",
    "PartitionConfig",
    "fault_problems",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


Probability = Field(ge=0.0, le=1.0)


class LinkConfig(_Strict):
    """One directed link's own loss and delay probabilities (brain `src` -> brain `dst`)."""

    src: NonNegativeInt = Field(description="sending drone (its brain)")
    dst: NonNegativeInt = Field(description="receiving drone (its brain)")
    loss: float = Field(0.0, ge=0.0, le=1.0, description="P(lost) per round")
    delay: float = Field(0.0, ge=0.0, le=1.0, description="P(late by delay_rounds) per round")

    @model_validator(mode="after")
    def _sum(self) -> Self:
        if self.loss + self.delay > 1.0:
            raise ValueError("loss + delay is a probability: at most 1")
        return self


class PartitionConfig(_Strict):
    """From tick `start` until tick `end` (healed then; empty: never) messages cross no
    boundary between `groups`; drones listed in no group form one more group together."""

    start: NonNegativeInt = Field(0, description="tick the partition begins")
    end: NonNegativeInt | None = Field(None, description="tick it heals (empty: never)")
    groups: list[list[NonNegativeInt]] = Field(
        min_length=1, description="disjoint lists of drone ids, one per side"
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        seen: set[int] = set()
        for g in self.groups:
            twice = seen & set(g)
            if twice:
                raise ValueError(f"drones {sorted(twice)} are in two groups; groups are disjoint")
            seen |= set(g)
        return self


class CrashConfig(_Strict):
    """Drone `drone` crashes at tick `tick`: it sends nothing more and stops flying."""

    drone: NonNegativeInt
    tick: NonNegativeInt


class ByzantineConfig(_Strict):
    """Byzantine drones: they learn honestly but send `attack` instead of their update, in
    correctly signed messages (`protocols.attacks`). Name them (`drones`) or draw a
    `fraction` of the team from the seed (rounded to the nearest count)."""

    drones: list[NonNegativeInt] = Field(default_factory=list, description="drone ids")
    fraction: float = Field(0.0, ge=0.0, lt=1.0, description="share of drones, drawn per seed")
    attack: AttackKind = Field(
        "gaussian", description="gaussian, sign_flip, scaled, nan, inf, alie or ipm"
    )
    sigma: float = Field(1.0, gt=0, description="gaussian: noise standard deviation")
    scale: float = Field(10.0, description="scaled: factor on the honest update")
    tau: float | None = Field(
        None, gt=0, description="alie / ipm: attack factor (empty: ByzFL's 1.5 / 2.0)"
    )
    start: NonNegativeInt = Field(0, description="tick the attack begins")

    @model_validator(mode="after")
    def _one_way(self) -> Self:
        if self.drones and self.fraction:
            raise ValueError("give byzantine drones or a fraction, not both")
        return self


class FaultsConfig(_Strict):
    """Injected failures of the knowledge exchange (none by default)."""

    loss: float = Field(0.0, ge=0.0, le=1.0, description="P(a message is lost), per link, round")
    delay: float = Field(0.0, ge=0.0, le=1.0, description="P(a message is late), per link, round")
    delay_rounds: int = Field(1, ge=1, description="rounds a late message arrives after")
    links: list[LinkConfig] = Field(default_factory=list, description="per-link loss and delay")
    partitions: list[PartitionConfig] = Field(default_factory=list)
    crashes: list[CrashConfig] = Field(default_factory=list)
    hub_crash: NonNegativeInt | None = Field(
        None, description="star / dynamic: tick the hub of that time crashes (empty: never)"
    )
    byzantine: ByzantineConfig = Field(default_factory=ByzantineConfig)

    @model_validator(mode="after")
    def _sum(self) -> Self:
        if self.loss + self.delay > 1.0:
            raise ValueError("loss + delay is a probability: at most 1")
        return self

    @property
    def active(self) -> bool:
        """Whether any fault is configured (a clean run takes the exact fault-free path)."""
        b = self.byzantine
        return bool(
            self.loss
            or self.delay
            or self.links
            or self.partitions
            or self.crashes
            or self.hub_crash is not None
            or b.drones
            or b.fraction
        )


def fault_problems(
    faults: FaultsConfig, drones: int, topology: str = "star"
) -> list[tuple[tuple[str | int, ...], str]]:
    """(loc, message) of every drone id in `faults` outside the team of `drones`, and of a
    `hub_crash` on a `topology` without a hub."""
    out: list[tuple[tuple[str | int, ...], str]] = []
    if faults.hub_crash is not None and topology not in ("star", "dynamic"):
        out.append(
            (
                ("faults", "hub_crash"),
                f"topology {topology} has no hub to crash; use star or dynamic, or crashes",
            )
        )

    def check(loc: tuple[str | int, ...], ids: list[int]) -> None:
        bad = sorted({i for i in ids if i >= drones})
        if bad:
            out.append((("faults", *loc), f"drones {bad} do not exist: ids are 0..{drones - 1}"))

    for i, link in enumerate(faults.links):
        check(("links", i), [link.src, link.dst])
    for i, part in enumerate(faults.partitions):
        check(("partitions", i, "groups"), [d for g in part.groups for d in g])
    for i, crash in enumerate(faults.crashes):
        check(("crashes", i, "drone"), [crash.drone])
    check(("byzantine", "drones"), faults.byzantine.drones)
    return out

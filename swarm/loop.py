"""One mission: a team of brains (a configured HostPool) flying one seeded world.

```
world = REGISTRY[scenario](cfg.world, n_drones(team), seed)     # same world seeds for every team
pool.configure(team, seed, world.public_info(), world.token_spec, n_drones)
every tick:   obs = world.observe(); actions = pool.act(obs); world.step(actions)
              on_tick(tick, world.tick_metrics(), last)
every sync_every ticks: pool.exchange(round)                  # brains talk over ZeroMQ
every probe_every ticks (and at 0 and the end): AUC of the brains on world.probe_set()
              (the source probe) and world.field_probe_set(), if the world has them, and
              the field AUC so far (scenarios.field: evaluation only), and each brain's
              AUC on world.concept_probe_set() with the concept's witnesses (scenarios.concept)
until world.done or the horizon; then world.metrics() + the pool's cost counters
```
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from swarm.faults import FAULT_STATS
from swarm.teams import team_drones

if TYPE_CHECKING:
    import numpy as np

    from scenarios.base import Actions, Observation, TokenSpec
    from scenarios.concept import ConceptPoint
    from scenarios.info import WorldInfo
    from swarm.config import RunConfig
    from swarm.trajectory import Recorder

__all__ = [
    "ADDITIVE_STATS",
    "Episode",
    "PoolLike",
    "make_world",
    "run_episode",
    "stat_delta",
]

#: Pool counters that grow over the pool's life; an episode reports their growth in its run.
ADDITIVE_STATS = (
    "train_steps",
    "cpu_seconds",
    "wire_messages",
    "wire_bytes",
    "host_socket_messages",
    "host_socket_bytes",
    "host_socket_received",
    "rejected_messages",
    "quarantined_brains",
    *FAULT_STATS,  # injected faults (swarm.faults)
)

TickCallback = Callable[[int, Mapping[str, float], bool], None]


class PoolLike(Protocol):
    """What the loop needs of `swarm.pool.HostPool` (its docstring is the full API).

    A Protocol rather than the class: `swarm.pool` imports this module (ADDITIVE_STATS), so
    naming HostPool here would close an import circle and pull Ray and torch into the loop."""

    def configure(
        self,
        team: str,
        seed: int,
        world_info: WorldInfo,
        token_spec: TokenSpec,
        n_drones: int,
        team_cfg: RunConfig | None = None,
    ) -> None: ...
    def act(self, obs: Observation) -> Actions: ...
    def exchange(self, round_idx: int) -> None: ...
    def probe_auc(self, tokens: np.ndarray, labels: np.ndarray) -> float: ...
    def brain_aucs(self, tokens: np.ndarray, labels: np.ndarray) -> np.ndarray: ...
    def stats(self) -> dict[str, float]: ...


@dataclass
class Episode:
    """The outcome of one team x seed run (one `runs` entry of results.json)."""

    team: str
    seed: int
    ticks: int  # ticks actually flown (a mission may end early, e.g. target found)
    horizon: int | None  # the most ticks it could have flown
    metrics: dict[str, float]  # world.metrics() at the end, plus the brains' last "auc"
    stats: dict[str, float]  # pool cost counters for this run (see ADDITIVE_STATS)
    auc_curve: list[tuple[int, float]] = field(default_factory=list)  # (tick, AUC)
    # (tick, field AUC so far, field-probe AUC); evaluation only, NaN where undefined
    field_curve: list[tuple[int, float, float]] = field(default_factory=list)
    # the knowledge-transfer concept probe per brain (scenarios.concept); evaluation only
    concept_curve: list[ConceptPoint] = field(default_factory=list)
    rounds: int = 0  # knowledge rounds held
    wall_seconds: float = 0.0
    # host actors Ray restarted during the mission (`HostPool.restarts`); only when any
    restarts: list[dict[str, Any]] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        """As plain data for results.json (without the team, which is its key there)."""
        out = asdict(self)
        out.pop("team")
        out["auc_curve"] = [list(p) for p in self.auc_curve]
        out["field_curve"] = [list(p) for p in self.field_curve]
        out["concept_curve"] = [p.record() for p in self.concept_curve]
        if not self.restarts:  # a run without restarts records none (results unchanged)
            out.pop("restarts")
        return out


def make_world(cfg: RunConfig, n_drones: int, seed: int) -> Any:
    """The scenario world of a RunConfig for `n_drones` drones on world seed `seed`.

    A run-level `ticks` (the CLI's `--ticks`) becomes the world's `horizon`, so the world
    itself ends the mission there and censors time-to-find at the right tick.
    """
    from scenarios import REGISTRY

    if cfg.scenario not in REGISTRY:
        raise KeyError(f"unknown scenario {cfg.scenario!r}; registered: {sorted(REGISTRY)}")
    cls = REGISTRY[cfg.scenario]
    world_cfg = cfg.world
    if not isinstance(world_cfg, cls.Config):
        data = world_cfg.model_dump() if hasattr(world_cfg, "model_dump") else world_cfg
        world_cfg = cls.Config.model_validate(data)
    ticks = getattr(cfg, "ticks", None)
    if ticks and "horizon" in type(world_cfg).model_fields:
        world_cfg = world_cfg.model_copy(update={"horizon": int(ticks)})
    return cls(world_cfg, n_drones=n_drones, seed=seed)


def stat_delta(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
    """Cost of one run: growth of the additive counters, current value of the others."""
    out: dict[str, float] = {}
    for key, val in after.items():
        out[key] = val - before.get(key, 0) if key in ADDITIVE_STATS else val
    if "cpu_seconds" in out:
        out["cpu_seconds"] = round(float(out["cpu_seconds"]), 3)
    return out


def run_episode(
    cfg: RunConfig,
    team: str,
    seed: int,
    pool: PoolLike,
    *,
    on_start: Callable[[int | None], None] | None = None,
    on_tick: TickCallback | None = None,
    probe_every: int | None = None,
    recorder: Recorder | None = None,
) -> Episode:
    """Fly one mission of `team` on world seed `seed` with an already started `pool`.

    `cfg` is the RunConfig this team flies with (`RunConfig.team_config`: the run's, or a
    variant's; scenario, world, drones, ticks, protocol.sync_every) and `team` its base
    preset (`swarm.teams.TEAMS`). The mission
    stops when the world says done or after `cfg.ticks` ticks when that is set. `probe_every`
    defaults to a tenth of the horizon. `on_start(horizon)` is called once the world exists;
    `on_tick(tick, tick_metrics, last)` after every step (tick counts from 1). A `recorder`
    (`swarm.trajectory`, evaluation only) watches the mission and writes its recording.
    """
    # with the worlds (make_world imports them too)
    from scenarios.concept import ConceptPoint, non_witness_lift
    from scenarios.field import FieldScores

    start = time.perf_counter()
    n = team_drones(team, cfg.drones)
    world = make_world(cfg, n, seed)
    horizon = _horizon(cfg, world)
    every = probe_every or max(1, (horizon or 100) // 10)
    if on_start is not None:
        on_start(horizon)
    # cfg travels with the team: a team variant flies other models/learner/protocol
    pool.configure(team, seed, world.public_info(), world.token_spec, n, cfg)
    before = pool.stats()
    if recorder is not None:
        recorder.start(world, pool, horizon)
    # a world without a probe set (optional in the contract) simply has no AUC curve
    probe = world.probe_set()
    field_probe = world.field_probe_set()
    concept_probe = world.concept_probe_set()
    scores = FieldScores()
    ccurve: list[ConceptPoint] = []
    curve: list[tuple[int, float]] = []
    fcurve: list[tuple[int, float, float]] = []

    def score(at: int) -> None:
        if probe is not None:
            curve.append((at, float(pool.probe_auc(*probe))))
        if field_probe is not None or scores.recorded:
            f = scores.auc()
            fp = float(pool.probe_auc(*field_probe)) if field_probe is not None else float("nan")
            fcurve.append((at, f, fp))
        if concept_probe is not None:  # per brain, with who has met the concept
            aucs = tuple(float(a) for a in pool.brain_aucs(*concept_probe))
            ccurve.append(ConceptPoint(at, aucs, tuple(world.concept_witnesses().tolist())))

    score(0)
    sync_every = cfg.protocol.sync_every
    tick = rounds = 0
    while not world.done and (horizon is None or tick < horizon):
        obs = world.observe()
        actions = pool.act(obs)
        truth = world.candidate_truth(obs.cells)  # evaluation only: into the record, nowhere else
        if truth is not None:
            scores.record(actions.detect, truth)
        if recorder is not None:
            recorder.before_step(world)
        world.step(actions)
        tick += 1
        last = world.done or (horizon is not None and tick >= horizon)
        row = None
        if on_tick is not None or recorder is not None:
            row = world.tick_metrics()
            if scores.recorded:  # the per-tick CSV's field AUC so far (evaluation only)
                row = {**row, "field_auc": scores.auc()}
        if recorder is not None:
            recorder.after_step(world, actions, tick, row)
        if tick % sync_every == 0 and not last:  # no round once the mission is over
            pool.exchange(rounds)
            if recorder is not None:
                recorder.after_round(rounds, tick)
            rounds += 1
        if tick % every == 0:
            score(tick)
        if on_tick is not None:
            on_tick(tick, row, last)
    if tick % every:
        score(tick)
    metrics = {k: _plain(v) for k, v in world.metrics().items()}
    if curve:
        metrics["auc"] = curve[-1][1]
    if fcurve:
        metrics["field_auc"], metrics["field_probe_auc"] = fcurve[-1][1], fcurve[-1][2]
    if ccurve:
        metrics["concept_auc_non_witness"] = ccurve[-1].non_witness
        metrics["concept_lift_non_witness"] = non_witness_lift(ccurve)
    episode = Episode(
        team=team,
        seed=seed,
        ticks=tick,
        horizon=horizon,
        metrics=metrics,
        stats=stat_delta(before, pool.stats()),
        auc_curve=curve,
        field_curve=fcurve,
        concept_curve=ccurve,
        rounds=rounds,
        wall_seconds=round(time.perf_counter() - start, 3),
        restarts=pool.restarts() if hasattr(pool, "restarts") else [],
    )
    if recorder is not None:
        recorder.finish(episode)
    return episode


def _horizon(cfg: RunConfig, world: Any) -> int | None:
    # the run's --ticks override wins; otherwise the world's own horizon, if it states one
    if getattr(cfg, "ticks", None):
        return int(cfg.ticks)
    val = getattr(getattr(world, "cfg", None), "horizon", None)
    return int(val) if isinstance(val, int) else None


def _plain(v: Any) -> float | int | bool:
    # numpy scalars -> Python numbers, so results compare and serialise exactly
    return v.item() if hasattr(v, "item") else v

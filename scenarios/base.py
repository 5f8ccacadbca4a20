"""The contract every world honours: tokens, observations, actions and the `Scenario` base.

See docs/architecture.md §1–2. One call of `observe()` / `step()` serves all drones at once;
every per-drone quantity is a numpy array with the drones on the first axis.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

import mesa
import numpy as np
from mesa.discrete_space import CellAgent, OrthogonalMooreGrid
from pydantic import BaseModel

from scenarios.bodies import DroneBodies
from scenarios.info import WorldInfo
from scenarios.problems import Problem

__all__ = ["Actions", "Drone", "Observation", "Scenario", "TokenSpec", "build_tokens"]


@dataclass(frozen=True)
class TokenSpec:
    """What brains read: `input_dim` features per token and the supervised heads' widths."""

    input_dim: int
    heads: dict[str, int] = field(default_factory=lambda: {"detect": 1})


def build_tokens(
    obs: np.ndarray, ctx: np.ndarray, ref: np.ndarray, alt_frac: np.ndarray
) -> np.ndarray:
    """Detection tokens in the layout of docs/architecture.md §1.

    obs, ctx, ref: (N, A) candidate appearance, footprint mean, reference signature;
    alt_frac: (N,) altitude / max altitude. Returns (N, 3A + 2) float32
    `[obs | ctx | ref | alt | sim]` with sim = cos(obs - ctx, ref) in [-1, 1].
    """
    n, a = obs.shape
    diff = obs - ctx
    num = np.einsum("na,na->n", diff, ref)
    den = np.linalg.norm(diff, axis=1) * np.linalg.norm(ref, axis=1)
    sim = np.divide(num, den, out=np.zeros(n, dtype=np.float64), where=den > 1e-12)
    out = np.empty((n, 3 * a + 2), dtype=np.float32)
    out[:, :a], out[:, a : 2 * a], out[:, 2 * a : 3 * a] = obs, ctx, ref
    out[:, 3 * a] = alt_frac
    out[:, 3 * a + 1] = np.clip(sim, -1.0, 1.0)
    return out


@dataclass
class Observation:
    """One tick's batch for N drones (docs/architecture.md §2).

    tokens (N, input_dim) float32; cells (N, 2) int32 row, col each token describes;
    pose (N, 4) float32 row, col, altitude m, battery fraction; busy (N,) bool; late labels
    for head `detect`: label_drone (M,) int64, label_tick (M,) int64, label_value (M,) float32.
    """

    tick: int
    tokens: np.ndarray
    cells: np.ndarray
    pose: np.ndarray
    busy: np.ndarray
    label_drone: np.ndarray
    label_tick: np.ndarray
    label_value: np.ndarray

    def __len__(self) -> int:
        return len(self.tokens)

    def select(self, idx: np.ndarray | list[int]) -> Observation:
        """The sub-batch of drones `idx` (ints, in the order given); labels of other drones are
        dropped and `label_drone` is remapped to positions within `idx`."""
        idx = np.asarray(idx, dtype=np.int64)
        if idx.ndim != 1 or (idx.size and (idx.min() < 0 or idx.max() >= len(self))):
            raise IndexError(f"select() needs a 1-D array of drone indices in [0, {len(self)})")
        local = np.full(len(self), -1, dtype=np.int64)
        local[idx] = np.arange(idx.size)
        keep = local[self.label_drone] >= 0 if self.label_drone.size else np.zeros(0, bool)
        return Observation(
            tick=self.tick,
            tokens=self.tokens[idx],
            cells=self.cells[idx],
            pose=self.pose[idx],
            busy=self.busy[idx],
            label_drone=local[self.label_drone[keep]],
            label_tick=self.label_tick[keep],
            label_value=self.label_value[keep],
        )


@dataclass
class Actions:
    """Commands for N drones: move (N, 2) int8 in {-1, 0, 1} (rows, cols), altitude (N,)
    float32 target metres, flag (N,) bool (inspect / report the token's cell).

    `detect` (N,) float32, optional: the detect logit each drone's brain gave this tick's
    token, reported for evaluation only (field AUC); worlds ignore it."""

    move: np.ndarray
    altitude: np.ndarray
    flag: np.ndarray
    detect: np.ndarray | None = None

    @classmethod
    def hold(cls, n: int, altitude: float | np.ndarray) -> Actions:
        """Stay in place at `altitude` metres, no flags."""
        alt = np.broadcast_to(np.asarray(altitude, dtype=np.float32), (n,)).copy()
        return cls(np.zeros((n, 2), np.int8), alt, np.zeros(n, bool))

    @classmethod
    def concat(cls, parts: list[Actions]) -> Actions:
        """Join shards, in the order given (the caller passes them in drone order)."""
        if not parts:
            raise ValueError("Actions.concat needs at least one Actions shard")
        detect = None
        if all(p.detect is not None for p in parts):
            detect = np.concatenate([p.detect for p in parts]).astype(np.float32)
        return cls(
            np.concatenate([p.move for p in parts]).astype(np.int8),
            np.concatenate([p.altitude for p in parts]).astype(np.float32),
            np.concatenate([p.flag for p in parts]).astype(bool),
            detect,
        )

    def take(self, idx: np.ndarray) -> Actions:
        """The actions of drones `idx` (ints), in that order."""
        detect = None if self.detect is None else self.detect[idx]
        return Actions(self.move[idx], self.altitude[idx], self.flag[idx], detect)

    def validate(self, n: int) -> None:
        """Raise ValueError with the fix if shapes or values break the contract."""
        if self.move.shape != (n, 2) or self.altitude.shape != (n,) or self.flag.shape != (n,):
            raise ValueError(
                f"Actions for {n} drones need move (N, 2), altitude (N,), flag (N,); got "
                f"{self.move.shape}, {self.altitude.shape}, {self.flag.shape}"
            )
        if np.abs(self.move).max(initial=0) > 1:
            raise ValueError("Actions.move entries must be -1, 0 or 1 (one cell per tick)")
        if not np.isfinite(self.altitude).all():
            raise ValueError("Actions.altitude must be finite metres")


class Drone(CellAgent):
    """A drone's Mesa body. The numbers live in the world's arrays (index `i`); the agent is
    a view kept on the right grid cell so Mesa tools (cells, agent sets) see the swarm."""

    def __init__(self, model: Scenario, i: int) -> None:
        super().__init__(model)
        self.i = i

    @property
    def cell(self):
        """The grid cell, brought up to date with the position arrays on first look."""
        if self.model._dirty and not self.model._syncing:
            self.model.sync_agents()
        return self._mesa_cell

    @cell.setter
    def cell(self, cell) -> None:
        CellAgent.cell.fset(self, cell)

    @property
    def altitude(self) -> float:
        return float(self.model.bodies.alt[self.i])

    @property
    def battery(self) -> float:
        return float(self.model.bodies.battery[self.i])


class Scenario(mesa.Model, ABC):
    """Base of every world. A scenario author's tutorial, in six steps.

    1. **Config.** In `scenarios/<name>.py` write `class Config(BaseModel)` with
       `model_config = ConfigDict(extra="forbid")`, physical defaults (cells of `cell_m`
       metres, ticks of `tick_s` seconds) and `Field` bounds on every number. Cross-field rules
       go in `check(cfg, n_drones) -> list[Problem]` (the field to change and a message;
       empty means fine).
    2. **Subclass.** `class MyWorld(Scenario)` with `name = "my_world"` and `Config = Config`.
       In `__init__` call `super().__init__(cfg, n_drones, seed)`: it validates, seeds
       `self.streams` (independent numpy generators per purpose: terrain, truth, sensor, ...),
       builds the Mesa grid (`self.grid`, an `OrthogonalMooreGrid`), the drone bodies
       (`self.bodies`: positions, altitude, battery as arrays) and one `Drone` agent each
       (call `self.mark_moved()` after moving bodies; agents resync when looked at). Then
       build your maps (plain `(H, W)` numpy arrays) and hidden truth. Never store truth in
       anything `observe()` or `public_info()` returns. `public_info()` returns a frozen
       `scenarios.info.WorldInfo` subclass (`SearchInfo`, `PatrolInfo`, or your own with its
       `kind`); policies name the info type they read.
    3. **token_spec / observe.** Tokens follow docs/architecture.md §1 (`build_tokens`); the
       camera (`scenarios.sensors.Camera`) picks each drone's candidate cell without truth.
       `observe()` returns an `Observation` and delivers late labels queued with
       `self.queue_labels` once they are due.
    4. **step / metrics.** `step(actions)` validates, moves bodies (`self.bodies.move`),
       resolves flags, advances `self.tick` and sets `self.done`. `metrics()` is the summary so
       far, `tick_metrics()` a cheap row per tick. All work is vectorised over drones.
       Override `probe_set()` if the world can score detectors on held-out tokens.
    5. **Policies.** Add scripted policies to `scenarios/policies.py` (`make_policy`) so the
       world runs on its own, name the brains' `default_policy` and the standalone
       `scripted_policy` on the class, and add a `__main__` calling
       `scenarios.scripted.main(MyWorld)`.
    6. **Registry and YAML.** Add the class to `REGISTRY` in `scenarios/__init__.py`, write
       `scenarios/<name>.yaml` from the Config defaults, and add the world to the smoke test
       (tests/scenarios/test_registry.py runs every entry).
    """

    name: ClassVar[str] = "base"
    Config: ClassVar[type[BaseModel]]
    default_policy: ClassVar[str]  # what the brains fly with unless the run config names one
    scripted_policy: ClassVar[str]  # the simple baseline of standalone scripted runs
    stream_names: ClassVar[tuple[str, ...]] = ("terrain", "truth", "sensor", "events", "probe")

    def __init__(self, cfg: BaseModel, n_drones: int, seed: int) -> None:
        if not isinstance(cfg, self.Config):
            raise TypeError(f"{type(self).__name__} needs a {type(self).__name__}.Config")
        problems = self.check(cfg, n_drones)
        if problems:
            raise ValueError(f"{self.name} config rejected: " + "; ".join(map(str, problems)))
        super().__init__(rng=seed)
        self.cfg = cfg
        self.seed = int(seed)
        self.n_drones = int(n_drones)
        seqs = np.random.SeedSequence(self.seed).spawn(len(self.stream_names))
        self.streams = {
            k: np.random.default_rng(s) for k, s in zip(self.stream_names, seqs, strict=True)
        }
        self.shape = (int(cfg.height), int(cfg.width))
        self._grid = OrthogonalMooreGrid(self.shape, torus=False, random=self.random)
        self._dirty = self._syncing = False
        self.tick = 0
        self.done = False
        self._labels: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []  # due first

    @property
    def grid(self) -> OrthogonalMooreGrid:
        """The Mesa grid, with every drone agent on its current cell."""
        if self._dirty:
            self.sync_agents()
        return self._grid

    def _make_bodies(self, pos: np.ndarray, alt: float) -> None:
        """Create the drone arrays and their Mesa agents at `pos` (N, 2)."""
        self.bodies = DroneBodies(pos, alt, self.cfg, self.shape)
        self.drones = [Drone(self, i) for i in range(self.n_drones)]
        for d, (r, c) in zip(self.drones, pos.tolist(), strict=True):
            d.cell = self._grid[(r, c)]
        self._synced = pos.copy()

    def mark_moved(self) -> None:
        """Positions changed: Mesa views resync lazily, when someone looks at them (moving
        1000 Mesa agents costs more than the whole vectorised tick)."""
        self._dirty = True

    def sync_agents(self) -> None:
        """Move the Mesa agents of drones whose cell changed (only the movers)."""
        self._syncing = True
        pos = self.bodies.pos
        moved = np.flatnonzero((pos != self._synced).any(axis=1))
        for i in moved.tolist():
            self.drones[i].cell = self._grid[(int(pos[i, 0]), int(pos[i, 1]))]
        self._synced[moved] = pos[moved]
        self._dirty = self._syncing = False

    def queue_labels(self, drone: np.ndarray, tick: np.ndarray, value: np.ndarray, due: int):
        """Deliver labels (drone d's token of tick t was a true/false positive) at tick `due`."""
        if len(drone):
            self._labels.append((int(due), drone, tick, value))

    def _due_labels(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        due = [lab for lab in self._labels if lab[0] <= self.tick]
        self._labels = [lab for lab in self._labels if lab[0] > self.tick]
        if not due:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
        return (
            np.concatenate([d[1] for d in due]).astype(np.int64),
            np.concatenate([d[2] for d in due]).astype(np.int64),
            np.concatenate([d[3] for d in due]).astype(np.float32),
        )

    # The contract. Subclasses implement the abstract methods; the rest have defaults.
    @classmethod
    def check(cls, cfg: BaseModel, n_drones: int) -> list[Problem]:
        """Cross-field problems with `cfg` for `n_drones` drones; empty when consistent."""
        if n_drones >= 1:
            return []
        return [Problem("n_drones", f"n_drones must be at least 1, got {n_drones}")]

    @property
    def token_spec(self) -> TokenSpec:
        """Tokens of 3A + 2 features (`build_tokens`) and one "detect" head, A = appearance."""
        return TokenSpec(input_dim=3 * int(self.cfg.appearance_dim) + 2)

    @property
    def appearance_dim(self) -> int:
        """A: features of one appearance vector."""
        return int(self.cfg.appearance_dim)

    @abstractmethod
    def public_info(self) -> WorldInfo:
        """Static facts brains and policies may know (maps (H, W), limits), never truth; a
        fresh frozen dataclass each call."""

    @abstractmethod
    def observe(self) -> Observation:
        """This tick's batch for all N drones: tokens (N, input_dim), cells (N, 2), pose
        (N, 4), busy (N,), and the late labels now due (M,); same result within a tick."""

    @abstractmethod
    def step(self, actions: Actions) -> None:
        """Apply actions for all N drones (move (N, 2), altitude (N,), flag (N,)), advance
        `tick` by one and set `done` at the end of the mission."""

    @abstractmethod
    def metrics(self) -> dict[str, float]:
        """The mission's summary so far: metric name -> value."""

    @abstractmethod
    def tick_metrics(self) -> dict[str, float]:
        """A cheap row for this tick (one line of ticks.csv): metric name -> value."""

    def probe_set(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Held-out tokens (P, input_dim) float32 and labels (P,) in {0, 1} to score detectors
        on, the same every call; None (the default) where the world has none. Evaluation only:
        its labels come from truth and must never reach a brain's learning."""
        return None

    def field_probe_set(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Like `probe_set`, drawn where missions look (their altitudes and light); None (the
        default) where the world has none. Evaluation only."""
        return None

    def concept_probe_set(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Like `probe_set`, on the world's knowledge-transfer concept (scenarios.concept); None
        (the default) where the world has none. Evaluation only."""
        return None

    def concept_witnesses(self) -> np.ndarray | None:
        """(N,) bool: drones whose brain has received a label of the concept so far, or None
        (the default) where the world has no concept. Evaluation only."""
        return None

    def candidate_truth(self, cells: np.ndarray) -> np.ndarray | None:
        """(N,) bool: whether each candidate cell (N, 2) holds what the detector looks for, or
        None (the default) where the world does not say. Evaluation only: the run loop scores
        the brains' reported logits with it (field AUC) and passes it nowhere else."""
        return None

"""Mission recordings: one compact trajectory per team × seed, for the viewer (docs/recording.md).

A `Recorder` watches one mission from the driver (`swarm.loop.run_episode` calls it): the
drones' poses, batteries and camera footprints every tick, the world's events, every knowledge
round's messages (through the hosts' `swarm.wirelog`, drained with `HostPool.view_record`),
the brains' belief maps every few ticks, and the AUC curves. `finish` writes
`trajectories/<team>-s<seed>.npz` in the run folder and `load` reads one back as a `Trajectory`.

Everything here is evaluation-side: the recorder reads the world's truth (where the targets
are, which report was right) and nothing it holds ever reaches a brain or a policy (they run on
the hosts; the recorder only reads from them). Not to be confused with
`scenarios.recording`, which records scripted *token streams* as learner test data.

Size: the per-tick arrays cost ~10 bytes per drone-tick before compression; belief snapshots
are bounded by `MAX_BELIEF_BYTES` (the interval widens for long or wide runs) and the message
tables by `swarm.wirelog.MAX_ROWS` per round. `output.record: auto` records runs of at most
`SMALL_RUN_DRONE_TICKS` drone-ticks per mission.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any

import numpy as np

from protocols.messages import BROADCAST, Kind
from scenarios.config import footprint_radius
from swarm.wirelog import ACCEPTED, REJECTED

__all__ = [
    "CENTRE",
    "FORMAT_VERSION",
    "LIVE_FLUSH_S",
    "MAX_BELIEF_BYTES",
    "SMALL_RUN_DRONE_TICKS",
    "EventKind",
    "Recorder",
    "Trajectory",
    "find_recordings",
    "load",
    "record_enabled",
    "trajectory_path",
]

FORMAT_VERSION = 1
SMALL_RUN_DRONE_TICKS = 100_000
"""`output.record: auto` records a mission of at most this many drones × horizon ticks."""
MAX_BELIEF_BYTES = 64 * 2**20
"""Belief snapshots of one mission stay under this many raw (float16) bytes."""
BELIEF_SNAPSHOTS = 20
"""Snapshots per mission when `output.record_belief_every` is 0 (auto)."""
LIVE_FLUSH_S = 1.0
"""A live recording (`swarm.run --view`) is rewritten at most this often, in seconds (less
often when a rewrite takes long: `Recorder.flush`)."""
CENTRE = -1
"""Edge endpoint of the `central` team's centre host (it flies no drone)."""


class EventKind(IntEnum):
    """What happened at an event row (value: see each)."""

    INSPECT = 0  # search: a drone starts an inspection of `cell` (value 0)
    FALSE_ALARM = 1  # search: an inspection ends on a cell without a target
    FIND = 2  # search: an inspection ends on a target
    REPORT = 3  # patrol: a drone reports `cell`; value 1 if litter lay there (truth)
    CREW_CONFIRM = 4  # patrol: the crew confirms a report (its label arrives)
    CREW_REJECT = 5  # patrol: the crew finds nothing at a report
    CHARGE_START = 6  # patrol: a drone starts charging at a station
    CHARGE_END = 7  # patrol: it stops charging


def record_enabled(setting: bool | str, drones: int, horizon: int | None) -> bool:
    """Whether to record a mission: `output.record` true/false, or `auto` for small runs
    (drones × horizon ≤ SMALL_RUN_DRONE_TICKS; a run without a horizon is not small)."""
    if setting == "auto":
        return horizon is not None and drones * horizon <= SMALL_RUN_DRONE_TICKS
    return bool(setting)


def trajectory_path(run_dir: Path, team: str, seed: int) -> Path:
    """`RUN_DIR/trajectories/<team>-s<seed>.npz`."""
    return Path(run_dir) / "trajectories" / f"{team}-s{seed}.npz"


def find_recordings(run_dir: Path) -> dict[tuple[str, int], Path]:
    """(team, seed) -> path of every `trajectories/<team>-s<seed>.npz` of a run folder."""
    out = {}
    for p in sorted((Path(run_dir) / "trajectories").glob("*-s*.npz")):
        team, _, seed = p.stem.rpartition("-s")
        if team and seed.isdigit():
            out[(team, int(seed))] = p
    return out


def belief_interval(every: int, horizon: int, n: int, h: int, w: int) -> int:
    """Ticks between belief snapshots: `every` (0: horizon / BELIEF_SNAPSHOTS), widened so
    that snapshots of n (H, W) float16 maps over `horizon` ticks fit MAX_BELIEF_BYTES."""
    k = every or max(1, math.ceil(horizon / BELIEF_SNAPSHOTS))
    per = max(1, 2 * n * h * w)
    most = max(1, MAX_BELIEF_BYTES // per)  # snapshots that fit
    return max(k, math.ceil((horizon + 1) / most))


@dataclass
class _Events:
    tick: list[int] = field(default_factory=list)
    kind: list[int] = field(default_factory=list)
    drone: list[int] = field(default_factory=list)
    cell: list[tuple[int, int]] = field(default_factory=list)
    value: list[float] = field(default_factory=list)

    def add(self, tick: int, kind: EventKind, drones, cells, values=None) -> None:
        drones = np.asarray(drones).reshape(-1)
        cells = np.asarray(cells).reshape(-1, 2)
        vals = np.zeros(drones.size) if values is None else np.asarray(values).reshape(-1)
        for d, c, v in zip(drones.tolist(), cells.tolist(), vals.tolist(), strict=True):
            self.tick.append(tick)
            self.kind.append(int(kind))
            self.drone.append(d)
            self.cell.append((c[0], c[1]))
            self.value.append(float(v))


class Recorder:
    """Records one mission; see the module docstring. `belief_every` 0 is auto."""

    def __init__(
        self, path: Path, team: str, seed: int, belief_every: int = 0, live: bool = False
    ) -> None:
        self.path, self.team, self.seed = Path(path), team, seed
        self.belief_every = belief_every
        self.live = live  # rewrite the file every LIVE_FLUSH_S while the mission flies
        self._last_flush = time.monotonic()
        self._flush_gap = LIVE_FLUSH_S
        self._frames: dict[str, list[np.ndarray]] = {
            k: [] for k in ("pos", "alt", "battery", "radius", "busy")
        }
        self._metric_rows: list[dict[str, float]] = []
        self._ev = _Events()
        self._litter: list[np.ndarray] = []
        self._sent: list[tuple] = []
        self._heard: set[tuple[int, int, int]] = set()
        self._rejected: set[tuple[int, int, int]] = set()
        self._rounds: list[tuple[int, int, int, int]] = []  # round, tick, hub, term
        self._graph: dict[int, np.ndarray] = {}  # round -> (E, 2) brain edges
        self._beliefs: list[np.ndarray] = []
        self._belief_ticks: list[int] = []
        self._pending: list[tuple[int, int, int, int, bool]] = []  # patrol crew answers due
        self._tick = 0

    # -- during the mission ---------------------------------------------------------------
    def start(self, world: Any, pool: Any, horizon: int | None) -> None:
        """Static layers of `world` and its state at tick 0; switches the hosts' logs on."""
        self.world, self.pool = world, pool
        self.kind = world.name
        self.n = world.n_drones
        self.horizon = horizon or 1
        h, w = world.shape
        self.k = belief_interval(self.belief_every, self.horizon, self.n, h, w)
        self.plan = getattr(pool, "plan", None)
        self._frame(world)
        self._keep(pool.view_record(True), 0, beliefs=True)
        if self.live:
            self.flush()

    def before_step(self, world: Any) -> None:
        """State the events of this step are diffed against (call before world.step)."""
        if self.kind == "drone_search":
            self._busy0 = world.busy_left.copy()
            self._alive0 = world.bodies.alive.copy()
        elif self.kind == "litter_patrol":
            self._reports0 = len(world.reports)
            self._charging0 = world.charging.copy()

    def after_step(self, world: Any, actions: Any, tick: int, row: dict[str, float]) -> None:
        """The world after tick `tick`'s step: its frame, events and metrics row."""
        self._tick = tick
        self._frame(world)
        self._metric_rows.append({"tick": float(tick), **{k: float(v) for k, v in row.items()}})
        if self.kind == "drone_search":
            self._search_events(world, actions, tick)
        elif self.kind == "litter_patrol":
            self._patrol_events(world, tick)
        if tick % self.k == 0:
            self._keep(self.pool.view_record(True), tick, beliefs=True)
        if self.live and time.monotonic() - self._last_flush >= self._flush_gap:
            self.flush()

    def after_round(self, round_idx: int, tick: int) -> None:
        """After knowledge round `round_idx` (held after tick `tick`): its messages."""
        got = self.pool.view_record(False)
        self._keep(got, tick, beliefs=False, round_idx=round_idx)

    def _frame(self, world: Any) -> None:
        b, cfg = world.bodies, world.cfg
        f = self._frames
        f["pos"].append(b.pos.astype(np.int16))
        f["alt"].append(b.alt.astype(np.float16))
        f["battery"].append(b.battery.astype(np.float16))
        f["radius"].append(np.minimum(footprint_radius(b.alt, cfg.fov_deg, cfg.cell_m), 255))
        busy = getattr(world, "busy_left", None)
        if busy is None:
            busy = getattr(world, "charging", np.zeros(self.n, bool))
        f["busy"].append(np.asarray(busy) > 0)
        if self.kind == "litter_patrol":
            ev = world.events
            self._litter.append(ev.cell[ev.active].astype(np.int32))

    def _search_events(self, world: Any, actions: Any, tick: int) -> None:
        free = (self._busy0 == 0) & self._alive0
        started = np.flatnonzero(free & actions.flag)
        self._ev.add(tick, EventKind.INSPECT, started, world.inspect_cell[started])
        done = np.flatnonzero(((self._busy0 > 0) | (free & actions.flag)) & (world.busy_left == 0))
        if done.size:
            cells = world.inspect_cell[done]
            hit = world.is_target[cells[:, 0] * world.shape[1] + cells[:, 1]]
            self._ev.add(tick, EventKind.FIND, done[hit], cells[hit], np.ones(hit.sum()))
            self._ev.add(tick, EventKind.FALSE_ALARM, done[~hit], cells[~hit])

    def _patrol_events(self, world: Any, tick: int) -> None:
        w = world.shape[1]
        for d, t, c, true in world.reports[self._reports0 :]:
            self._ev.add(tick, EventKind.REPORT, [d], [divmod(c, w)], [float(true)])
            self._pending.append((t + world.cfg.crew_delay, d, c // w, c % w, bool(true)))
        due = [p for p in self._pending if p[0] <= tick]
        self._pending = [p for p in self._pending if p[0] > tick]
        for _, d, r, c, true in due:
            kind = EventKind.CREW_CONFIRM if true else EventKind.CREW_REJECT
            self._ev.add(tick, kind, [d], [(r, c)], [float(true)])
        on, was = world.charging, self._charging0
        idx = np.flatnonzero(on & ~was)
        self._ev.add(tick, EventKind.CHARGE_START, idx, world.bodies.pos[idx])
        idx = np.flatnonzero(~on & was)
        self._ev.add(tick, EventKind.CHARGE_END, idx, world.bodies.pos[idx])

    def _keep(self, hosts: list[dict], tick: int, beliefs: bool, round_idx: int = -1) -> None:
        hub = term = -1
        for rec in hosts:
            # a row's tick: its round's (an OBS upload's round is its observation's tick)
            self._sent += [(*row, row[0] if row[1] == Kind.OBS else tick) for row in rec["sent"]]
            for sender, seq, dst, status in rec["heard"]:
                (self._heard if status == ACCEPTED else self._rejected).add((sender, seq, dst))
            hub, term = rec.get("hub", hub), rec.get("term", term)
            if "edges" in rec and round_idx >= 0:
                self._graph[round_idx] = rec["edges"]
        if round_idx >= 0:
            self._rounds.append((round_idx, tick, hub, term))
        if beliefs:
            parts = [(r["drones"], r["belief"]) for r in hosts if "belief" in r]
            if parts:
                ids = np.concatenate([p[0] for p in parts])
                maps = np.concatenate([p[1] for p in parts]).astype(np.float16)
                if len(ids) == self.n:  # one map per drone (in drone order)
                    out = np.empty_like(maps)
                    out[ids] = maps
                    self._beliefs.append(out)
                    self._belief_ticks.append(tick)

    # -- the file -------------------------------------------------------------------------
    def finish(self, episode: Any) -> Path:
        """Write the recording (the episode gives the AUC curves); returns its path."""
        return self._write(episode.ticks, episode.metrics, episode.auc_curve, episode.field_curve)

    def flush(self) -> Path:
        """Write the recording so far (`meta.live` true), for a viewer watching the run.

        The next live write waits LIVE_FLUSH_S, or 49 times what this one took if that is
        longer, so rewriting a growing file costs the mission at most ~2 % of its time."""
        t0 = time.monotonic()
        path = self._write(self._tick, {}, [], [], live=True)
        self._last_flush = time.monotonic()
        self._flush_gap = max(LIVE_FLUSH_S, 49 * (self._last_flush - t0))
        return path

    def _write(self, ticks: int, metrics, auc_curve, field_curve, live: bool = False) -> Path:
        world, f = self.world, self._frames
        arrays: dict[str, np.ndarray] = {
            "pos": np.stack(f["pos"]),
            "alt": np.stack(f["alt"]),
            "battery": np.stack(f["battery"]),
            "radius": np.stack(f["radius"]).astype(np.uint8),
            "busy": np.stack(f["busy"]),
            "terrain": world.terrain.astype(np.int8),
            "event_tick": np.asarray(self._ev.tick, np.int32),
            "event_kind": np.asarray(self._ev.kind, np.uint8),
            "event_drone": np.asarray(self._ev.drone, np.int32),
            "event_cell": np.asarray(self._ev.cell, np.int16).reshape(-1, 2),
            "event_value": np.asarray(self._ev.value, np.float32),
            "belief_tick": np.asarray(self._belief_ticks, np.int32),
            "belief": (
                np.stack(self._beliefs)
                if self._beliefs
                else np.zeros((0, self.n, *world.shape), np.float16)
            ),
            "round": np.asarray(self._rounds, np.int32).reshape(-1, 4),
        }
        arrays.update(_static_layers(world))
        arrays.update(self._message_tables())
        arrays.update(_metric_columns(self._metric_rows))
        if self._litter:
            arrays["litter_offsets"] = np.cumsum([0] + [len(x) for x in self._litter]).astype(
                np.int32
            )
            arrays["litter_cells"] = np.concatenate(self._litter).astype(np.int32)
        auc = np.asarray(auc_curve, np.float32).reshape(-1, 2)
        fcurve = np.asarray(field_curve, np.float32).reshape(-1, 3)
        arrays["auc_curve"], arrays["field_curve"] = auc, fcurve
        meta = {
            "format_version": FORMAT_VERSION,
            "scenario": self.kind,
            "team": self.team,
            "seed": self.seed,
            "drones": self.n,
            "ticks": int(ticks),
            "live": live,
            "horizon": self.horizon,
            "belief_every": self.k,
            "shape": list(world.shape),
            "cell_m": float(world.cfg.cell_m),
            "tick_s": float(world.cfg.tick_s),
            "metrics": {k: _plain(v) for k, v in metrics.items()},
        }
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.part")  # not a recording's name
        with tmp.open("wb") as fh:
            np.savez_compressed(fh, **arrays)
        tmp.replace(self.path)  # a viewer reads the old or the new file, never half of one
        return self.path

    def _message_tables(self) -> dict[str, np.ndarray]:
        """The wire messages (one row per message and destination host) and the drone-level
        edges derived from them (bytes shared evenly over a message's edges)."""
        msg_rows, edge_rows = [], []
        for row in self._sent:
            rnd, kind, sender, recipient, seq, src, dst, nbytes, brains, tick = row
            key = (sender, seq, dst)
            status = ACCEPTED if key in self._heard else REJECTED
            msg_rows.append((rnd, tick, kind, sender, src, dst, nbytes, status, len(brains)))
            pairs = self._edges_of(kind, rnd, recipient, src, dst, brains)
            for a, b in pairs:
                edge_rows.append((rnd, tick, kind, a, b, nbytes / len(pairs), status))
        msgs = np.asarray(msg_rows, np.int64).reshape(-1, 9)
        edges = np.asarray(edge_rows, np.float64).reshape(-1, 7)
        return {
            "msg_round": msgs[:, 0].astype(np.int32),
            "msg_tick": msgs[:, 1].astype(np.int32),
            "msg_kind": msgs[:, 2].astype(np.uint8),
            "msg_sender": msgs[:, 3].astype(np.int32),
            "msg_src_host": msgs[:, 4].astype(np.int16),
            "msg_dst_host": msgs[:, 5].astype(np.int16),
            "msg_bytes": msgs[:, 6].astype(np.int64),
            "msg_status": msgs[:, 7].astype(np.uint8),
            "msg_brains": msgs[:, 8].astype(np.int32),
            "edge_round": edges[:, 0].astype(np.int32),
            "edge_tick": edges[:, 1].astype(np.int32),
            "edge_kind": edges[:, 2].astype(np.uint8),
            "edge_src": edges[:, 3].astype(np.int32),
            "edge_dst": edges[:, 4].astype(np.int32),
            "edge_bytes": edges[:, 5].astype(np.float32),
            "edge_status": edges[:, 6].astype(np.uint8),
        }

    def _edges_of(
        self, kind: int, rnd: int, recipient: int, src: int, dst: int, brains: tuple[int, ...]
    ) -> list[tuple[int, int]]:
        """Drone-to-drone (or drone-to-centre) edges one message from host `src` to host `dst`
        stands for: a hub upload to the hub, a broadcast or heartbeat to every brain on `dst`,
        a gossip message to the sender brains' neighbours on `dst` in that round's graph."""
        plan = self.plan
        if plan is None:
            return []
        if kind == Kind.OBS:  # central: a host's drones upload their observation to the centre
            return [(int(d), CENTRE) for d in plan.drone_shards[src]]
        if plan.sharing == "central" or plan.n_brains != plan.n_drones:
            return []
        on_dst = set(plan.brains_on(dst).tolist())
        if recipient != BROADCAST:  # hub upload
            return [(b, recipient) for b in brains if b != recipient]
        if kind == Kind.HEARTBEAT:
            return [(b, j) for b in brains for j in sorted(on_dst) if j != b]
        graph = self._graph.get(rnd)
        if plan.sharing == "hub" or graph is None:  # hub broadcast: to every brain there
            return [(b, j) for b in brains for j in sorted(on_dst) if j != b]
        nbrs: dict[int, list[int]] = {}
        for a, b in graph.tolist():
            nbrs.setdefault(a, []).append(b)
            nbrs.setdefault(b, []).append(a)
        return [(b, j) for b in brains for j in sorted(nbrs.get(b, ())) if j in on_dst]


def _plain(v: Any) -> Any:
    v = v.item() if hasattr(v, "item") else v
    return None if isinstance(v, float) and not math.isfinite(v) else v


def _metric_columns(rows: list[dict[str, float]]) -> dict[str, np.ndarray]:
    """Per-tick metrics as `metric/<name>` (T,) float32 columns (tick 1..T)."""
    names = list(dict.fromkeys(k for r in rows for k in r))
    return {f"metric/{k}": np.asarray([r.get(k, np.nan) for r in rows], np.float32) for k in names}


def _static_layers(world: Any) -> dict[str, np.ndarray]:
    """What the viewer draws under the drones (truth included: evaluation only)."""
    w = world.shape[1]
    out: dict[str, np.ndarray] = {}
    if world.name == "drone_search":
        out["prior"] = world.prior.astype(np.float32)
        out["targets"] = np.column_stack(np.divmod(world.target_flat, w)).astype(np.int16)
        out["distractors"] = np.column_stack(np.divmod(world.distractor_flat, w)).astype(np.int16)
    elif world.name == "litter_patrol":
        out["stations"] = np.column_stack(np.divmod(world.station_flat, w)).astype(np.int16)
        out["bins"] = np.column_stack(np.divmod(world.bin_flat, w)).astype(np.int16)
        out["river"] = world.river.astype(np.int16)
        out["nofly"] = world.nofly.copy()
        out["zone"] = world.zone.copy()
    return out


@dataclass
class Trajectory:
    """A loaded recording: `meta` (dict) and the arrays of docs/recording.md by name."""

    path: Path
    meta: dict[str, Any]
    arrays: dict[str, np.ndarray]

    def __getitem__(self, name: str) -> np.ndarray:
        return self.arrays[name]

    def get(self, name: str) -> np.ndarray | None:
        return self.arrays.get(name)

    @property
    def ticks(self) -> int:
        """Frames - 1 (frame t is the state after tick t; frame 0 the start)."""
        return int(self.arrays["pos"].shape[0]) - 1

    @property
    def metrics(self) -> dict[str, np.ndarray]:
        """Per-tick metric columns (T,), keyed by name."""
        return {k[7:]: v for k, v in self.arrays.items() if k.startswith("metric/")}

    def litter_at(self, t: int) -> np.ndarray:
        """(L, 2) active litter cells after tick t (patrol), empty otherwise."""
        off, cells = self.arrays.get("litter_offsets"), self.arrays.get("litter_cells")
        if off is None or cells is None:
            return np.zeros((0, 2), np.int32)
        t = min(max(t, 0), len(off) - 2)
        flat = cells[off[t] : off[t + 1]]
        return np.column_stack(np.divmod(flat, int(self.meta["shape"][1])))

    def edges_of_round(self, rnd: int) -> dict[str, np.ndarray]:
        """The drone-level edges of knowledge round `rnd` (src, dst, kind, bytes, status)."""
        sel = self.arrays["edge_round"] == rnd
        return {k: self.arrays[f"edge_{k}"][sel] for k in ("src", "dst", "kind", "bytes", "status")}

    def round_at(self, t: int) -> int:
        """The last knowledge round held at or before tick t (-1: none yet)."""
        rounds = self.arrays["round"]
        done = rounds[rounds[:, 1] <= t] if len(rounds) else rounds
        return int(done[-1, 0]) if len(done) else -1

    def edges_at(self, t: int) -> dict[str, np.ndarray]:
        """The edges to draw at tick t: the last round's, or (central) this tick's uploads."""
        if self.meta.get("team") == "central":  # uploads of the observation of frame t
            sel = (self.arrays["edge_round"] == t) & (self.arrays["edge_kind"] == Kind.OBS)
            return {
                k: self.arrays[f"edge_{k}"][sel] for k in ("src", "dst", "kind", "bytes", "status")
            }
        return self.edges_of_round(self.round_at(t))

    def hub_at(self, t: int) -> tuple[int, int]:
        """(hub brain, term) of the last round at or before t; (-1, -1) without a hub."""
        rounds = self.arrays["round"]
        done = rounds[rounds[:, 1] <= t] if len(rounds) else rounds
        return (int(done[-1, 2]), int(done[-1, 3])) if len(done) else (-1, -1)

    def belief_at(self, t: int) -> tuple[int, np.ndarray | None]:
        """(snapshot tick, (N, H, W) maps) of the last snapshot at or before t."""
        ticks = self.arrays["belief_tick"]
        i = int(np.searchsorted(ticks, t, side="right")) - 1
        if i < 0 or not len(self.arrays["belief"]):
            return -1, None
        return int(ticks[i]), self.arrays["belief"][i]


def load(path: Path) -> Trajectory:
    """Read a recording written by `Recorder.finish`; ValueError names what is wrong."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError) as err:
        raise ValueError(f"{path}: not a readable recording ({err})") from None
    if "meta" not in arrays:
        raise ValueError(f"{path}: no `meta` entry; not a swarm recording")
    meta = json.loads(arrays.pop("meta").tobytes().decode())
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{path}: recording format {meta.get('format_version')}, this viewer reads "
            f"{FORMAT_VERSION}; re-run the scenario to record it again"
        )
    return Trajectory(path, meta, arrays)

"""Hosts: one host's brains, policy and ZeroMQ endpoint (`HostCore`), and how the pool calls them.

A host binds one ROUTER socket (127.0.0.1 on one machine, the node's own address on a
cluster) and reaches every peer, itself included, through DEALER sockets, so every
brain-to-brain byte crosses a real socket and is counted there. Its K brains are one
`agents.BrainBank` (one batched computation; one shared-weight model over K recurrent streams
for `central`), flying the drones of one `scenarios` policy. A tick is one batched call each:

    logits = bank.act(tokens, tick)              # (K,) detect logits, state advanced
    bank.label(late labels); bank.learn(tick)    # train while infer
    actions = policy.act(obs, sigmoid(logits))

Life of a host: `address()` → `connect(all addresses)` → per team × seed `configure(...)` →
ticks of `act(obs)` with knowledge rounds of `send` / `recv` per `Phase` → `close()`. Each
configure opens a fresh protocol session (run id `<run>/<team>/<seed>`), so sequence numbers
and replay windows never leak across missions.

The pool calls all its hosts through `Hosts` (typed: configure / act / send / recv / stats):
`LocalHosts` holds `HostCore`s in this process (tests, tiny runs; still real sockets),
`RayHosts` one `num_cpus=1` Ray actor per host. `EXCHANGES` picks a team's kind of round.

Team `central`: no brain on the drones' hosts. Each host uploads its drones' raw observation
as one OBS message to the centre host, which waits for all of them, runs the one shared-weight
large model over all N streams, learns, fuses every drone's evidence into one belief map
(`fused` policy) and returns the actions of every drone, all planned from that map. Device
traffic counts both directions: each drone's OBS up and the centre's COMMAND down, per tick.
"""

from __future__ import annotations

import contextlib
import gc
import os
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import ray
import torch
from ray.exceptions import (
    ActorDiedError,
    ActorUnavailableError,
    GetTimeoutError,
    RayActorError,
    RayTaskError,
)

from agents import BrainBank, YanConfig
from protocols.codec import Delivery, Limits, Receiver, Session
from protocols.compression import get_codec
from protocols.messages import Kind, Message, ProtocolError
from protocols.transport import CurveKeys, Endpoint
from scenarios import REGISTRY
from scenarios.base import Actions, Observation, TokenSpec
from scenarios.claims import everyone_hears
from scenarios.info import WorldInfo
from scenarios.metrics import auc
from scenarios.policies import fixed_logit, make_policy
from swarm import hoststate
from swarm.exchange import Context, Exchange, Expected, NoExchange, Phase
from swarm.exchange_gossip import GossipExchange
from swarm.exchange_hub import HubExchange
from swarm.faults import FAULT_STATS, FaultPlan
from swarm.hoststate import Sealed, SnapshotFiles
from swarm.raylife import (
    HostPlace,
    Reservation,
    actor_state,
    alive_nodes,
    host_count,
    host_requests,
    logs_hint,
    reserve,
    start_ray,
)
from swarm.teams import Sharing, TeamPlan
from swarm.traffic import DeviceTraffic, session_frames
from swarm.wirelog import ACCEPTED, REJECTED, WireLog

if TYPE_CHECKING:
    from scenarios.policy_base import Policy
    from swarm.config import RunConfig

__all__ = [
    "EXCHANGES",
    "HostCore",
    "HostDied",
    "HostTimeout",
    "Hosts",
    "LocalHosts",
    "Mission",
    "RayHosts",
    "Restart",
    "SnapshotFailed",
    "model_for",
    "settle_garbage",
]

RECV_TIMEOUT_S = 60.0  # a peer silent this long is dead or wedged: fail loudly, not hang
RESTART_TIMEOUT_S = 120.0  # Ray's restart of a dead host actor, placement included
#: Pool calls after which a restarted host can be restored and the call repeated: those
#: between knowledge rounds. A host that dies inside a round (send/recv) leaves its peers
#: mid-barrier; that ends the run (HostDied) and `--resume` continues it.
RESTARTABLE = frozenset({"configure", "act", "probe_aucs", "stats", "view_record"})
COMPETENCE_DECAY = 0.98  # per tick: verified precision over roughly the last 50 ticks
_OBS_FIELDS = ("tokens", "cells", "pose", "busy", "label_drone", "label_tick", "label_value")

#: The kind of knowledge round of each sharing mode (`central` shares raw OBS every tick).
EXCHANGES: dict[Sharing, type[Exchange]] = {
    "gossip": GossipExchange,
    "hub": HubExchange,
    "none": NoExchange,
    "central": NoExchange,
}


@dataclass(frozen=True)
class Mission:
    """What every host needs to start one team × seed (the same for all hosts).

    `plan`: who holds which drone and brain; `info`/`spec`: the world's public info and token
    layout; `cfg`: a team variant's configuration (None: the run's)."""

    plan: TeamPlan
    seed: int
    info: WorldInfo
    spec: TokenSpec
    cfg: RunConfig | None = None


class HostTimeout(RuntimeError):
    """A host waited too long for its peers' messages; `hosts` are the silent peers."""

    def __init__(self, text: str, hosts: Sequence[int] = ()) -> None:
        super().__init__(text)
        self.hosts = tuple(hosts)

    def __reduce__(self) -> tuple:  # keep `hosts` across Ray's pickling
        return (HostTimeout, (self.args[0], self.hosts))


class HostDied(RuntimeError):
    """A host actor died (crash, node lost, out of memory) and could not be restarted, or a
    round could not complete; the pool cannot continue (the run loop keeps the missions it
    completed). `host`: the dead host's index, when known."""

    def __init__(self, text: str, host: int | None = None) -> None:
        super().__init__(text)
        self.host = host


class SnapshotFailed(RuntimeError):
    """A host could not take its restart snapshot (`RayHosts.checkpoint`); `host` names it."""

    def __init__(self, text: str, host: int) -> None:
        super().__init__(text)
        self.host = host

    def __reduce__(self) -> tuple:  # keep `host` across pickling
        return (type(self), (str(self), self.host))


@dataclass(frozen=True)
class Restart:
    """A host actor Ray restarted and the pool restored (results.json `restarts`, per run).

    `call`: the pool's call that found it dead; `restored_round`: the knowledge round after
    which the state it continues from was taken (-1: the mission's start, fresh from the
    checkpoint); `restored`: what that state holds."""

    host: int
    call: str
    tick: int  # the mission's tick when it was found dead (pool.ticks)
    restored_round: int
    restored: str = (
        "brains (weights, optimiser, EWC, recurrent state, replay, RNG), policy (beliefs, "
        "unsent evidence, goals, claims, RNG), exchange (CHOCO copies or common model, "
        "error-feedback residuals, election, round, term, ledgers), protocol sessions, counters"
    )


def model_for(cfg: YanConfig, spec: TokenSpec) -> YanConfig:
    """`cfg` with the scenario's token width and heads filled in."""
    return cfg.model_copy(update={"input_dim": spec.input_dim, "heads": dict(spec.heads)})


class HostCore:
    """One host: see the module docstring. `index` in [0, n_hosts)."""

    def __init__(
        self,
        index: int,
        n_hosts: int,
        run_cfg: RunConfig,
        run_id: str,
        key: bytes,
        bind_ip: str = "127.0.0.1",
        curve: CurveKeys | None = None,
    ) -> None:
        torch.set_num_threads(1)  # hosts share the machine's cores with each other
        self.index, self.n_hosts, self.cfg = index, n_hosts, run_cfg
        self.run_id, self.key = run_id, key
        self.limits = Limits(max_message_bytes=run_cfg.protocol.max_message_bytes)
        # hosts.ports: the first free port of that range, never one outside (a firewall between
        # devices opens only those); else any free port
        try:
            self.endpoint = Endpoint(
                index, host=bind_ip, port_range=run_cfg.hosts.ports, curve=curve
            )
        except OSError as err:
            raise OSError(f"host {index}: {err}; widen hosts.ports") from None
        self.plan: TeamPlan | None = None
        self.bank: BrainBank | None = None
        self.policy: Policy | None = None
        self.drone_ids = np.zeros(0, np.int64)  # (K,) global ids of the drones flown here
        self.exchange: Exchange = NoExchange(None)
        self.receiver: Receiver | None = None
        self.sessions: dict[int, Session] = {}
        self.rejects: Counter[str] = Counter()  # messages dropped after the receiver accepted
        self.wire_log = WireLog(index)  # for a recording only (swarm.trajectory); off until read
        self.train_steps = 0
        self.traffic = DeviceTraffic(run_id)  # device-level counts (swarm.traffic)
        self._rejected_before = 0  # of finished missions' receivers
        self._accepted_before = 0
        self._quarantined_before = 0
        self.faults: FaultPlan | None = None  # this mission's injected faults (swarm.faults)
        self._faults_before: Counter[str] = Counter()
        self._cpu0 = time.process_time()

    # -- wiring ---------------------------------------------------------------------------
    def address(self) -> str:
        """`tcp://IP:PORT` of this host's ROUTER socket."""
        return self.endpoint.address

    def connect(self, addresses: list[str]) -> None:
        """DEALERs to every host (this one too), in host order."""
        for peer, addr in enumerate(addresses):
            self.endpoint.connect(peer, addr)

    def configure(self, mission: Mission, init: dict[str, np.ndarray] | None) -> tuple[Phase, ...]:
        """Fresh brains, policy and protocol session for one team × seed, from the pretrained
        checkpoint `init`; returns the phases of this team's knowledge round.

        What the mission holds for its whole life is set aside from the garbage collector
        (`settle_garbage`), so no full collection rescans it during ticks and rounds."""
        gc.unfreeze()  # the last mission's objects: collectable again once dropped below
        phases = self._configure(mission, init)
        settle_garbage()
        return phases

    def _configure(self, mission: Mission, init: dict[str, np.ndarray] | None) -> tuple[Phase, ...]:
        plan, seed, spec = mission.plan, mission.seed, mission.spec
        cfg = mission.cfg if mission.cfg is not None else self.cfg
        self.plan = plan
        run = f"{self.run_id}/{plan.team}/{seed}"
        brains = plan.brains_on(self.index)
        if self.receiver is not None:
            self._rejected_before += sum(self.receiver.rejects.values())
            self._accepted_before += self.receiver.accepted
        self._quarantined_before += self.exchange.quarantined
        if self.faults is not None:
            self._faults_before.update(self.faults.counts)
        n = max(plan.n_drones, plan.n_brains)
        f = cfg.faults
        self.faults = FaultPlan(f, seed, n, cfg.protocol.sync_every) if f.active else None
        self.receiver = Receiver(
            run_id=run,
            key=self.key,
            me=brains.tolist(),  # messages to other hosts' brains: rejected
            window=cfg.protocol.replay_window,
            limits=self.limits,
        )
        self.sessions = {}
        self.wire_log = WireLog(self.index)
        self._run = run
        self.traffic.restart(run)
        self.bank, self.policy, self.exchange = None, None, NoExchange(None)
        if not brains.size:
            self.drone_ids = np.zeros(0, np.int64)
            return ()
        ids = (
            np.arange(plan.n_drones) if plan.sharing == "central" else plan.drone_shards[self.index]
        )
        self.drone_ids = np.asarray(ids, np.int64)
        k = int(self.drone_ids.size)
        # Randomness is keyed by (seed, global brain/drone id), never by host index, so a
        # drone decides the same on any host (docs/architecture.md, host-count invariance).
        if plan.model == "fixed":  # `scripted`: the world's scripted policy, the fixed detector
            policy, params = REGISTRY[cfg.scenario].scripted_policy, {}
        else:
            model = cfg.model.small if plan.model == "small" else cfg.large_model()
            self.bank = BrainBank(
                model_for(model, spec),
                cfg.learner,
                k=k,
                seed=seed,
                init=init,
                shared=plan.shared,
                ids=None if plan.shared else brains,
            )
            policy, params = cfg.policy.name, dict(cfg.policy.params)
        self.policy = make_policy(
            policy,
            info=mission.info,
            drone_ids=self.drone_ids,
            rng=np.random.default_rng(seed),  # the root of every drone's own stream
            team_size=plan.n_drones,
            fused=plan.sharing == "central",  # the cloud fuses every upload into one map
            **params,
        )
        self._hits = np.zeros(k, np.float64)  # decayed confirmed detections
        self._seen = np.zeros(k, np.float64)  # decayed labelled detections
        ctx = Context(
            self.index,
            plan,
            cfg.protocol,
            seed,
            self.bank,
            self.policy,
            brains,
            self.competence,
            faults=self.faults,
        )
        self.exchange = EXCHANGES[plan.sharing](ctx)
        return self.exchange.phases

    # -- sending and receiving ------------------------------------------------------------
    def _send(self, dests: tuple[int, ...], msg: Message) -> None:
        frames = session_frames(self.sessions, self._run, self.key, msg)
        for d in dests:
            self.endpoint.send(d, frames)
        self.wire_log.sent(msg, self.sessions[msg.sender].seq, dests, frames)

    def _reject(self, reason: str) -> None:
        self.rejects[reason] += 1

    def _collect(
        self,
        expect: Expected,
        round_idx: int,
        read: Callable[[Delivery], Any],
        what: str,
        follow: Callable[[Delivery], Expected] | None = None,
    ) -> list[Any]:
        """Receive the `expect`ed (kind, sender) messages of this round; `read(delivery)` each.

        Returns the readings sorted by (sender, seq). A frame the receiver rejects, one whose
        reading raises (malformed batch, non-finite values, ...) and a message nobody expects
        (another round, or a second one of a pair already heard) are counted rejects that
        change nothing (reading only checks); the round waits on for the expected message.
        `follow(delivery)`: the messages an accepted one announces, expected from then on.
        A peer silent for RECV_TIMEOUT_S raises HostTimeout naming what is missing and from
        which hosts.
        """
        waiting = Counter(expect)
        got: list[tuple[int, int, Any]] = []
        deadline = time.monotonic() + RECV_TIMEOUT_S
        while waiting.total():
            left = deadline - time.monotonic()
            got_one = self.endpoint.recv(timeout_ms=int(left * 1000)) if left > 0 else None
            if got_one is None:
                raise self._timeout(waiting, round_idx, what)
            try:
                delivery: Delivery = self.receiver.accept(got_one[1])
            except ProtocolError:
                continue  # counted by the receiver
            msg = delivery.message
            key = (msg.kind, msg.sender)
            try:  # content first: a poisoned message is named so, whenever it arrives
                reading = read(delivery)
            except ProtocolError as err:
                self._reject(err.reason)
                self.wire_log.heard(msg, REJECTED)
                continue
            except Exception:  # a reading that fails any other way costs one message, not a run
                self._reject("error")
                self.wire_log.heard(msg, REJECTED)
                continue
            if msg.round != round_idx or not waiting[key]:
                self._reject("unexpected")
                self.wire_log.heard(msg, REJECTED)
                continue
            waiting[key] -= 1
            if follow is not None:
                waiting.update(follow(delivery))
            self.wire_log.heard(msg, ACCEPTED)
            got.append((msg.sender, msg.seq, reading))
        return [r for _, _, r in sorted(got, key=lambda g: (g[0], g[1]))]

    def _timeout(self, waiting: Counter, round_idx: int, what: str) -> HostTimeout:
        plan = self.plan
        missing = sorted((k, s) for (k, s), n in waiting.items() if n)
        if plan is not None and plan.sharing == "central":
            owner = {int(d): h for h, ids in enumerate(plan.drone_shards) for d in ids}
        else:
            owner = {b: int(h) for b, h in enumerate(plan.brain_owner)} if plan else {}
        hosts = sorted({owner.get(s, -1) for _, s in missing})
        names = ", ".join(f"{k.name} of brain {s} (host {owner.get(s, '?')})" for k, s in missing)
        return HostTimeout(
            f"host {self.index} waited {RECV_TIMEOUT_S:.0f} s in {what} of round {round_idx} for "
            f"{len(missing)} message(s): {names}; rejected here meanwhile: "
            f"{dict(self.rejects) or 'none'}, by the receiver: "
            f"{dict(self.receiver.rejects) or 'none'}",
            hosts,
        )

    # -- ticks ----------------------------------------------------------------------------
    def act(self, obs: Observation) -> tuple[np.ndarray, Actions | None]:
        """This host's drones' observation → (drone ids decided here, their Actions)."""
        plan = self.plan
        if plan is None:
            raise RuntimeError("configure() the host before act()")
        if plan.sharing == "central":
            return self._act_central(obs)
        if self.policy is None:
            return np.zeros(0, np.int64), None
        return self.drone_ids, self._decide(obs)

    def _decide(self, obs: Observation) -> Actions:
        """Decide, label and learn for one tick; `obs` holds exactly this host's drones."""
        k = int(self.drone_ids.size)
        if len(obs) != k:
            raise ValueError(f"this host flies {k} drones, got an observation of {len(obs)}")
        if self.bank is None:  # the fixed detector: nothing to remember, label or learn
            logits = fixed_logit(obs.tokens)
        else:
            logits = self.bank.act(obs.tokens, obs.tick)["detect"]
        if obs.label_drone.size:
            if self.bank is not None:
                self.bank.label(obs.label_drone, obs.label_tick, obs.label_value)
            np.add.at(self._hits, obs.label_drone, obs.label_value.astype(np.float64))
            np.add.at(self._seen, obs.label_drone, 1.0)
        self._hits *= COMPETENCE_DECAY
        self._seen *= COMPETENCE_DECAY
        if self.bank is not None:
            self.train_steps += self.bank.learn(obs.tick)
        p_detect = (1.0 / (1.0 + np.exp(-logits.astype(np.float64)))).astype(np.float32)
        actions = self.policy.act(obs, p_detect)
        if self.plan.sharing == "central":  # the centre plans every drone: it knows all goals
            # and every inspection it has under way (no second drone sent to one cell)
            inspecting = self.policy.inspections_under_way()
            self.policy.hear_claims(*everyone_hears(self.policy.claims(), inspecting))
        actions.detect = logits.astype(np.float32)  # reported for field AUC (evaluation only)
        if self.faults is not None:  # a crashed drone stops flying (swarm.faults)
            self.faults.mute(actions, self.drone_ids, obs.tick)
        return actions

    def competence(self) -> np.ndarray:
        """(K,) float32 recent verified precision, Beta(1, 1) prior: (hits+1)/(seen+2).
        The `dynamic` topology elects its hub by it."""
        return ((self._hits + 1.0) / (self._seen + 2.0)).astype(np.float32)

    def _act_central(self, obs: Observation) -> tuple[np.ndarray, Actions | None]:
        plan, drones = self.plan, self.plan.drone_shards[self.index]
        if drones.size:
            arrays = {f: np.asarray(getattr(obs, f), np.float32) for f in _OBS_FIELDS}
            arrays["label_drone"] = drones[obs.label_drone].astype(np.float32)  # global ids
            arrays["drones"] = drones.astype(np.float32)
            tensors = get_codec("none").encode(arrays).tensors
            body = {"ticks": [obs.tick]}
            msg = Message(Kind.OBS, int(drones[0]), round=obs.tick, body=body, tensors=tensors)
            self._send((plan.centre_host,), msg)
            self._count_obs(obs, drones)
        if self.index != plan.centre_host:
            return np.zeros(0, np.int64), None
        expect = [(Kind.OBS, int(s[0])) for s in plan.drone_shards if s.size]
        parts = self._collect(expect, obs.tick, lambda d: d.arrays, "the OBS upload")
        full = _join_obs(obs.tick, parts, plan.n_drones)
        actions = self._decide(full)
        self._count_commands(obs.tick, actions)
        return self.drone_ids, actions

    def _count_obs(self, obs: Observation, drones: np.ndarray) -> None:
        """Device-level traffic of `central`: each drone uploads its own row (and its own
        late labels) to the centre as one OBS message, whichever host relays it."""
        codec = get_codec("none")
        for i, d in enumerate(drones.tolist()):
            mine = obs.label_drone == i
            arrays = {
                f: np.asarray(getattr(obs, f)[i : i + 1], np.float32) for f in _OBS_FIELDS[:4]
            }
            for f in _OBS_FIELDS[4:]:
                arrays[f] = np.asarray(getattr(obs, f)[mine], np.float32)
            arrays["label_drone"] = np.full(int(mine.sum()), d, np.float32)
            arrays["drones"] = np.array([d], np.float32)
            body = {"ticks": [obs.tick]}
            one = Message(
                Kind.OBS, d, round=obs.tick, body=body, tensors=codec.encode(arrays).tensors
            )
            self.traffic.count(one, audience=1)

    def _count_commands(self, tick: int, actions: Actions) -> None:
        """Device-level traffic of `central`'s downlink: the centre (node id N, after drones
        0..N-1) sends each drone its order for this tick as one COMMAND message. In the
        simulator the orders reach the drones through the driver, so no host socket carries
        them; real drones would hear them over the radio, so they count as wire traffic."""
        centre = int(self.plan.n_drones)
        for d in self.drone_ids.tolist():
            body = {
                "move": [int(v) for v in actions.move[d]],
                "altitude": float(actions.altitude[d]),
                "flag": bool(actions.flag[d]),
            }
            self.traffic.count(Message(Kind.COMMAND, centre, d, round=tick, body=body), 1)

    # -- knowledge rounds -----------------------------------------------------------------
    def send(self, round_idx: int, phase: Phase, positions: np.ndarray | None) -> int:
        """Send this host's messages of one phase; returns how many were sent."""
        step = self.exchange.steps.get(phase)
        if step is None:
            return 0
        self.exchange.ctx.positions = positions
        outgoing = step.send(round_idx)
        seen: set[tuple[int, int]] = set()

        def audience(kind: Kind, brain: int) -> int:
            return self.exchange.audience(phase, kind, brain)

        for o in outgoing:
            self._send(o.dests, o.msg)
            self.traffic.count_batch(o.msg, audience, seen)
        return len(outgoing)

    def recv(self, round_idx: int, phase: Phase) -> int:
        """Receive, check and apply this host's messages of one phase; returns how many."""
        step = self.exchange.steps.get(phase)
        if step is None:
            return 0
        expect, what = step.expect(round_idx), f"phase {phase.value}"
        got = self._collect(expect, round_idx, step.read, what, step.follow)
        step.apply(round_idx, got)
        return len(got)

    # -- measuring ------------------------------------------------------------------------
    def probe_aucs(self, tokens: np.ndarray, labels: np.ndarray) -> list[float]:
        """Detector AUC of each weight set on a probe set, without touching any brain's state.

        tokens (M, input_dim) float32, labels (M,) in {0, 1}: each token is scored as the next
        step from the brain's current recurrent state (what it would say about that token in
        the field now; the state is not advanced). A shared model is scored from its first
        stream's state. Returns one AUC per weight set (K, or 1 shared; none without brains).
        """
        if self.bank is None:  # the fixed detector (`scripted`), where this host flies drones
            return [auc(fixed_logit(tokens), labels)] if self.policy is not None else []
        scores = self.bank.score(np.asarray(tokens, np.float32))["detect"]  # (P, M)
        return [auc(s, labels) for s in scores]

    def stats(self) -> dict[str, float]:
        """Counters of this host over its life (the run loop reports each run's growth)."""
        bank, ep, rec = self.bank, self.endpoint, self.receiver
        rejected = sum(rec.rejects.values()) if rec is not None else 0
        accepted = rec.accepted if rec is not None else 0
        return {
            "params_per_brain": float(bank.params_per_brain) if bank is not None else 0.0,
            "brains": float(bank.n_sets) if bank is not None else 0.0,
            "train_steps": float(self.train_steps),
            "cpu_seconds": time.process_time() - self._cpu0,
            # device level (swarm.traffic): the same for any number of hosts
            "wire_messages": float(self.traffic.messages),
            "wire_bytes": float(self.traffic.bytes),
            # host sockets: simulator overhead, depends on how drones are sharded
            "host_socket_messages": float(ep.stats.messages_sent),
            "host_socket_bytes": float(ep.stats.bytes_sent),
            "host_socket_received": float(accepted + self._accepted_before),
            "rejected_messages": float(
                rejected + self._rejected_before + sum(self.rejects.values())
            ),
            "quarantined_brains": float(self._quarantined_before + self.exchange.quarantined),
            **self._fault_stats(),
        }

    def _fault_stats(self) -> dict[str, float]:
        """FAULT_STATS over this host's life (zeros without faults)."""
        now = self.faults.counts if self.faults is not None else Counter()
        return {k: float(self._faults_before[k] + now[k]) for k in FAULT_STATS}

    def view_record(self, beliefs: bool) -> dict[str, Any]:
        """For a mission's recording (`swarm.trajectory`, evaluation only): the messages sent
        and heard here since the last call (`swarm.wirelog` rows; the first call switches the
        log on), the hub and term of a hub round, the gossip graph's edges, and with `beliefs`
        this host's drones' belief maps (K, H, W) float16 with their drone ids (K,)."""
        sent, heard = self.wire_log.take()
        ex = self.exchange
        out: dict[str, Any] = {"sent": sent, "heard": heard}
        if hasattr(ex, "election"):
            out["hub"], out["term"] = int(ex.hub), int(ex.term)
        if getattr(ex, "graph", None) is not None:
            out["edges"] = np.asarray(list(ex.graph.edges()), np.int32).reshape(-1, 2)
        if beliefs and self.policy is not None:
            out["belief"] = np.asarray(self.policy.belief, np.float16)
            out["drones"] = self.drone_ids.copy()
        return out

    # -- restart (swarm.hoststate) --------------------------------------------------------
    def pid(self) -> int:
        """This host's process id (a test kills a real host actor by it)."""
        return os.getpid()

    def snapshot(self, files: SnapshotFiles, mission: int, round_idx: int) -> Sealed:
        """Write this host's mission state now to its file on this node (`hoststate.write`:
        streamed, atomic; the pool takes one after each knowledge round) over its snapshot
        before the newest, and remove its other files. Between rounds a host keeps two
        complete snapshots of its mission: the newest (a restart's) and the one before it
        (read only if the newest cannot be), which the next snapshot is written over."""
        path = files.path(self.index, mission, round_idx)
        held = files.sealed(self.index, mission)
        newest = held[0][1] if held else None
        size = hoststate.write(self, path, reuse=files.spare(self.index, keep=newest))
        files.drop(self.index, keep=(path, newest))
        return Sealed(round_idx, str(path), size)

    def restore(self, files: SnapshotFiles, mission: int) -> int:
        """Continue the mission of a dead predecessor from the newest snapshot it sealed on
        this node (an older one if that cannot be read, and the unreadable ones are removed:
        the next snapshot keeps the one restored as its newest); returns its round.
        FileNotFoundError when there is none (the files went with the node or its disk)."""
        failed, unreadable = [], []
        for round_idx, path in files.sealed(self.index, mission):
            try:
                hoststate.read(self, path)  # all read before any of it is applied
            except Exception as err:
                failed.append(f"{path.name}: {type(err).__name__}: {err}")
                unreadable.append(path)
                continue
            for bad in unreadable:
                bad.unlink(missing_ok=True)
            return round_idx
        raise FileNotFoundError(
            f"no snapshot of host {self.index} could be read in {files.folder()} on this node"
            + (f" ({'; '.join(failed)})" if failed else " (none there)")
            + ": they are lost if this node or its disk was"
        )

    def check_snapshots(self, files: SnapshotFiles) -> str:
        """Make the snapshot folder on this node (ValueError when it cannot be written)."""
        return str(files.check())

    def drop_snapshots(self, files: SnapshotFiles) -> None:
        """Remove this host's snapshot files on this node (the pool is closing)."""
        files.drop(self.index)

    def reconnect(self, peer: int, address: str) -> None:
        """Point the DEALER to `peer` at its new address (it was restarted)."""
        self.endpoint.disconnect(peer)
        self.endpoint.connect(peer, address)

    def close(self) -> None:
        """Close the sockets (idempotent)."""
        self.endpoint.close()


def settle_garbage() -> None:
    """Collect once, then freeze what is alive (`gc.freeze`): a later full collection scans
    only objects made after this, instead of every module, tensor wrapper and config of the
    process (at N = 1,024 such a collection cost ~130 ms and came every few rounds). Frozen
    objects are still freed by reference counting when dropped; `gc.unfreeze()` before the
    next setup returns any cycles among them to the collector."""
    gc.collect()
    gc.freeze()


def _join_obs(tick: int, parts: list[dict[str, np.ndarray]], n: int) -> Observation:
    """One Observation of all `n` drones from uploaded shards (labels keep global ids)."""
    order = np.concatenate([p["drones"] for p in parts]).astype(np.int64)
    if order.size != n:
        raise ValueError(f"central host got observations of {order.size} drones, expected {n}")
    inv = np.argsort(order)

    def cat(f: str, dtype: Any) -> np.ndarray:
        return np.concatenate([p[f] for p in parts]).astype(dtype)

    return Observation(
        tick=tick,
        tokens=cat("tokens", np.float32)[inv],
        cells=cat("cells", np.int32)[inv],
        pose=cat("pose", np.float32)[inv],
        busy=cat("busy", bool)[inv],
        label_drone=cat("label_drone", np.int64),
        label_tick=cat("label_tick", np.int64),
        label_value=cat("label_value", np.float32),
    )


# -- how the pool calls its hosts --------------------------------------------------------
class Hosts(Protocol):
    """All hosts of a pool, called together; results in host order."""

    n_hosts: int

    def configure(self, mission: Mission, init: Any) -> list[tuple[Phase, ...]]: ...
    def act(self, shards: Sequence[Observation], order: Sequence[int]) -> list[tuple]: ...
    def send(self, round_idx: int, phase: Phase, positions: np.ndarray | None) -> list[int]: ...
    def recv(self, round_idx: int, phase: Phase) -> list[int]: ...
    def probe_aucs(self, tokens: np.ndarray, labels: np.ndarray) -> list[list[float]]: ...
    def stats(self) -> list[dict[str, float]]: ...
    def view_record(self, beliefs: bool) -> list[dict[str, Any]]: ...
    def checkpoint(self, round_idx: int) -> None: ...
    def share(self, obj: Any) -> Any: ...
    def nodes(self) -> int: ...
    def placement(self) -> list[HostPlace]: ...
    def close(self) -> None: ...


class LocalHosts:
    """The hosts as plain objects in this process (real sockets, no Ray)."""

    def __init__(
        self,
        run_cfg: RunConfig,
        n_hosts: int,
        run_id: str,
        key: bytes,
        curve: CurveKeys | None = None,
    ) -> None:
        self.hosts = [
            HostCore(i, n_hosts, run_cfg, run_id, key, curve=curve) for i in range(n_hosts)
        ]
        self.n_hosts = n_hosts
        addresses = [h.address() for h in self.hosts]
        for h in self.hosts:
            h.connect(addresses)

    def configure(self, mission: Mission, init: Any) -> list[tuple[Phase, ...]]:
        return [h.configure(mission, init) for h in self.hosts]

    def act(self, shards: Sequence[Observation], order: Sequence[int]) -> list[tuple]:
        out: list[Any] = [None] * len(self.hosts)
        for h in order:  # sequential: a host that waits on others' messages must come last
            out[h] = self.hosts[h].act(shards[h])
        return out

    def send(self, round_idx: int, phase: Phase, positions: np.ndarray | None) -> list[int]:
        return [h.send(round_idx, phase, positions) for h in self.hosts]

    def recv(self, round_idx: int, phase: Phase) -> list[int]:
        return [h.recv(round_idx, phase) for h in self.hosts]

    def probe_aucs(self, tokens: np.ndarray, labels: np.ndarray) -> list[list[float]]:
        return [h.probe_aucs(tokens, labels) for h in self.hosts]

    def stats(self) -> list[dict[str, float]]:
        return [h.stats() for h in self.hosts]

    def view_record(self, beliefs: bool) -> list[dict[str, Any]]:
        return [h.view_record(beliefs) for h in self.hosts]

    def checkpoint(self, round_idx: int) -> None:
        """Nothing: hosts in this process die with it, nothing restarts them."""

    def share(self, obj: Any) -> Any:
        return obj

    def nodes(self) -> int:
        return 1

    def placement(self) -> list[HostPlace]:
        return [HostPlace(i, None, "this process", h.address()) for i, h in enumerate(self.hosts)]

    def close(self) -> None:
        for h in self.hosts:
            h.close()
        self.hosts = []


class HostActor(HostCore):
    """`HostCore` inside a Ray actor (same arguments): binds its ROUTER on its own node's
    address, which only the actor knows once Ray has placed it."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, bind_ip=ray.util.get_node_ip_address(), **kw)


class RayHosts:
    """One host actor per host on Ray; started here, ended by `close()`. Each call is one
    fan-out and one `ray.get`.

    Restart (docs/faults.md): each actor may be restarted by Ray `hosts.max_restarts` times in
    a run. After every knowledge round (and at a mission's start) `checkpoint` asks each host
    to write its `snapshot` to a file on its own node (`files`), which outlives the host's
    process; only a small `Sealed` reply comes back here. A call between rounds
    (`RESTARTABLE`) that finds a host dead waits for Ray to restart it (in the same
    placement bundle, so on the same node), points every host's socket at its new address,
    has it restore its newest sealed snapshot and repeats the call there (the other hosts'
    replies stand). `restarts` lists each restart. `close` removes the files."""

    def __init__(
        self,
        run_cfg: RunConfig,
        n_hosts: int | None,
        run_id: str,
        key: bytes,
        curve: CurveKeys | None = None,
    ) -> None:
        info = start_ray(run_cfg.ray.address, run_cfg.ray.num_cpus)
        cpus = max(info.cpus, 1.0)
        n = n_hosts or host_count(run_cfg.hosts.agents_per_host, run_cfg.drones, cpus)
        hosts = run_cfg.hosts
        # placed before any host starts: a request the cluster cannot meet fails here, clearly
        self.reservation: Reservation | None = reserve(
            host_requests(n, cpus, hosts.resources), hosts.placement_timeout_s, hosts.ports
        )
        self.max_restarts = hosts.max_restarts
        self.snapshot_every = hosts.snapshot_every
        # one folder per node for this pool's snapshots (unique: pools never share files)
        self.files = SnapshotFiles(hosts.snapshot_dir, f"{os.getpid()}-{uuid.uuid4().hex[:8]}")
        remote = ray.remote(HostActor)
        self.actors = [
            remote.options(max_restarts=self.max_restarts, **self.reservation.options(i)).remote(
                i, n, run_cfg, run_id, key, curve=curve
            )
            for i in range(n)
        ]
        self.n_hosts = n
        self.restarts: list[Restart] = []
        self.clock: Callable[[], int] = lambda: 0  # the mission's tick (set by the pool)
        self._mission = -1  # configures so far - 1: the snapshot files' mission number
        self._round: int | None = None  # this mission's newest checkpoint (None: none yet)
        # host -> ref of the `Sealed` reply of its snapshot of `_round`, not read yet
        self._sealing: dict[int, Any] = {}
        self.sealed: dict[int, Sealed] = {}  # host -> its newest snapshot known sealed
        self.before: dict[int, Sealed] = {}  # host -> the one before it, kept on its node
        self._left = [self.max_restarts] * n  # restarts each host has left
        try:
            self.addresses: list[str] = self._get(
                [a.address.remote() for a in self.actors], "address"
            )
            self._get([a.connect.remote(self.addresses) for a in self.actors], "connect")
            if self.max_restarts:  # an unwritable snapshot folder fails here, not at round 0
                try:
                    ray.get([a.check_snapshots.remote(self.files) for a in self.actors])
                except RayTaskError as err:
                    raise (getattr(err, "cause", None) or err) from None
        except BaseException:
            self.close()  # the hosts that came up and their reservation
            raise

    def _get(self, refs: list[Any], what: str) -> list[Any]:
        try:
            return ray.get(refs)
        except RayTaskError as err:
            cause = getattr(err, "cause", None)
            if not isinstance(cause, HostTimeout):
                raise
            silent = [h for h in cause.hosts if 0 <= h < len(self.actors)]
            alive = ", ".join(f"host {h}: {actor_state(self.actors[h])}" for h in silent)
            raise HostDied(
                f"a round could not complete during {what}(): {cause} — Ray says {alive or '?'}. "
                f"{self._logs(silent[0] if silent else None)}",
                silent[0] if silent else None,
            ) from err
        except (ActorDiedError, ActorUnavailableError, RayActorError) as err:
            ids = [a._actor_id.hex() for a in self.actors]
            dead = ids.index(err.actor_id) if getattr(err, "actor_id", None) in ids else None
            who = "" if dead is None else f" (host {dead})"
            raise HostDied(
                f"a host actor died{who} during {what}(): {err}. The pool cannot continue; "
                "completed missions are kept by the run loop. Check memory (each host holds its "
                f"brains) and {self._logs(dead)}",
                dead,
            ) from err

    def _fan(self, what: str, call: Callable[[Any, int], Any]) -> list[Any]:
        """`call(actor, host)` on every host and their replies in host order; a host found
        dead between rounds is restarted, restored and called again (class docstring)."""
        refs = [call(a, h) for h, a in enumerate(self.actors)]
        while True:  # several hosts may die at once (e.g. Ray's memory monitor kills two)
            try:
                return self._get(refs, what)
            except HostDied as err:
                h = err.host
                if what not in RESTARTABLE or h is None:
                    raise
                why = self._restart(h, what)
                if why is not None:
                    raise HostDied(f"{err} Not restarted: {why}.", h) from err
                refs[h] = call(self.actors[h], h)  # the others' replies stand

    def _restart(self, h: int, what: str) -> str | None:
        """Wait for Ray's restart of host h, reconnect it both ways, have it restore its
        newest sealed snapshot; None when done, else why it cannot be restarted (none left,
        Ray gave up, no snapshot to restore)."""
        if self._left[h] <= 0:
            return f"no restart left (hosts.max_restarts = {self.max_restarts})"
        if what != "configure" and self._round is None:
            return "no snapshot taken yet"
        actor, deadline = self.actors[h], time.monotonic() + RESTART_TIMEOUT_S
        while True:  # calls fail while Ray restarts it; a queued one waits for the new one
            try:
                address = ray.get(actor.address.remote(), timeout=10)
                break
            except (ActorDiedError, ActorUnavailableError, RayActorError, GetTimeoutError):
                if actor_state(actor) == "DEAD" or time.monotonic() > deadline:
                    return f"Ray did not restart it (Ray says {actor_state(actor)})"
                time.sleep(0.5)
        self._left[h] -= 1
        self.addresses[h] = address
        ray.get(actor.connect.remote(self.addresses))
        for i, a in enumerate(self.actors):
            if i != h:  # a peer dead too reconnects to everyone when it is restarted
                with contextlib.suppress(ActorDiedError, ActorUnavailableError, RayActorError):
                    ray.get(a.reconnect.remote(h, address))
        restored = -1
        if what != "configure":  # a host that died configuring is simply configured again
            try:  # its newest sealed file: the driver may not have read that it was sealed
                restored = ray.get(actor.restore.remote(self.files, self._mission))
            except Exception as err:  # none: gone with its node or disk, or died again
                cause = getattr(err, "cause", None) or err
                return f"{type(cause).__name__}: {cause} (hosts.snapshot_dir)"
        self.restarts.append(Restart(h, what, self.clock(), restored))
        return None

    def _logs(self, host: int | None) -> str:
        """Where host `host`'s Ray logs are (its own node's folder on a cluster)."""
        reservation = getattr(self, "reservation", None)  # None until the hosts are placed
        nodes = reservation.nodes if reservation is not None else []
        return logs_hint(nodes[host] if host is not None and host < len(nodes) else None)

    def checkpoint(self, round_idx: int) -> None:
        """Every host writes its snapshot after knowledge round `round_idx` (-1: the
        mission's start) to its node's disk, at the start and after every `snapshot_every`-th
        round (`hosts.snapshot_every`); nothing without restarts. Not waited for: each
        host takes it before its next call; the next `act` (or at the latest the next
        checkpoint) reads its small `Sealed` reply (`_sealed`): the newest before it becomes
        the one kept before it, or `SnapshotFailed` ends the run when a snapshot cannot be
        taken, not when a restart needs it."""
        due = round_idx == -1 or (round_idx + 1) % self.snapshot_every == 0
        if self.max_restarts and due:  # the one before stays: a host may die taking this one
            self._check_snapshots()
            m = self._mission
            refs = [a.snapshot.remote(self.files, m, round_idx) for a in self.actors]
            self._round, self._sealing = round_idx, dict(enumerate(refs))

    def _check_snapshots(self) -> None:
        """Read every reply of the newest snapshots not read yet (they are done: each
        host took its snapshot before the calls since): `_sealed` for each."""
        for h, ref in list(self._sealing.items()):
            self._sealed(h, ref)

    def _drop_superseded(self) -> None:
        """Move on each host's snapshots as soon as its newest one is known to be sealed
        (its host removed all older files but the one before it: two files per host between
        rounds, at N = 4,096 ~6 GB for all brains). Reads only the replies that are ready
        (no wait)."""
        if not self._sealing:
            return
        refs = list(self._sealing.values())
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
        done = {r.hex() for r in ready}
        for h, ref in list(self._sealing.items()):
            if ref.hex() in done:
                self._sealed(h, ref)

    def _sealed(self, h: int, ref: Any) -> None:
        """Host h's newest snapshot, from its small `Sealed` reply: written -> the newest
        before it becomes the one kept before it (the host wrote over the older one, or
        removed it); the host died since -> the older stays (its restart tries the newer
        file, then the older); the snapshot itself failed -> `SnapshotFailed`, so a
        snapshot that cannot be taken ends the run when it happens, not when a restart
        needs it."""
        del self._sealing[h]
        try:
            sealed = ray.get(ref)
        except RayTaskError as err:
            cause = getattr(err, "cause", None) or err
            r = self._round  # the newest snapshots' round: the ones being read
            when = "the mission's start" if r == -1 else f"knowledge round {r}"
            raise SnapshotFailed(
                f"host {h} could not take its restart snapshot after {when}: "
                f"{type(cause).__name__}: {cause}. A restart of that host would have "
                "nothing to restore, so the run stops here (completed team x seed runs "
                "are kept; `--resume` continues once the cause is fixed)",
                h,
            ) from err
        except (ActorDiedError, ActorUnavailableError, RayActorError):
            return  # died since: its next call restarts it from the newest file it sealed
        if h in self.sealed:
            self.before[h] = self.sealed[h]
        self.sealed[h] = sealed

    def snapshot_rounds(self) -> list[list[int]]:
        """Per host, the rounds of the snapshots held for it (-1: the mission's start), oldest
        first: between rounds its newest known sealed and the one before it; while a round's
        are written, its newest and the one it is writing (over the one before)."""
        rounds = []
        for h in range(self.n_hosts):
            held = [self.sealed[h].round] if h in self.sealed else []
            if h in self._sealing:  # replies pending: of this checkpoint's snapshots
                held.append(self._round)
            elif h in self.before:
                held.insert(0, self.before[h].round)
            rounds.append(held)
        return rounds

    def configure(self, mission: Mission, init: Any) -> list[tuple[Phase, ...]]:
        # init (an ObjectRef) goes as its own argument: Ray resolves only top-level ones
        self._round, self._sealing, self.sealed, self.before = None, {}, {}, {}
        self._mission += 1  # the previous mission's files go with each host's first snapshot
        return self._fan("configure", lambda a, h: a.configure.remote(mission, init))

    def act(self, shards: Sequence[Observation], order: Sequence[int]) -> list[tuple]:
        # Actors run concurrently, so the order only matters for the local backend.
        out = self._fan("act", lambda a, h: a.act.remote(shards[h]))
        self._drop_superseded()  # each host took its snapshot before this act: sealed now
        return out

    def send(self, round_idx: int, phase: Phase, positions: np.ndarray | None) -> list[int]:
        return self._fan("send", lambda a, h: a.send.remote(round_idx, phase, positions))

    def recv(self, round_idx: int, phase: Phase) -> list[int]:
        return self._fan("recv", lambda a, h: a.recv.remote(round_idx, phase))

    def probe_aucs(self, tokens: np.ndarray, labels: np.ndarray) -> list[list[float]]:
        return self._fan("probe_aucs", lambda a, h: a.probe_aucs.remote(tokens, labels))

    def stats(self) -> list[dict[str, float]]:
        return self._fan("stats", lambda a, h: a.stats.remote())

    def view_record(self, beliefs: bool) -> list[dict[str, Any]]:
        return self._fan("view_record", lambda a, h: a.view_record.remote(beliefs))

    def pids(self) -> list[int]:
        """Each host actor's process id."""
        return self._get([a.pid.remote() for a in self.actors], "pid")

    def share(self, obj: Any) -> Any:
        return ray.put(obj)

    def nodes(self) -> int:
        return alive_nodes()

    def placement(self) -> list[HostPlace]:
        nodes = self.reservation.nodes if self.reservation is not None else []
        return [
            HostPlace(i, node.node_id, node.address, addr)
            for i, (node, addr) in enumerate(zip(nodes, self.addresses, strict=False))
        ]

    def close(self) -> None:
        """End the hosts and remove their snapshot files: each live host its own on its
        node; this driver then the pool's folder on its own node, where a dead host's files
        are on one machine (a dead node's files went with it)."""
        if self.actors:
            calls = [a.drop_snapshots.remote(self.files) for a in self.actors]
            calls += [a.close.remote() for a in self.actors]
            ray.wait(calls, num_returns=len(calls), timeout=30)  # a dead host's fail at once
            for a in self.actors:
                ray.kill(a, no_restart=True)
            self.actors = []
        shutil.rmtree(self.files.folder(), ignore_errors=True)
        if self.reservation is not None:
            self.reservation.release()

"""`HostCore`: one host's shard of brains, its policy and its ZeroMQ endpoint (no Ray here).

A host binds one ROUTER socket (127.0.0.1 on one machine, the node's own address on a
cluster) and reaches every peer, itself included, through DEALER sockets, so every
brain-to-brain byte crosses a real socket and is counted there. The Ray actor in
`swarm.pool` wraps this class unchanged (`backend="local"` runs several in one process).

Life of a host: `address()` → `connect(all addresses)` → per team × seed `configure(...)` →
ticks of `act(obs)` with knowledge rounds of `exchange_send` / `exchange_recv` per phase →
`close()`. Each configure opens a fresh protocol session (run id `<run>/<team>/<seed>`), so
sequence numbers and replay windows never leak across missions.

Team `central`: no brain on the drones' hosts. Each host uploads its drones' raw observation
as one OBS message to the centre host, which waits for all of them, runs the one shared-weight
large model over all N streams, learns, and returns the actions of every drone.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from protocols.codec import Delivery, Limits, Receiver, Session
from protocols.compression import get_codec
from protocols.messages import Kind, Message, ProtocolError
from protocols.transport import CurveKeys, Endpoint
from scenarios.base import Actions, Observation, TokenSpec
from swarm.exchange import Context, Exchange, NoExchange, make_exchange
from swarm.shard import BrainShard, model_for
from swarm.teams import TeamPlan

if TYPE_CHECKING:
    from swarm.config import RunConfig

__all__ = ["HostCore", "HostTimeout"]

RECV_TIMEOUT_S = 60.0  # a peer silent this long is dead or wedged: fail loudly, not hang
_OBS_FIELDS = ("tokens", "cells", "pose", "busy", "label_drone", "label_tick", "label_value")


class HostTimeout(RuntimeError):
    """A host waited too long for its peers' messages."""


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
        port: int = 0,
        curve: CurveKeys | None = None,
    ) -> None:
        torch.set_num_threads(1)  # hosts share the machine's cores with each other
        self.index, self.n_hosts, self.cfg = index, n_hosts, run_cfg
        self.run_id, self.key = run_id, key
        self.limits = Limits(max_message_bytes=run_cfg.protocol.max_message_bytes)
        # A taken port falls back to a free one: a host must come up, whatever else runs.
        self.endpoint = Endpoint(index, host=bind_ip, port=port, port_fallback=True, curve=curve)
        self.shard: BrainShard | None = None
        self.plan: TeamPlan | None = None
        self.exchange: Exchange | None = None
        self.receiver: Receiver | None = None
        self.sessions: dict[int, Session] = {}
        self.train_steps = 0  # of finished missions; the live shard counts its own
        self._rejected_before = 0  # of finished missions' receivers
        self._accepted_before = 0
        self._cpu0 = time.process_time()
        self.act_seconds = 0.0  # wall time inside act(): the pool's overhead is the rest

    # -- wiring ---------------------------------------------------------------------------
    def address(self) -> str:
        """`tcp://IP:PORT` of this host's ROUTER socket."""
        return self.endpoint.address

    def connect(self, addresses: list[str]) -> None:
        """DEALERs to every host (this one too), in host order."""
        for peer, addr in enumerate(addresses):
            self.endpoint.connect(peer, addr)

    def configure(
        self,
        plan: TeamPlan,
        seed: int,
        world_info: dict[str, Any],
        spec: TokenSpec,
        init: dict[str, np.ndarray] | None,
        team_cfg: Any = None,
    ) -> None:
        """Fresh brains, policy and protocol session for one team × seed.

        `team_cfg`: the configuration of a team variant (None: the run's).
        """
        cfg = team_cfg if team_cfg is not None else self.cfg
        self.plan, self.seed = plan, seed
        run = f"{self.run_id}/{plan.team}/{seed}"
        if self.receiver is not None:
            self._rejected_before += sum(self.receiver.rejects.values())
            self._accepted_before += self.receiver.accepted
        if self.shard is not None:
            self.train_steps += self.shard.train_steps
        self.receiver = Receiver(
            run_id=run,
            key=self.key,
            me=plan.brains_on(self.index).tolist(),  # messages to other hosts' brains: rejected
            window=cfg.protocol.replay_window,
            limits=self.limits,
        )
        self.sessions = {}
        self._run = run
        brains = plan.brains_on(self.index)
        drones = plan.drone_shards[self.index]
        model = cfg.model.small if plan.model == "small" else cfg.large_model()
        seed_h = seed * 1009 + self.index
        self.shard = None
        if brains.size:
            ids = np.arange(plan.n_drones) if plan.sharing == "central" else drones
            self.shard = BrainShard(
                model_for(model, spec),
                cfg.learner,
                ids,
                seed_h,
                init,
                plan.shared,
                (cfg.policy.name, dict(cfg.policy.params)),
                world_info,
            )
        if self.shard is not None:  # make_exchange gives NoExchange for "none" and "central"
            ctx = Context(
                self.index, plan, cfg.protocol, seed, self.shard.bank, self.shard.policy, brains
            )
            self.exchange = make_exchange(ctx)
        else:
            self.exchange = NoExchange(None)  # type: ignore[arg-type]

    # -- sending and receiving ------------------------------------------------------------
    def _send(self, dests: tuple[int, ...], msg: Message) -> None:
        session = self.sessions.get(msg.sender)
        if session is None:
            session = self.sessions[msg.sender] = Session(self._run, msg.sender, self.key)
        frames = session.encode(
            msg.kind,
            recipient=msg.recipient,
            round=msg.round,
            term=msg.term,
            body=dict(msg.body),
            tensors=msg.tensors,
        )
        for d in dests:
            self.endpoint.send(d, frames)

    def _collect(self, need: int, kind_ok: tuple[Kind, ...], round_idx: int) -> list[Delivery]:
        """Receive `need` valid messages of this round, sorted by (sender, seq).

        Rejected frames (bad signature, replay, ...) are counted by the receiver and skipped.
        """
        got: list[Delivery] = []
        deadline = time.monotonic() + RECV_TIMEOUT_S
        while len(got) < need:
            left = deadline - time.monotonic()
            got_one = self.endpoint.recv(timeout_ms=int(left * 1000)) if left > 0 else None
            if got_one is None:
                raise HostTimeout(
                    f"host {self.index} got {len(got)} of {need} messages of round "
                    f"{round_idx} in {RECV_TIMEOUT_S:.0f} s: a peer host died or is stuck"
                )
            try:
                delivery = self.receiver.accept(got_one[1])
            except ProtocolError:
                continue
            msg = delivery.message
            if msg.kind in kind_ok and msg.round == round_idx:
                got.append(delivery)
        return sorted(got, key=lambda d: (d.message.sender, d.message.seq))

    # -- ticks ----------------------------------------------------------------------------
    def act(self, obs: Observation) -> tuple[np.ndarray, Actions | None]:
        """This host's drones' observation → (drone ids decided here, their Actions)."""
        plan = self.plan
        if plan is None:
            raise RuntimeError("configure() the host before act()")
        start = time.perf_counter()
        try:
            if plan.sharing == "central":
                return self._act_central(obs)
            if self.shard is None:
                return np.zeros(0, np.int64), None
            return self.shard.drone_ids, self.shard.act(obs)
        finally:
            self.act_seconds += time.perf_counter() - start

    def _act_central(self, obs: Observation) -> tuple[np.ndarray, Actions | None]:
        plan, drones = self.plan, self.plan.drone_shards[self.index]
        if drones.size:
            arrays = {f: np.asarray(getattr(obs, f), np.float32) for f in _OBS_FIELDS}
            arrays["label_drone"] = drones[obs.label_drone].astype(np.float32)  # global ids
            arrays["drones"] = drones.astype(np.float32)
            tensors = get_codec("none").encode(arrays).tensors
            self._send(
                (plan.centre_host,),
                Message(
                    Kind.OBS,
                    int(drones[0]),
                    round=obs.tick,
                    body={"ticks": [obs.tick]},
                    tensors=tensors,
                ),
            )
        if self.index != plan.centre_host:
            return np.zeros(0, np.int64), None
        senders = sum(1 for s in plan.drone_shards if s.size)
        msgs = self._collect(senders, (Kind.OBS,), obs.tick)
        full = _join_obs(obs.tick, [d.arrays for d in msgs], plan.n_drones)
        return self.shard.drone_ids, self.shard.act(full)

    # -- knowledge rounds -----------------------------------------------------------------
    def phases(self) -> int:
        """Phases of a knowledge round for the configured team (0: no sharing)."""
        return self.exchange.phases if self.exchange is not None else 0

    def exchange_send(self, round_idx: int, phase: int, positions: np.ndarray | None) -> int:
        """Send this host's messages of one phase; returns how many were sent."""
        ex = self.exchange
        if ex is None or not ex.phases:
            return 0
        ex.ctx.positions = positions
        ex.ctx.competence = self.shard.competence()
        outgoing = ex.outgoing(round_idx, phase)
        for o in outgoing:
            self._send(o.dests, o.msg)
        return len(outgoing)

    def exchange_recv(self, round_idx: int, phase: int) -> int:
        """Receive and apply this host's messages of one phase; returns how many."""
        ex = self.exchange
        if ex is None or not ex.phases:
            return 0
        msgs = self._collect(ex.expected(round_idx, phase), tuple(Kind), round_idx)
        ex.apply(round_idx, phase, msgs)
        return len(msgs)

    # -- measuring ------------------------------------------------------------------------
    def probe_aucs(self, tokens: np.ndarray, labels: np.ndarray) -> list[float]:
        """Detector AUC of each of this host's weight sets on the probe set."""
        return self.shard.probe_aucs(tokens, labels) if self.shard is not None else []

    def stats(self) -> dict[str, float]:
        """Cumulative counters of this host (see HostPool.stats)."""
        bank = self.shard.bank if self.shard is not None else None
        ep = self.endpoint
        rejected = sum(self.receiver.rejects.values()) if self.receiver is not None else 0
        accepted = self.receiver.accepted if self.receiver is not None else 0
        return {
            "params_per_brain": float(bank.params_per_brain) if bank is not None else 0.0,
            "brains": float(bank.n_sets) if bank is not None else 0.0,
            "train_steps": float(self.train_steps + (self.shard.train_steps if self.shard else 0)),
            "cpu_seconds": time.process_time() - self._cpu0,
            "messages_sent": float(ep.stats.messages_sent),
            "wire_bytes": float(ep.stats.bytes_sent),
            "rejected_messages": float(rejected + self._rejected_before),
            "messages_received": float(accepted + self._accepted_before),
            "act_seconds": self.act_seconds,
        }

    def close(self) -> None:
        """Close the sockets (idempotent)."""
        self.endpoint.close()


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

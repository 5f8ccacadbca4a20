"""`HostPool`: brains sharded over host actors; the API the run loop calls (docs/architecture.md).

```python
from swarm.raylife import start_ray, stop_ray      # embedded loopback-only, or join an address
pool = HostPool(run_cfg, n_hosts=None, backend="ray")   # hosts start once per run
pool.configure(team, seed, world.public_info(), world.token_spec, n_drones)
actions = pool.act(obs)          # Actions of every drone: one fan-out + one ray.get per tick
pool.exchange(round_idx)         # a knowledge round: hosts talk over ZeroMQ, not via the driver
pool.probe_auc(tokens, labels)   # median detector AUC over the team's brains (float)
pool.stats()                     # params_per_brain, brains, train_steps, cpu_seconds,
                                 # wire_messages, wire_bytes (device level: swarm.traffic),
                                 # host_socket_{messages,bytes,received}, rejected_messages
pool.ray_info()                  # {"nodes": int, "hosts": int, "placement": [per host: its
                                 #  host, node_id, node_address, ZeroMQ endpoint]}
pool.close()
```

`n_hosts=None` follows `hosts.agents_per_host` (`auto`: one host per CPU of the cluster, or
of this machine for the local backend). Results do not depend on the host count.
`backend="local"` runs the same `HostCore`s in this process over real sockets (tests, tiny
runs: `swarm.host.LocalHosts`); `"ray"` wraps each in a `num_cpus=1` actor, pinned by
`hosts.resources` or spread over nodes (`swarm.host.RayHosts`). Per tick only numpy arrays
cross the driver: each host gets its drones' observation and returns their actions;
payloads between brains never touch the driver or the object store. A host that dies raises
`HostDied`; the pool is then unusable, and the run loop saves what it completed. So does a
round that cannot complete: the error names the missing messages, their hosts and what Ray
says of them. Counters in `stats()` are cumulative over the pool's life; the run loop
reports each run's growth.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import numpy as np

from agents.pretrain import load_pretrained
from protocols.codec import new_key
from protocols.transport import CurveKeys
from scenarios.base import Actions, Observation, TokenSpec
from scenarios.info import WorldInfo
from swarm.exchange import Phase
from swarm.host import HostDied, Hosts, LocalHosts, Mission, RayHosts, model_for
from swarm.loop import ADDITIVE_STATS
from swarm.raylife import host_count
from swarm.teams import TeamPlan, make_plan

if TYPE_CHECKING:
    from swarm.config import RunConfig

__all__ = ["HostDied", "HostPool"]


class HostPool:
    """Host actors (or in-process hosts) serving one run; see the module docstring."""

    def __init__(
        self, run_cfg: RunConfig, n_hosts: int | None = None, backend: str = "ray"
    ) -> None:
        if backend not in ("ray", "local"):
            raise ValueError(f"backend must be 'ray' or 'local', got {backend!r}")
        self.cfg = run_cfg
        run_id = f"{getattr(run_cfg, 'name', 'run')}-{uuid.uuid4().hex[:8]}"
        key = new_key()  # signs every message of this run (keyed BLAKE3, wire 1.4)
        # security: curve also encrypts the sockets, with one key pair per run
        curve = CurveKeys.generate() if run_cfg.protocol.security == "curve" else None
        if backend == "ray":
            ray_hosts = RayHosts(run_cfg, n_hosts, run_id, key, curve)
            ray_hosts.clock = lambda: self.ticks  # restarts say when they happened
            self.hosts: Hosts = ray_hosts
        else:
            n = n_hosts or host_count(
                run_cfg.hosts.agents_per_host, run_cfg.drones, float(os.cpu_count() or 1)
            )
            self.hosts = LocalHosts(run_cfg, n, run_id, key, curve)
        self.n_hosts = self.hosts.n_hosts
        self.plan: TeamPlan | None = None
        self.ticks = 0  # act() calls of the current mission
        self._rounds_at: dict[int, int] = {-1: 0}  # knowledge round -> tick it followed
        self._restarts_before = 0  # host restarts of earlier missions
        self._phases: tuple[Phase, ...] = ()
        self._positions: np.ndarray | None = None
        self._init_cache: dict[str, dict[str, np.ndarray] | None] = {}

    # -- missions -------------------------------------------------------------------------
    def configure(
        self,
        team: str,
        seed: int,
        world_info: WorldInfo,
        token_spec: TokenSpec,
        n_drones: int,
        team_cfg: RunConfig | None = None,
    ) -> None:
        """Fresh brains, policies and protocol sessions on every host for team × seed.

        `team_cfg` is the configuration this team flies with when it differs from the run's
        (a team variant's models, learner, protocol: `swarm.variants`); None: the run's.
        """
        cfg = team_cfg if team_cfg is not None else self.cfg
        self.plan = make_plan(team, n_drones, self.n_hosts, cfg.protocol.topology.kind)
        fixed = self.plan.model == "fixed"  # the fixed detector has no checkpoint
        init = None if fixed else self._pretrained(cfg, self.plan.model, token_spec)
        mission = Mission(self.plan, seed, world_info, token_spec, team_cfg)
        self._restarts_before = len(getattr(self.hosts, "restarts", ()))
        phases = self.hosts.configure(mission, init)
        self._phases = max(phases, key=len)  # hosts without brains have none
        self._positions = None
        self.ticks, self._rounds_at = 0, {-1: 0}
        self.hosts.checkpoint(-1)  # what a host that dies before the first round restarts from

    def _pretrained(self, cfg: RunConfig, size: str, spec: TokenSpec) -> Any:
        """The cached pretrained checkpoint of `cfg`'s small or large model (loaded once)."""
        model = cfg.model.small if size == "small" else cfg.large_model()
        key = model.model_dump_json()  # a variant may fly other models than the run's
        if key not in self._init_cache:
            named = load_pretrained(model_for(model, spec))
            self._init_cache[key] = self.hosts.share(named)
        return self._init_cache[key]

    def _need_plan(self) -> TeamPlan:
        if self.plan is None:
            raise RuntimeError("call pool.configure(team, seed, ...) before act/exchange/probe")
        return self.plan

    def act(self, obs: Observation) -> Actions:
        """Actions for all drones of `obs` (drone order), one fan-out to the hosts."""
        plan = self._need_plan()
        if len(obs) != plan.n_drones:
            raise ValueError(
                f"observation has {len(obs)} drones but team {plan.team!r} was configured "
                f"for {plan.n_drones}; configure with the world's n_drones"
            )
        self._positions = np.asarray(obs.pose[:, :2], np.float32)
        shards = [obs.select(ids) for ids in plan.drone_shards]
        # central: the centre host blocks until the others' OBS uploads arrive, so it goes last
        order = list(range(self.n_hosts))
        if plan.sharing == "central":
            order = [h for h in order if h != plan.centre_host] + [plan.centre_host]
        self.ticks += 1
        results = self.hosts.act(shards, order)
        ids = np.concatenate([r[0] for r in results if r[1] is not None])
        parts = [r[1] for r in results if r[1] is not None]
        joined = Actions.concat(parts)
        if not np.array_equal(ids, np.arange(plan.n_drones)):
            inv = np.argsort(ids)
            joined = joined.take(inv)
        return joined

    def exchange(self, round_idx: int) -> None:
        """One knowledge round: per phase every host sends, then every host receives."""
        self._need_plan()
        for phase in self._phases:
            self.hosts.send(round_idx, phase, self._positions)
            self.hosts.recv(round_idx, phase)
        self.hosts.checkpoint(round_idx)  # a host that dies from here restarts from this round
        self._rounds_at[round_idx] = self.ticks

    def restarts(self) -> list[dict[str, Any]]:
        """The current mission's host restarts (`swarm.host.Restart`) as plain data, with the
        tick the restored state was taken at and the ticks of that host's work lost. Empty on
        the local backend (nothing restarts a host in this process)."""
        out = []
        for r in getattr(self.hosts, "restarts", [])[self._restarts_before :]:
            at = self._rounds_at.get(r.restored_round, 0)
            redone = 1 if r.call == "act" else 0  # that tick's act runs again, restored
            out.append({**asdict(r), "restored_tick": at, "lost_ticks": r.tick - redone - at})
        return out

    def probe_auc(self, tokens: np.ndarray, labels: np.ndarray) -> float:
        """Median detector AUC over the team's brains; tokens (M, input_dim), labels (M,)."""
        self._need_plan()
        aucs = [a for host in self.hosts.probe_aucs(tokens, labels) for a in host]
        return float(np.median(aucs))

    def brain_aucs(self, tokens: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """(n_drones,) the detector AUC of each drone's brain on a probe set, in drone order
        (every drone of a shared model gets its AUC); evaluation only, like `probe_auc`."""
        plan = self._need_plan()
        out = np.full(plan.n_drones, np.nan)
        for h, aucs in enumerate(self.hosts.probe_aucs(tokens, labels)):
            if not aucs:  # a host without brains
                continue
            ids = np.arange(plan.n_drones) if plan.sharing == "central" else plan.drone_shards[h]
            out[ids] = aucs if len(aucs) == len(ids) else aucs[0]
        return out

    # -- accounting -----------------------------------------------------------------------
    def stats(self) -> dict[str, float]:
        """Cumulative cost counters summed over hosts; params_per_brain is the largest."""
        rows = self.hosts.stats()
        out = {k: float(sum(r[k] for r in rows)) for k in ADDITIVE_STATS}
        if isinstance(self.hosts, LocalHosts):  # one process: its CPU time is counted once
            out["cpu_seconds"] = max(r["cpu_seconds"] for r in rows)
        out["params_per_brain"] = max(r["params_per_brain"] for r in rows)
        out["brains"] = float(sum(r["brains"] for r in rows))
        return out

    def view_record(self, beliefs: bool = False) -> list[dict[str, Any]]:
        """Per host, what a recording needs (`HostCore.view_record`): messages since the last
        call, hub and term, graph edges, belief maps with `beliefs`. Evaluation only."""
        self._need_plan()
        return self.hosts.view_record(beliefs)

    def ray_info(self) -> dict[str, Any]:
        """Nodes of the Ray cluster (1 for the local backend), host count, where each host is."""
        placement = [asdict(p) for p in self.hosts.placement()]
        return {"nodes": self.hosts.nodes(), "hosts": self.n_hosts, "placement": placement}

    def close(self) -> None:
        """Close every host's sockets and end the actors (idempotent)."""
        self.hosts.close()

    def __enter__(self) -> HostPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

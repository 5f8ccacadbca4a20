"""How the pool calls its hosts: Ray actors (one fan-out, one `ray.get`) or in-process objects.

Both backends expose the same four calls, so `HostPool` has one code path:
`all(method, *args)` (same arguments to every host, results in host order),
`each(method, per_host_args, order)` (own arguments per host), `share(obj)` (put a large
read-only object once: an ObjectRef for Ray), `nodes()` and `close()`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import ray
from ray.exceptions import ActorDiedError, ActorUnavailableError, RayActorError

from swarm.host import HostCore
from swarm.raylife import alive_nodes, host_count, host_options, start_ray

if TYPE_CHECKING:
    from swarm.config import RunConfig

__all__ = ["HostDied", "LocalCalls", "RayCalls"]


class HostDied(RuntimeError):
    """A host actor died (crash, node lost, out of memory); the pool cannot continue."""


class HostActor(HostCore):
    """`HostCore` inside a Ray actor: binds its ROUTER on its own node's address."""

    def __init__(
        self, index: int, n_hosts: int, cfg: RunConfig, run_id: str, key: bytes, curve: Any = None
    ) -> None:
        ip = ray.util.get_node_ip_address()
        super().__init__(index, n_hosts, cfg, run_id, key, ip, curve=curve)

    def node_id(self) -> str:
        """The Ray node this host runs on."""
        return ray.get_runtime_context().get_node_id()


class RayCalls:
    """Host actors on Ray; started here, ended by `close()`."""

    def __init__(
        self, run_cfg: RunConfig, n_hosts: int | None, run_id: str, key: bytes, curve: Any = None
    ) -> None:
        info = start_ray(run_cfg.ray.address, run_cfg.ray.num_cpus)
        cpus = max(info["cpus"], 1.0)
        n = n_hosts or host_count(run_cfg.hosts.agents_per_host, run_cfg.drones, cpus)
        resources = list(run_cfg.hosts.resources) or None
        remote = ray.remote(HostActor)
        self.actors = []
        for i in range(n):
            opts = host_options(i, resources)
            if n > cpus and not resources:  # more hosts than CPUs: share them rather than hang
                opts["num_cpus"] = cpus / n
            self.actors.append(remote.options(**opts).remote(i, n, run_cfg, run_id, key, curve))
        self.n_hosts = n

    def _get(self, refs: list[Any], method: str) -> list[Any]:
        try:
            return ray.get(refs)
        except (ActorDiedError, ActorUnavailableError, RayActorError) as err:
            raise HostDied(
                f"a host actor died during {method}(): {err}. The pool cannot continue; "
                "completed missions are kept by the run loop. Check memory (each host holds "
                "its brains) and the Ray logs under /tmp/ray/session_latest/logs"
            ) from err

    def all(self, method: str, *args: Any) -> list[Any]:
        refs = [getattr(a, method).remote(*args) for a in self.actors]
        return self._get(refs, method)

    def each(self, method: str, per_host: Sequence[tuple], order: Sequence[int]) -> list[Any]:
        # Actors run concurrently, so the order only matters for the local backend.
        refs = [
            getattr(a, method).remote(*args) for a, args in zip(self.actors, per_host, strict=True)
        ]
        return self._get(refs, method)

    def share(self, obj: Any) -> Any:
        return ray.put(obj)

    def nodes(self) -> int:
        return alive_nodes()

    def node_ids(self) -> list[str]:
        """The Ray node of each host, in host order."""
        return self.all("node_id")

    def close(self) -> None:
        if not self.actors:
            return
        with contextlib.suppress(Exception):  # a dead host has nothing left to close
            ray.get([a.close.remote() for a in self.actors], timeout=30)
        for a in self.actors:
            ray.kill(a)
        self.actors = []


class LocalCalls:
    """The same hosts as plain objects in this process (real sockets, no Ray)."""

    def __init__(
        self, run_cfg: RunConfig, n_hosts: int, run_id: str, key: bytes, curve: Any = None
    ) -> None:
        self.hosts = [
            HostCore(i, n_hosts, run_cfg, run_id, key, curve=curve) for i in range(n_hosts)
        ]
        self.n_hosts = n_hosts

    def all(self, method: str, *args: Any) -> list[Any]:
        return [getattr(h, method)(*args) for h in self.hosts]

    def each(self, method: str, per_host: Sequence[tuple], order: Sequence[int]) -> list[Any]:
        out: list[Any] = [None] * len(self.hosts)
        for h in order:  # sequential: a host that waits on others' messages must come last
            out[h] = getattr(self.hosts[h], method)(*per_host[h])
        return out

    def share(self, obj: Any) -> Any:
        return obj

    def nodes(self) -> int:
        return 1

    def node_ids(self) -> list[str]:
        return ["local"] * len(self.hosts)

    def close(self) -> None:
        for h in self.hosts:
            h.close()
        self.hosts = []

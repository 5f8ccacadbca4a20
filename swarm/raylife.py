"""Ray lifecycle: start an embedded loopback-only Ray, or join a cluster, and place host actors.

```python
info = start_ray(address=None | "auto" | "HOST:PORT", num_cpus=None)   # -> RayInfo
res = reserve(host_requests(n, info.cpus, resources), timeout_s=60)  # -> Reservation
actor = ray.remote(Cls).options(**res.options(i)).remote(...)       # host i, where reserved
res.nodes[i]          # HostNode(node_id, address) of host i
res.release()         # when the hosts are gone
```

An embedded Ray binds 127.0.0.1 only (no dashboard, worker logs kept off the driver's
terminal), so a run on a laptop opens nothing to the network. Joining an address
(`ray.address` in YAML, `--address` on the CLI) attaches to a cluster started with
`ray start`; `RayInfo.address` is the address actually joined (what `auto` resolved to).

Hosts are placed before any of them starts. `placement_problems` compares the hosts'
requests with the cluster's nodes and names any request no state of the cluster could meet
("3 hosts each need rack_b: 1; the cluster has 1"); then one placement-group bundle per host
is reserved (spread over nodes), and a reservation not granted within `timeout_s` fails with
`PlacementError` (exit 2 from the CLI) instead of waiting forever for resources that are
busy or never come.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import ray
from ray.util.placement_group import placement_group, placement_group_table
from ray.util.placement_group import remove_placement_group as _remove_pg
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

__all__ = [
    "EMBEDDED_ENV",
    "HostNode",
    "HostPlace",
    "NodeResources",
    "PlacementError",
    "RayInfo",
    "Reservation",
    "actor_state",
    "alive_nodes",
    "cluster_nodes",
    "host_count",
    "host_requests",
    "logs_hint",
    "placement_problems",
    "reserve",
    "start_ray",
    "stop_ray",
]

#: Environment of the embedded Ray only, set around its `ray.init` so that the Ray processes
#: it spawns (GCS, raylet, workers) inherit it; never set when joining a cluster, and a value
#: the user exported wins.
#: - RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 puts Ray in single-machine mode, the only mode in
#:   which it keeps 127.0.0.1: otherwise Ray replaces a node address of 127.0.0.1 by the
#:   machine's routable one and its GCS listens on every interface (measured with Ray 2.60).
#:   It also forbids worker nodes (`ray start --address` refuses, "Multi-node Ray clusters are
#:   not supported on Windows and OSX"): right for a loopback-only run, wrong for any cluster.
#:   Ray reads it once, at `import ray`, so `_embedded_env` also sets Ray's constant in this
#:   process (already imported) for the duration of `ray.init`.
#: - RAY_AUTH_MODE=disabled: a new local Ray otherwise turns on token authentication and
#:   writes a token into ~/.ray/auth_token; an embedded run lives and dies with this process on
#:   loopback, so it leaves the user's home alone. (A cluster's mode is the user's: with
#:   `RAY_AUTH_MODE=token` every device and the driver need the same token.)
EMBEDDED_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "disabled"}

_started_here = False


class PlacementError(RuntimeError):
    """The cluster cannot place the run's hosts (now, or within the placement timeout)."""


@dataclass(frozen=True)
class RayInfo:
    """Where Ray runs: `address` is the GCS address joined or started (HOST:PORT),
    `requested` what was asked for (None: embedded, "auto", "HOST:PORT")."""

    address: str
    requested: str | None
    embedded: bool
    nodes: int
    cpus: float
    version: str

    def record(self) -> dict[str, Any]:
        """For results.json's `ray` section."""
        return asdict(self)


@contextlib.contextmanager
def _embedded_env() -> Iterator[None]:
    """EMBEDDED_ENV set (where the user has not) for the duration, then restored."""
    from ray._private import ray_constants  # read by Ray's services at call time

    added = {k: v for k, v in EMBEDDED_ENV.items() if k not in os.environ}
    os.environ.update(added)
    single = os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"].lower() in ("0", "false")
    was, ray_constants.ENABLE_RAY_CLUSTER = ray_constants.ENABLE_RAY_CLUSTER, not single
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = was
        for key in added:
            os.environ.pop(key, None)


def start_ray(
    address: str | None = None, num_cpus: int | None = None, quiet: bool = True
) -> RayInfo:
    """Start an embedded Ray on 127.0.0.1, or join `address` ("auto" or "host:port").

    Does nothing if Ray is already initialised in this process (the caller owns it then).
    """
    global _started_here
    # RAY_ADDRESS set in the environment is the user's explicit choice of cluster
    address = address or os.environ.get("RAY_ADDRESS") or None
    if not ray.is_initialized():
        common: dict[str, Any] = {
            "log_to_driver": not quiet,
            "logging_level": logging.WARNING if quiet else logging.INFO,
            "ignore_reinit_error": True,
        }
        if address:
            try:
                ray.init(address=address, **common)
            except ConnectionError as err:
                raise ConnectionError(_join_failed(address, err)) from err
        else:
            # "local" always starts a fresh instance: a bare ray.init() would join any cluster
            # that /tmp/ray names (someone else's `ray start` on this machine)
            with _embedded_env():
                ray.init(
                    address="local",
                    num_cpus=num_cpus,
                    include_dashboard=False,
                    _node_ip_address="127.0.0.1",
                    **common,
                )
        _started_here = True
    gcs = str(ray.get_runtime_context().gcs_address)
    return RayInfo(
        address=gcs,
        requested=address,
        # not `not address`: inside a sweep's worker Ray is up and nothing was asked for
        embedded=not address and gcs.startswith("127.0.0.1:"),
        nodes=alive_nodes(),
        cpus=float(ray.cluster_resources().get("CPU", 0.0)),
        version=ray.__version__,
    )


def _join_failed(address: str, err: Exception) -> str:
    text = (
        f"could not join the Ray cluster at {address!r} ({err}). Start it with "
        "`ray start --head --port=6379` on one device and `ray start --address=HEAD_IP:6379` "
        "on the others, then give HEAD_IP:6379 here; or leave ray.address empty to run on "
        "this machine."
    )
    if address == "auto":
        text += (
            " `auto` only finds a cluster that a `ray start` on this machine recorded under "
            "/tmp/ray (not one started with --temp-dir), else any Ray process running here, "
            "maybe someone else's: prefer HEAD_IP:PORT."
        )
    return text


def stop_ray() -> None:
    """Shut Ray down if this module started it (a joined cluster keeps running)."""
    global _started_here
    if _started_here and ray.is_initialized():
        ray.shutdown()
    _started_here = False


def alive_nodes() -> int:
    """Number of alive nodes in the connected Ray cluster."""
    return sum(1 for node in ray.nodes() if node.get("Alive"))


def actor_state(actor: Any) -> str:
    """What Ray's control store says of an actor: "ALIVE", "DEAD", "RESTARTING", ...

    Read from the GCS (Ray's public state API needs the dashboard, which an embedded Ray here
    does not start); "unknown" if Ray cannot tell."""
    try:
        from ray._private.state import actors

        return str(actors(actor._actor_id.hex()).get("State", "unknown"))
    except Exception:  # a diagnosis must never hide the error it explains
        return "unknown"


def _local_log_dir() -> str:
    """The logs folder of this process's Ray session (the driver's node)."""
    try:
        return str(ray._private.worker._global_node.get_logs_dir_path())
    except Exception:
        return "the Ray session's logs folder (ray.init's _temp_dir, /tmp/ray by default)"


def logs_hint(node: HostNode | None = None) -> str:
    """Where to read the Ray logs of a host on `node`: this machine's session folder for an
    embedded Ray; for a cluster, the node's own folder on that device, with its state."""
    here = _local_log_dir()
    if node is None or node.address == ray.util.get_node_ip_address():  # this machine's node
        return f"Ray logs: {here}"
    state = "unknown"
    with contextlib.suppress(Exception):  # a diagnosis must never hide the error it explains
        row = next((n for n in ray.nodes() if n.get("NodeID") == node.node_id), None)
        state = "not in the cluster" if row is None else ("alive" if row["Alive"] else "dead")
    return (
        f"Ray reports its node {node.address} (node id {node.node_id[:12]}) {state}; that "
        f"node's Ray logs are on its own device, under its `ray start --temp-dir` (default "
        f"/tmp/ray)/session_latest/logs, not in this machine's {here}"
    )


def host_count(agents_per_host: int | str, n_brains: int, cpus: float) -> int:
    """How many host actors to start.

    `auto`: one host per available CPU (a host imports torch: ~1.5 s and ~180 MB, so brains
    are sharded many per host, never one actor per brain). An integer: enough hosts for
    `n_brains` at that many per host. Never more hosts than brains, never fewer than one.
    """
    if agents_per_host == "auto":
        wanted = max(1, int(cpus))
    elif isinstance(agents_per_host, int) and agents_per_host >= 1:
        wanted = math.ceil(n_brains / agents_per_host)
    else:
        raise ValueError(
            f"hosts.agents_per_host must be 'auto' or a positive integer, got {agents_per_host!r}"
        )
    return max(1, min(wanted, max(1, n_brains)))


# -- placement ------------------------------------------------------------------------------
@dataclass(frozen=True)
class NodeResources:
    """An alive node: its address and total resources (`{"CPU": 4.0, "rack_b": 1.0}`)."""

    node_id: str
    address: str
    total: Mapping[str, float]


@dataclass(frozen=True)
class HostNode:
    """The node a host was placed on."""

    node_id: str
    address: str


def cluster_nodes() -> list[NodeResources]:
    """The alive nodes of the connected cluster, from Ray's control store."""
    return [
        NodeResources(n["NodeID"], n["NodeManagerAddress"], dict(n.get("Resources", {})))
        for n in ray.nodes()
        if n.get("Alive")
    ]


def host_requests(
    n: int, cpus: float, resources: Sequence[Mapping[str, float]] | None
) -> list[dict[str, float]]:
    """What each of `n` hosts asks of a node: one CPU, plus `resources[i]` (from YAML
    `hosts.resources`, cycled over hosts) when given. Unpinned hosts beyond the cluster's
    `cpus` share them (cpus / n each) rather than wait for CPUs that never come."""
    out = []
    for i in range(n):
        req: dict[str, float] = {"CPU": 1.0}
        if resources:
            req.update({k: float(v) for k, v in resources[i % len(resources)].items() if v > 0})
        elif n > cpus > 0:
            req["CPU"] = cpus / n
        out.append(req)
    return out


def _amounts(req: Mapping[str, float]) -> str:
    return ", ".join(f"{k}: {v:g}" for k, v in req.items())


def placement_problems(
    requests: Sequence[Mapping[str, float]], nodes: Sequence[NodeResources]
) -> list[str]:
    """Why `requests` (one per host) can never all be placed on `nodes`; empty if they might.

    Two checks, both exact necessary conditions: per resource, the hosts' sum must not
    exceed the cluster's total; and each host's whole request must fit on one node. (Whether
    they pack is Ray's to find; `reserve` times out if it cannot.)"""
    problems: list[str] = []
    for name in sorted({k for r in requests for k in r}):
        asks = [r[name] for r in requests if r.get(name, 0) > 0]
        need, have = sum(asks), sum(n.total.get(name, 0.0) for n in nodes)
        if need > have + 1e-9:
            each = (
                f"each need {name}: {asks[0]:g}"
                if len(set(asks)) == 1
                else (f"need {name}: {need:g} in all")
            )
            who = f"{len(asks)} hosts {each}" if len(asks) > 1 else f"1 host needs {name}: {need:g}"
            problems.append(f"{who}; the cluster has {have:g}")
    for i, req in enumerate(requests):
        if problems:  # a total already short says it all
            break
        if not any(all(n.total.get(k, 0.0) + 1e-9 >= v for k, v in req.items()) for n in nodes):
            have = "; ".join(
                f"{n.address}: {_amounts({k: n.total.get(k, 0.0) for k in req})}" for n in nodes
            )
            problems.append(
                f"host {i} needs {{{_amounts(req)}}} on one node and no node has all of it ({have})"
            )
    return problems


@dataclass(frozen=True)
class HostPlace:
    """Where host `host` runs, for results.json: its Ray node (`node_id` None for in-process
    hosts), the node's address, and the ZeroMQ endpoint its peers connect to."""

    host: int
    node_id: str | None
    node_address: str
    endpoint: str


@dataclass
class Reservation:
    """One placement-group bundle per host, granted; `nodes[i]` is host i's node."""

    group: Any  # ray.util.placement_group.PlacementGroup
    requests: list[dict[str, float]]
    nodes: list[HostNode]

    def options(self, index: int) -> dict[str, Any]:
        """Ray `.options(...)` that start host `index` in its bundle."""
        req = dict(self.requests[index])
        return {
            "num_cpus": req.pop("CPU", 0.0),
            "resources": req,
            "scheduling_strategy": PlacementGroupSchedulingStrategy(
                placement_group=self.group, placement_group_bundle_index=index
            ),
        }

    def release(self) -> None:
        """Give the reserved resources back (idempotent; the hosts must be gone)."""
        if self.group is not None:
            with contextlib.suppress(Exception):  # Ray already gone: nothing to give back
                _remove_pg(self.group)
            self.group = None


def reserve(
    requests: list[dict[str, float]],
    timeout_s: float,
    ports: tuple[int, int] | None = None,
) -> Reservation:
    """Reserve one bundle per host, spread over nodes; see the module docstring.

    Raises `PlacementError` at once for a request the cluster can never meet, after
    `timeout_s` when Ray has not granted every bundle, and when `ports` (hosts.ports) holds
    fewer ports than the hosts placed on some node.
    """
    nodes = cluster_nodes()
    problems = placement_problems(requests, nodes)
    if problems:
        raise PlacementError(_cannot_place(problems, requests, nodes))
    group = placement_group(requests, strategy="SPREAD")
    if not group.wait(timeout_seconds=timeout_s):
        _remove_pg(group)
        raise PlacementError(
            f"Ray did not place the {len(requests)} host(s) within hosts.placement_timeout_s = "
            f"{timeout_s:g} s: their resources are held by other work, or the hosts do not "
            f"pack onto the nodes ({_amounts_per_host(requests)}; nodes: "
            f"{_node_amounts(nodes, requests)}). Wait for the "
            "other work, raise hosts.placement_timeout_s, or start fewer hosts"
        )
    by_bundle = placement_group_table(group)["bundles_to_node_id"]
    address = {n.node_id: n.address for n in cluster_nodes()}
    placed = [HostNode(by_bundle[i], address.get(by_bundle[i], "?")) for i in range(len(requests))]
    res = Reservation(group, requests, placed)
    if ports is not None:
        per_node: dict[str, int] = {}
        for node in placed:
            per_node[node.address] = per_node.get(node.address, 0) + 1
        crowded = {a: k for a, k in per_node.items() if k > ports[1] - ports[0] + 1}
        if crowded:
            res.release()
            most = max(crowded.values())
            raise PlacementError(
                f"hosts.ports {ports[0]}-{ports[1]} holds {ports[1] - ports[0] + 1} port(s) per "
                f"node, but Ray placed {most} hosts on "
                f"{', '.join(sorted(crowded))}: give at least {most} ports, e.g. "
                f"{ports[0]}-{ports[0] + most - 1}"
            )
    return res


def _node_amounts(nodes: Sequence[NodeResources], requests: Sequence[Mapping[str, float]]) -> str:
    """What each node has of the resources the hosts ask for."""
    names = sorted({k for r in requests for k in r})
    return "; ".join(
        f"{n.address}: {_amounts({k: n.total.get(k, 0.0) for k in names})}" for n in nodes
    )


def _amounts_per_host(requests: Sequence[Mapping[str, float]]) -> str:
    kinds = sorted({_amounts(r) for r in requests})
    return "; ".join(
        f"{sum(1 for r in requests if _amounts(r) == k)} host(s) need {{{k}}}" for k in kinds
    )


def _cannot_place(
    problems: list[str], requests: Sequence[Mapping[str, float]], nodes: Sequence[NodeResources]
) -> str:
    custom = sorted({k for r in requests for k in r if k != "CPU"})
    hint = (
        "start fewer hosts (hosts.agents_per_host), give nodes these resources "
        "(`ray start ... --resources='{\"NAME\": 1}'`), or pin hosts with a list in "
        "hosts.resources (one entry per host)"
        if custom
        else "start fewer hosts (hosts.agents_per_host) or add nodes"
    )
    return (
        f"cannot place the run's {len(requests)} hosts on this Ray cluster of "
        f"{len(nodes)} node(s): {'; '.join(problems)}. To fix: {hint}"
    )

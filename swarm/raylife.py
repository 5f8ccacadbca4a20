"""Ray lifecycle: start an embedded loopback-only Ray, or join a cluster, and place host actors.

An embedded Ray binds 127.0.0.1 only (no dashboard, worker logs kept off the driver's
terminal), so a run on a laptop opens nothing to the network. Joining an address
(`ray.address` in YAML, `--address auto` on the CLI) attaches to a cluster started with
`ray start`; hosts then spread over its nodes, or are pinned with custom resources.
"""

from __future__ import annotations

import logging
import math
import os
from typing import Any

import ray

__all__ = [
    "actor_state",
    "alive_nodes",
    "host_count",
    "host_options",
    "log_dir",
    "start_ray",
    "stop_ray",
]

# Set before Ray starts: no cluster-mode warnings on one machine, no token auth on loopback.
_RAY_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "disabled"}
_started_here = False


def start_ray(
    address: str | None = None, num_cpus: int | None = None, quiet: bool = True
) -> dict[str, Any]:
    """Start an embedded Ray on 127.0.0.1, or join `address` ("auto" or "host:port").

    Does nothing if Ray is already initialised in this process (the caller owns it then).
    Returns `{"nodes": int, "cpus": float, "embedded": bool}`.
    """
    global _started_here
    for key, value in _RAY_ENV.items():
        os.environ.setdefault(key, value)
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
                raise ConnectionError(
                    f"could not join the Ray cluster at {address!r}: start it with "
                    "`ray start --head` (and `ray start --address=HEAD:6379` on other nodes), "
                    "or leave ray.address empty to run on this machine"
                ) from err
        else:
            # "local" always starts a fresh instance: a bare ray.init() would join any cluster
            # that /tmp/ray names (someone else's `ray start` on this machine)
            ray.init(
                address="local",
                num_cpus=num_cpus,
                include_dashboard=False,
                _node_ip_address="127.0.0.1",
                **common,
            )
        _started_here = True
    cpus = float(ray.cluster_resources().get("CPU", 0.0))
    return {"nodes": alive_nodes(), "cpus": cpus, "embedded": not address}


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


def log_dir() -> str:
    """The logs folder of this Ray session (the driver's node; a cluster's other nodes keep
    theirs under the same session name), not Ray's default /tmp/ray/session_latest."""
    try:
        return str(ray._private.worker._global_node.get_logs_dir_path())
    except Exception:
        return "the Ray session's logs folder (ray.init's _temp_dir, /tmp/ray by default)"


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


def host_options(index: int, resources: list[dict[str, float]] | None) -> dict[str, Any]:
    """Ray `.options(...)` for host `index`: pinned by custom resources, else spread.

    `resources[i]` (from YAML `hosts.resources`, e.g. `[{"node0": 1}, {"node1": 1}]`) pins host
    i to a node that advertises it; hosts beyond the list are cycled over it.
    """
    opts: dict[str, Any] = {"num_cpus": 1}
    if resources:
        opts["resources"] = dict(resources[index % len(resources)])
    else:
        opts["scheduling_strategy"] = "SPREAD"
    return opts

"""A cluster started with the real `ray start` CLI, as README's cluster section tells users.

A head (127.0.0.2) and two worker nodes (127.0.0.3, 127.0.0.4), one CPU each, each its own
`ray start --block` process with its own `--temp-dir`, stopped by process group at the end.
The smoke scenario runs on it with `--address` (CurveZMQ on) and must land one host per node,
bind each host's ZeroMQ socket on its own node's address inside `hosts.ports`, and give
exactly the results of an embedded run with the same host count. A pinning request the
cluster cannot meet fails at once with exit 2 and says why.

The nodes start without RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER (it forbids worker nodes) and with
RAY_AUTH_MODE=disabled (loopback only; every process of a cluster must agree on the mode).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.ray  # starts Ray: its own three-node cluster, not the session's

ROOT = Path(__file__).resolve().parents[2]
RAY = Path(sys.executable).parent / "ray"
HEAD, WORKERS = "127.0.0.2", ("127.0.0.3", "127.0.0.4")
NODES = (HEAD, *WORKERS)
# one seed: CI-size; CurveZMQ on, as README's cluster section advises between devices
SMOKE = ["scenarios/smoke.yaml", "--seeds", "1", "--quiet", "--set", "protocol.security=curve"]
START_S = 120.0  # a node start that takes longer than this on a loaded machine is a failure


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env["RAY_AUTH_MODE"] = "disabled"
    return env


def _free_port(hosts: tuple[str, ...]) -> int:
    """A TCP port free on every one of `hosts` (and the next one too)."""
    for _ in range(200):
        port = random.randint(20000, 29000)
        try:
            for host in hosts:
                for p in (port, port + 1):
                    with socket.socket() as s:
                        s.bind((host, p))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair on the loopback addresses")


def _loopback_aliases_work() -> bool:
    try:
        for host in NODES:
            with socket.socket() as s:
                s.bind((host, 0))
    except OSError:
        return False
    return True


class Cluster:
    """`ray start --block` processes, each in its own process group."""

    def __init__(self, root: Path) -> None:
        self.root, self.procs = root, []
        self.port = _free_port((HEAD,))
        self.address = f"{HEAD}:{self.port}"

    def start(self, ip: str, *args: str) -> None:
        log = open(self.root / f"{ip}.log", "w")  # noqa: SIM115 (closed with the process)
        cmd = [str(RAY), "start", "--block", "--node-ip-address", ip, "--num-cpus", "1",
               "--temp-dir", str(self.root / ip.rsplit(".", 1)[1]), "--disable-usage-stats",
               "--object-store-memory", str(100 * 2**20), *args]  # fmt: skip
        proc = subprocess.Popen(
            cmd, env=_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.procs.append((proc, log))

    def wait_for(self, n_nodes: int) -> None:
        """Until the head reports `n_nodes` alive nodes (`ray status`)."""
        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline:
            for proc, _ in self.procs:
                assert proc.poll() is None, f"a `ray start` exited: {self.logs()}"
            out = subprocess.run(
                [str(RAY), "status", "--address", self.address],
                env=_env(), capture_output=True, text=True, timeout=60,
            ).stdout  # fmt: skip
            active = out.split("Active:", 1)[-1].split("Pending:", 1)[0]
            if active.count("node_") >= n_nodes:
                return
            time.sleep(1.0)
        raise AssertionError(f"{n_nodes} nodes not up in {START_S:.0f} s: {self.logs()}")

    def logs(self) -> str:
        return "\n".join(p.read_text()[-2000:] for p in sorted(self.root.glob("*.log")))

    def stop(self) -> None:
        """SIGTERM each node's process group, then SIGKILL what is left of it."""
        for proc, _ in self.procs:
            with_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 5.0  # a grace period for all nodes together
        for proc, log in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            with_group(proc.pid, signal.SIGKILL)  # the GCS and agents may outlive the leader
            proc.wait(timeout=15)
            log.close()


def with_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # the group is gone already
        os.killpg(pgid, sig)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    if not _loopback_aliases_work():
        pytest.skip("127.0.0.2-4 are not usable loopback addresses here (Linux has them)")
    root = Path(tempfile.mkdtemp(prefix="rc", dir="/tmp"))  # short: unix socket paths
    c = Cluster(root)
    try:
        # the head advertises one `rack_b`, for the pinning check
        c.start(HEAD, "--head", "--port", str(c.port), "--include-dashboard=false",
                "--resources", '{"rack_b": 1}')  # fmt: skip
        for ip in WORKERS:  # `ray start --address` waits for the head's GCS to come up
            c.start(ip, "--address", c.address)
        c.wait_for(len(NODES))
        yield c
    finally:
        c.stop()
        shutil.rmtree(root, ignore_errors=True)


def _run(*args: str, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "swarm.run", *args, "--out", str(out)],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def _runs(doc: dict) -> str:
    """Every run's record but its timings, as text (NaN-safe comparison)."""
    out = {}
    for team, entry in doc["teams"].items():
        out[team] = [
            {**r, "wall_seconds": None, "stats": {**r["stats"], "cpu_seconds": None}}
            for r in entry["runs"]
        ]
    return json.dumps(out, sort_keys=True)


def test_smoke_on_three_ray_start_nodes_equals_the_embedded_run(cluster, tmp_path):
    port = _free_port(NODES)
    ports = f"hosts.ports={port}-{port + 1}"
    on_cluster = _run(*SMOKE, "--address", cluster.address, "--set", ports, out=tmp_path / "c")
    assert on_cluster.returncode == 0, on_cluster.stderr[-3000:]
    assert f"joined Ray cluster ({cluster.address}) at {cluster.address}" in on_cluster.stdout
    doc = json.loads((tmp_path / "c" / "results.json").read_text())
    ray_doc = doc["ray"]
    assert (ray_doc["address"], ray_doc["requested"], ray_doc["embedded"]) == (
        cluster.address, cluster.address, False
    )  # fmt: skip
    assert (ray_doc["nodes"], ray_doc["hosts"]) == (3, 3)
    placement = ray_doc["placement"]
    # one host per node, each host's ROUTER on its own node's address, at the first port of
    # hosts.ports (one host per node: the range's second port stays free)
    assert sorted(p["node_address"] for p in placement) == sorted(NODES)
    assert len({p["node_id"] for p in placement}) == 3
    for p in placement:
        assert p["endpoint"] == f"tcp://{p['node_address']}:{port}"
    # traffic crossed nodes: every host holds brains, and the ring of 4 drones over 3 hosts
    # (and central's OBS uploads to one host) link brains on different hosts
    for team in ("swarm", "central"):
        assert all(r["stats"]["host_socket_received"] > 0 for r in doc["teams"][team]["runs"])

    embedded = _run(*SMOKE, "--set", "ray.num_cpus=3", out=tmp_path / "embedded")
    assert embedded.returncode == 0, embedded.stderr[-3000:]
    alone = json.loads((tmp_path / "embedded" / "results.json").read_text())
    assert alone["ray"]["embedded"] and alone["ray"]["hosts"] == 3
    assert alone["ray"]["address"].startswith("127.0.0.1:")
    assert _runs(doc) == _runs(alone)


def test_pinning_more_hosts_than_the_cluster_holds_fails_at_once(cluster, tmp_path):
    # three hosts (one per CPU) each pinned to `rack_b`, which only the head has: this hung
    proc = _run(*SMOKE, "--address", cluster.address, "--set", "hosts.resources={rack_b: 1}",
                out=tmp_path / "pinned")  # fmt: skip
    assert proc.returncode == 2
    assert "3 hosts each need rack_b: 1; the cluster has 1" in proc.stderr
    doc = json.loads((tmp_path / "pinned" / "results.json").read_text())
    assert doc["status"] == "failed" and "PlacementError" in doc["error"]
    assert doc["ray"]["address"] == cluster.address  # where it tried is recorded

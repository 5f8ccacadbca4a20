"""`python -m bench.scale [--sizes 1024,4096]`: cost per agent-step and memory at large N.

For each N (default 1,024 and 4,096) the `swarm` team of the default drone_search scenario
flies on one square map of `--side` cells for every N (default 64: 4,096 drones do not fit
on the default 48 x 48, one drone per cell at most), on 2 Ray host actors in a fresh
embedded Ray (world + HostPool.act + knowledge rounds, online learning on), timed as
`bench.swarm` times it, while a sampler thread sums the memory of this process and every
process it started (Ray's GCS, raylet, workers and the host actors) every `--every`
seconds: proportional set sizes (PSS), so a page shared by several processes counts once.
Per N it records agent-steps/s, microseconds per agent-step, the peak of that sum (and the
host actors' part of it), the sum before the hosts were configured (Ray and the host actors
up, no brains yet: the fixed runtime cost), the peak of Ray's object store with any bytes it
spilled to disk, and the peak bytes of the hosts' restart snapshot files on disk
(docs/faults.md: 0.6 to 0.8 MB per brain, two files per host at all times, the newest and the
one before it or the one being written over; page cache, not process memory). Across sizes it
reports the cost ratio of the largest N to the smallest (issue 14 target at 4,096 vs 1,024:
<= 1.5) and the memory per 1,000 brains beyond the fixed cost: the slope of peak memory over
N (least squares; two sizes: their difference quotient).

Written to `bench/results/scale.json`. The mission may end early at large N (the target is
found sooner with more drones): the ticks actually timed are recorded with each row. The
machine may be shared: compare figures only within one run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from bench.swarm import N_HOSTS, _config, pool_fields, time_pool

__all__ = ["MemorySampler", "main", "memory_slope"]

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "scale.json"


def _memory(p: psutil.Process) -> int:
    """Bytes of physical memory process `p` accounts for: its proportional set size (PSS:
    private pages plus its share of pages it shares, such as Ray's object store and the
    torch libraries every worker maps), so a sum over processes counts each page once."""
    try:
        return p.memory_full_info().pss
    except (psutil.AccessDenied, AttributeError):  # no smaps to read: resident size
        return p.memory_info().rss


def _tree_memory_split() -> tuple[int, int]:
    """(all, host actors): bytes of memory (PSS, `_memory`) of this process and all its
    descendants now, and of the Ray host actors among them (those that exit meanwhile
    skipped)."""
    me = psutil.Process()
    total, hosts = _memory(me), 0
    for child in me.children(recursive=True):
        try:
            pss = _memory(child)
            is_host = "HostActor" in " ".join(child.cmdline()[:1])  # ray::HostActor[.call]
        except psutil.Error:  # exited between listing and reading
            continue
        total += pss
        hosts += pss if is_host else 0
    return total, hosts


def _tree_memory() -> int:
    """Bytes of memory (PSS) of this process and all its descendants now."""
    return _tree_memory_split()[0]


def object_store_bytes() -> tuple[int, int]:
    """(bytes in Ray's object store now, bytes spilled to disk so far) on the connected
    cluster; (0, 0) without Ray. Read from the raylet (Ray's `ray memory --stats-only`)."""
    import ray

    if not ray.is_initialized():
        return 0, 0
    try:
        from ray._private.internal_api import get_memory_info_reply, get_state_from_address

        gcs = ray.get_runtime_context().gcs_address
        stats = get_memory_info_reply(get_state_from_address(gcs)).store_stats
        return int(stats.object_store_bytes_used), int(stats.spilled_bytes_total)
    except Exception:  # Ray going down between the check and the call: nothing to read
        return 0, 0


def _folder_bytes(folder: Path) -> int:
    """Bytes of the files in `folder` now (0 if it is gone; files removed meanwhile skipped)."""
    total = 0
    with contextlib.suppress(FileNotFoundError):
        for f in folder.iterdir():
            with contextlib.suppress(FileNotFoundError):
                total += f.stat().st_size
    return total


class MemorySampler:
    """A daemon thread that samples every `every` seconds: the peak of `_tree_memory()`
    (`peak`), the host actors' share of that sum at that moment (`peak_hosts`), and with
    `store` the peak of Ray's object store (`store_peak`) and the bytes it spilled
    (`spilled`); once `folder` is set, the peak bytes of the files in it (`files_peak`)."""

    def __init__(self, every: float = 0.25, store: bool = False) -> None:
        self.every, self.store, self._stop = every, store, threading.Event()
        self.peak = self.peak_hosts = self.store_peak = self.spilled = self.files_peak = 0
        self.folder: Path | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        total, hosts = _tree_memory_split()
        if total > self.peak:
            self.peak, self.peak_hosts = total, hosts
        if self.store:
            used, spilled = object_store_bytes()
            self.store_peak, self.spilled = max(self.store_peak, used), max(self.spilled, spilled)
        if self.folder is not None:
            self.files_peak = max(self.files_peak, _folder_bytes(self.folder))

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.every)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def memory_slope(ns: list[int], peaks: list[float]) -> tuple[float, float]:
    """(bytes per brain, bytes at N = 0) of the least-squares line peak = a·N + b."""
    a, b = np.polyfit(np.asarray(ns, float), np.asarray(peaks, float), 1)
    return float(a), float(b)


def measure(
    n: int, ticks: int, warmup: int, every: float, side: int, more: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One size in a fresh embedded Ray: timing as `bench.swarm.time_pool`, memory peaks;
    `more`: further dotted overrides of the scenario (`--set`)."""
    from swarm.pool import HostPool
    from swarm.raylife import start_ray, stop_ray

    cfg = _config(n, ticks + warmup, {"world.height": side, "world.width": side, **(more or {})})
    with MemorySampler(every, store=True) as sampler:
        start_ray(num_cpus=N_HOSTS)
        try:
            with HostPool(cfg, n_hosts=N_HOSTS, backend="ray") as pool:
                fixed = _tree_memory()  # Ray and the host actors up, no brains yet
                sampler.folder = pool.hosts.files.folder()  # one machine: the hosts' node
                t0 = time.perf_counter()
                t = time_pool(pool, cfg, n, ticks, warmup)
                wall = time.perf_counter() - t0
                rounds = pool.hosts.snapshot_rounds()
        finally:
            sampler._sample()  # Ray's figures before it goes
            stop_ray()
    return {
        **pool_fields(n, t),
        "map_side": side,
        "mission_wall_s": wall,
        "mem_fixed_bytes": fixed,
        "mem_peak_bytes": sampler.peak,
        "mem_peak_hosts_bytes": sampler.peak_hosts,
        "object_store_peak_bytes": sampler.store_peak,
        "object_store_spilled_bytes": sampler.spilled,
        "snapshot_files_peak_bytes": sampler.files_peak,
        "snapshots_held_at_end": sum(len(r) for r in rounds),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the sizes, print a line each, write the JSON; returns the doc."""
    ap = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1024,4096", help="comma-separated N, ascending")
    ap.add_argument("--ticks", type=int, default=20, help="ticks timed after warm-up")
    ap.add_argument("--warmup", type=int, default=8, help="ticks flown before timing")
    ap.add_argument("--side", type=int, default=64, help="map rows = columns, every N")
    ap.add_argument("--every", type=float, default=0.25, help="seconds between memory samples")
    ap.add_argument("--out", type=Path, default=RESULTS, help="JSON output path")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="scenario override as in swarm.run, e.g. hosts.max_restarts=0 (no restart snapshots)",
    )
    args = ap.parse_args(argv)
    from swarm.overrides import as_mapping, parse_set

    more = as_mapping(parse_set(text) for text in args.set)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    if len(sizes) < 2:
        raise SystemExit("--sizes needs at least two N to measure a slope, e.g. 1024,4096")
    import torch

    torch.set_num_threads(1)
    rows: list[dict[str, Any]] = []
    for n in sizes:
        rows.append(measure(n, args.ticks, args.warmup, args.every, args.side, more))
        r = rows[-1]
        print(
            f"N={n:5d} {r['agent_steps_per_s']:8.0f} agent-steps/s ({r['us_per_agent_step']:.1f}"
            f" us/step, {r['ticks_timed']} ticks) peak PSS {r['mem_peak_bytes'] / 2**30:.2f} GiB"
            f" (hosts {r['mem_peak_hosts_bytes'] / 2**30:.2f}; fixed "
            f"{r['mem_fixed_bytes'] / 2**30:.2f} GiB), object store peak "
            f"{r['object_store_peak_bytes'] / 2**30:.2f} GiB, spilled "
            f"{r['object_store_spilled_bytes'] / 2**30:.2f} GiB, snapshot files peak "
            f"{r['snapshot_files_peak_bytes'] / 2**30:.2f} GiB",
            flush=True,
        )
        doc = _doc(rows, args)  # written after every size: a run cut short keeps what it had
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(doc, indent=1))
    ratios = doc["ratios"]
    print(json.dumps(ratios, indent=1))
    print(f"wrote {args.out}")
    return doc


def _doc(rows: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    """The JSON document of the sizes measured so far; ratios once there are two."""
    ratios: dict[str, float] = {}
    if len(rows) >= 2:
        per_brain, at_zero = memory_slope(
            [r["n"] for r in rows], [r["mem_peak_bytes"] for r in rows]
        )
        lo, hi = rows[0], rows[-1]
        cost = hi["us_per_agent_step"] / lo["us_per_agent_step"]
        ratios = {
            f"cost_per_step_{hi['n']}_vs_{lo['n']}": cost,
            "mib_per_1000_brains": per_brain * 1000 / 2**20,
            "mib_at_n0": at_zero / 2**20,
        }
    return {
        "bench": "scale",
        "ticks": args.ticks,
        "warmup_ticks": args.warmup,
        "map_side": args.side,
        "overrides": args.set,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "rows": rows,
        "ratios": ratios,
    }


if __name__ == "__main__":
    main()

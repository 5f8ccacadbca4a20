"""bench.scale's pieces: the memory slope and the memory sampler (not the timed missions)."""

import subprocess
import sys
import time

import pytest

from bench.scale import MemorySampler, memory_slope


def test_memory_slope_is_the_least_squares_line():
    assert memory_slope([1024, 4096], [3e9, 9e9]) == pytest.approx((6e9 / 3072, 1e9))
    ns = [256, 1024, 4096]
    noise = (1e6, -2e6, 1e6)
    a, b = memory_slope(ns, [2.5e6 * n + 7e8 + e for n, e in zip(ns, noise, strict=True)])
    assert a == pytest.approx(2.5e6, rel=1e-3) and b == pytest.approx(7e8, rel=1e-2)


def test_the_sampler_counts_child_processes():
    with MemorySampler(every=0.05) as idle:
        time.sleep(0.3)
    touch = "b = bytearray(300 * 2**20); b[::4096] = b'x' * len(b[::4096])"
    code = f"import time; {touch}; time.sleep(1.5)"
    with MemorySampler(every=0.05) as busy:
        child = subprocess.Popen([sys.executable, "-c", code])
        child.wait()
    assert busy.peak >= idle.peak + 250 * 2**20  # the child's 300 MiB touched pages were seen


@pytest.mark.ray
def test_the_sampler_reads_rays_object_store(ray_session):
    import numpy as np
    import ray

    with MemorySampler(every=0.05, store=True) as sampler:
        ref = ray.put(np.ones(64 * 2**20, np.uint8))  # 64 MiB, held while sampled
        time.sleep(0.5)
        del ref
    assert sampler.store_peak >= 64 * 2**20

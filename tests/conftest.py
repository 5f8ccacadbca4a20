"""Shared fixtures: one embedded Ray per test session, started only by tests that ask for it.

`ray_session` starts a loopback-only Ray the first time a test needs it (~4 s) and keeps it for
the rest of the session. A test that needs its own Ray (the multi-node cluster test) shuts it
down first; the next test that asks for `ray_session` starts it again, so both kinds of test
work in one pytest run, in any order.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import pytest

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

_RAY_FIXTURES = frozenset({"ray_session", "no_ray"})  # the fixtures that start or stop Ray


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test that starts Ray must carry the `ray` marker (so `-m "not ray"` really runs
    without Ray): a test reaching a Ray fixture, directly or through another fixture, without
    it stops the collection with the list to fix."""
    unmarked = [
        item.nodeid
        for item in items
        if _RAY_FIXTURES & set(getattr(item, "fixturenames", ()))
        and item.get_closest_marker("ray") is None
    ]
    if unmarked:
        raise pytest.UsageError(
            "tests that start Ray must be marked @pytest.mark.ray (or a module-level "
            f"pytestmark): {unmarked}"
        )


@pytest.fixture(scope="session", autouse=True)
def _checkpoint_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Pretrained checkpoints go to a cache of this session, never the user's `$SWARM_CACHE`
    (tiny models pretrain in seconds). Set before any Ray starts, so workers inherit it."""
    before = os.environ.get("SWARM_CACHE")
    os.environ["SWARM_CACHE"] = str(tmp_path_factory.mktemp("swarm-cache"))
    yield
    if before is None:
        os.environ.pop("SWARM_CACHE", None)
    else:
        os.environ["SWARM_CACHE"] = before


@pytest.fixture(scope="session")
def _ray_teardown() -> Iterator[None]:
    """Shut down whatever Ray the session left running, once, at the end."""
    yield
    import ray

    if ray.is_initialized():
        ray.shutdown()


@pytest.fixture(scope="module")
def ray_session(_ray_teardown: None) -> Iterator[None]:
    """An embedded 2-CPU Ray on 127.0.0.1, shared by the tests of a session.

    Module-scoped so a module may keep one HostPool for all its tests; it only starts Ray
    when none is running (at most once per session, plus once after a cluster test).
    """
    import ray

    from swarm.raylife import start_ray

    if not ray.is_initialized():
        start_ray(num_cpus=2)
    yield


@pytest.fixture
def no_ray() -> Iterator[None]:
    """Ray shut down for a test that starts its own (e.g. a multi-node `Cluster`)."""
    import ray

    from swarm.raylife import stop_ray

    stop_ray()
    if ray.is_initialized():
        ray.shutdown()
    yield
    if ray.is_initialized():
        ray.shutdown()


TINY_RUN = {
    "scenario": "drone_search",
    "seeds": 1,
    "drones": 4,
    "world": {"height": 16, "width": 16, "horizon": 40, "n_distractors": 4, "probe_size": 64},
    "model": {
        "small": {"d_model": 16, "n_layers": 1, "n_channels": 4, "ffn_groups": 4, "ffn_active": 1}
    },
    "learner": {"learn_every": 2, "window": 16},
    "protocol": {"sync_every": 5, "topology": {"kind": "ring"}},
}


def make_tiny_cfg(**over):
    """A small validated RunConfig: top-level keys replace TINY_RUN's; `protocol` is merged."""
    from swarm.config import RunConfig

    data = {**TINY_RUN, **over}
    if "protocol" in over:
        data["protocol"] = {**TINY_RUN["protocol"], **over["protocol"]}
    return RunConfig.model_validate(data)


@pytest.fixture
def tiny_cfg():
    """Factory of small configs: `tiny_cfg(drones=6, protocol={"gossip": "exact"})`."""
    return make_tiny_cfg


def drift_apart(pool, scale=1e-3):
    """Move every brain by its own small seeded step, as field learning would (a few ticks
    bring no label, so the brains would otherwise stay equal to the pretrained weights)."""
    rng = np.random.default_rng(0)
    for h in pool.hosts.hosts:
        if h.bank is not None:
            shape = h.bank.read_flat().shape
            h.bank.add_flat(rng.normal(0.0, scale, size=shape).astype(np.float32))

"""A host's mission state dumped and loaded into a fresh host (what a restarted host actor
does, `swarm.hoststate`): restored at the moment of the dump the mission goes on exactly as
if nothing had happened; restored later, only the host's ticks since the dump are lost. The
snapshot files: written atomically, two per host (the newest and the one before), removed
when done."""

import contextlib
import io
import pickle
import types

import numpy as np
import pytest
import torch

from swarm import hoststate
from swarm.host import HostCore
from swarm.hoststate import SEQ_SKIP, SnapshotFiles
from swarm.loop import make_world
from swarm.pool import HostPool

TICKS, EVERY = 40, 5


def replace_host(pool: HostPool, h: int, files: SnapshotFiles, round_idx: int) -> None:
    """Host h's process 'dies' and a fresh HostCore (new sockets, new port) takes its place
    from its snapshot file of `round_idx`, reconnected both ways, as RayHosts does after Ray
    restarts an actor."""
    hosts = pool.hosts.hosts
    old = hosts[h]
    new = HostCore(h, old.n_hosts, old.cfg, old.run_id, old.key)
    old.close()
    addresses = [x.address() for x in hosts]
    addresses[h] = new.address()
    new.connect(addresses)
    for i, other in enumerate(hosts):
        if i != h:
            other.reconnect(h, new.address())
    assert new.restore(files, 0) == round_idx  # its newest sealed file
    hosts[h] = new


@contextlib.contextmanager
def configured(cfg):
    """Two local hosts configured for team swarm, seed 0, and the world they fly in."""
    with HostPool(cfg, n_hosts=2, backend="local") as pool:
        world = make_world(cfg, cfg.drones, 0)
        pool.configure("swarm", 0, world.public_info(), world.token_spec, cfg.drones)
        yield pool, world


def names(files: SnapshotFiles) -> list[str]:
    """Names of the files in the snapshot folder, sorted."""
    return sorted(f.name for f in files.folder().iterdir())


def fly(cfg, files=None, dump_round=None, restore_tick=None):
    """Fly team swarm TICKS ticks on 2 local hosts; host 1 dumped to `files` after round
    `dump_round` is replaced by a fresh host from that dump after tick `restore_tick`.
    Returns (every brain's weights, (T, N, 2) drone positions, stats)."""
    with configured(cfg) as (pool, world):
        poses, seqs = [], {}
        for tick in range(1, TICKS + 1):
            world.step(pool.act(world.observe()))
            poses.append(world.observe().pose[:, :2].copy())
            if tick % EVERY == 0:
                pool.exchange(tick // EVERY - 1)
                if tick // EVERY - 1 == dump_round:
                    pool.hosts.hosts[1].snapshot(files, 0, dump_round)
                    seqs = {b: s.seq for b, s in pool.hosts.hosts[1].sessions.items()}
            if tick == restore_tick:
                replace_host(pool, 1, files, dump_round)
                after = {b: s.seq for b, s in pool.hosts.hosts[1].sessions.items()}
                assert seqs and after == {b: q + SEQ_SKIP for b, q in seqs.items()}
        weights = np.concatenate([h.bank.read_flat() for h in pool.hosts.hosts])
        stats = pool.stats()
    return weights, np.stack(poses), stats


@pytest.mark.parametrize("topology", ["ring", "star"])
def test_a_host_restored_from_its_dump_goes_on_as_the_unbroken_run(tiny_cfg, topology, tmp_path):
    cfg = tiny_cfg(drones=6, protocol={"topology": {"kind": topology}, "sync_every": EVERY})
    files = SnapshotFiles(str(tmp_path), "run")
    w0, p0, s0 = fly(cfg)
    w1, p1, s1 = fly(cfg, files, dump_round=1, restore_tick=2 * EVERY)  # at once: nothing lost
    np.testing.assert_array_equal(w0, w1)
    np.testing.assert_array_equal(p0, p1)
    for k in ("train_steps", "wire_messages", "wire_bytes", "rejected_messages"):
        assert s0[k] == s1[k], k
    # host 1 dies 3 ticks after round 1: its brains go back to round 1, the run goes on
    w2, p2, s2 = fly(cfg, files, dump_round=1, restore_tick=2 * EVERY + 3)
    died = 2 * EVERY + 3
    np.testing.assert_array_equal(p0[:died], p2[:died])  # the same until it died
    assert np.isfinite(w2).all()
    assert s2["rejected_messages"] == 0  # no replayed sequence number after the restart
    moved = np.abs(np.diff(p2[died:], axis=0)).sum(axis=(0, 2))  # (N,) distance after
    assert (moved > 0).all()  # every drone flies on, host 1's too


def test_a_snapshot_that_fails_half_way_leaves_the_older_file_whole(tiny_cfg, tmp_path):
    """`write` streams into a temporary file renamed into place only when complete: a dump
    that fails half way (an object pickle refuses, after the brains were written) leaves
    no file under the new name, no temporary file, and the older snapshot restorable."""
    cfg = tiny_cfg(drones=4)
    files = SnapshotFiles(str(tmp_path), "run")
    with configured(cfg) as (pool, _):
        host = pool.hosts.hosts[1]
        sealed = host.snapshot(files, 0, 0)
        assert sealed.path == str(files.path(1, 0, 0)) and sealed.size > 0
        host.zz_refused = lambda: None  # pickled last, after everything else
        with pytest.raises((AttributeError, TypeError, pickle.PicklingError)):
            host.snapshot(files, 0, 1)
        assert names(files) == ["host1-m0-r0.pickle"]
        assert files.path(1, 0, 0).stat().st_size == sealed.size
        replace_host(pool, 1, files, 0)  # the older one restores
        assert pool.hosts.hosts[1].bank.read_flat().shape == host.bank.read_flat().shape
        again = pool.hosts.hosts[1].snapshot(files, 0, 1)  # written: the older one kept
        assert names(files) == [
            "host1-m0-r0.pickle",
            "host1-m0-r1.pickle",
        ]
        assert again.round == 1
    files.drop(1)
    assert not files.folder().exists()  # the last file gone, the folder too


def test_a_newest_snapshot_that_cannot_be_read_gives_way_to_the_one_before(tiny_cfg, tmp_path):
    """Host 1's newest file is damaged: its replacement restores the one before, removes
    the damaged one, and its next snapshot is written over neither of what it holds."""
    cfg = tiny_cfg(drones=4)
    files = SnapshotFiles(str(tmp_path), "run")
    with configured(cfg) as (pool, _):
        host = pool.hosts.hosts[1]
        host.snapshot(files, 0, 0)
        host.snapshot(files, 0, 1)
        files.path(1, 0, 1).write_bytes(b"not a snapshot")
        replace_host(pool, 1, files, 0)
        assert names(files) == ["host1-m0-r0.pickle"]
        pool.hosts.hosts[1].snapshot(files, 0, 2)
        assert names(files) == [
            "host1-m0-r0.pickle",
            "host1-m0-r2.pickle",
        ]
    files.drop(1)


def test_snapshot_files_of_one_host_never_touch_another_hosts(tmp_path):
    files = SnapshotFiles(str(tmp_path), "run")
    files.check()
    for name in ("host1-m0-r3.pickle", "host1-m1-r-1.pickle.77.tmp", "host10-m1-r-1.pickle"):
        (files.folder() / name).write_bytes(b"x")
    files.drop(1, keep=[files.folder() / "host1-m0-r3.pickle"])
    assert names(files) == [
        "host1-m0-r3.pickle",
        "host10-m1-r-1.pickle",
    ]
    files.drop(1)
    files.drop(10)
    assert not files.folder().exists()


def test_an_unwritable_snapshot_folder_is_refused_saying_what_to_do(tmp_path):
    (tmp_path / "a_file").write_text("")
    with pytest.raises(ValueError, match=r"hosts.snapshot_dir .*writable folder.*max_restarts"):
        SnapshotFiles(str(tmp_path / "a_file"), "run").check()


def test_tensors_are_written_once_per_storage_and_restored_as_they_were():
    """`_Pickler` writes each torch storage once, however many tensors view it, and the
    restore gives every tensor its dtype, offset, size and stride back on shared storage
    of torch's own (aligned) allocator; what it does not reduce itself takes torch's path."""
    host = types.SimpleNamespace(cfg=object())  # what the pickler resolves by identity
    base = torch.randn(1000, 100)
    state = {
        "base": base,
        "rows": base[10:20, ::3],
        "t": base.t(),
        "ints": torch.arange(5) * 7,
        "param": torch.nn.Parameter(torch.randn(4, 3)),
        "half": torch.ones(3, dtype=torch.bfloat16),
        "sparse": torch.eye(3).to_sparse(),
        "gen": torch.Generator().manual_seed(3),
    }
    buf = io.BytesIO()
    hoststate._Pickler(buf, host).dump(state)
    assert len(buf.getvalue()) < 1.1 * base.nbytes  # torch's own pickling: once per view
    out = hoststate._Unpickler(io.BytesIO(buf.getvalue()), host).load()
    for k in ("base", "rows", "t", "ints", "param", "half"):
        torch.testing.assert_close(out[k], state[k], rtol=0, atol=0)
        assert out[k].dtype == state[k].dtype and out[k].stride() == state[k].stride(), k
        assert out[k].storage_offset() == state[k].storage_offset(), k
        assert out[k].untyped_storage().data_ptr() % 64 == 0, k
    assert type(out["param"]) is torch.nn.Parameter and out["param"].requires_grad
    out["base"][12, 3] = 1e6  # views share their storage again
    assert out["rows"][2, 1] == 1e6 and out["t"][3, 12] == 1e6
    torch.testing.assert_close(out["sparse"].to_dense(), torch.eye(3))
    assert torch.equal(out["gen"].get_state(), state["gen"].get_state())

"""A host's mission state in a file: what a restarted host actor is restored from (docs/faults.md).

`dump(host, file)` pickles into a binary file everything one `swarm.host.HostCore` holds for
its current team × seed: the brains (`agents.BrainBank`: weights, optimiser and EWC state,
recurrent state, replay, per-brain torch generators), the policy (belief maps, evidence not
yet sent, goals, claims, per-drone numpy generators), the exchange (CHOCO public copies,
error-feedback residuals, the hub's common model, election, round and term, evidence
ledgers, link views), the protocol sessions and receiver (sequence numbers, replay windows),
the fault plan and every counter. What belongs to the process and not to the mission is left
out and kept by the new process: its configuration, run id and key, and its sockets
(`LIFE`); the counters of the old sockets travel as numbers.

`load(host, file)` puts a dump into a freshly started host (same constructor arguments), after
which it continues the mission from the moment of the dump. Its senders skip
`SEQ_SKIP` sequence numbers ahead, so nothing it sent after the dump and before it died is
ever replayed under the same number (receivers accept a jump up to 2^32, docs/protocol.md).

Back-references to the host itself (the exchange's `competence` callback is a bound method)
and to its configuration are pickled as persistent ids and resolved to the new host's own.
Plain CPU tensors are pickled as their storage's bytes (one protocol-5 buffer per storage,
written straight from the tensor's memory, once however many views share it) plus dtype,
offset, size and stride; restored, they are views of the same layout on freshly allocated,
shared storage. Torch's own pickling serialises every tensor's storage into a separate
in-memory archive first: a host's snapshot took 2 to 3 times as long to write.

On Ray each host writes its dump to a file on its own node's disk (`write`: streamed into
the open file, so no copy of the whole state is ever held in memory, under a temporary name
renamed into place once complete, so a host that dies while writing never leaves a partial
file under a snapshot's name); the driver only learns the file's round, path and size
(`Sealed`). The files of one pool live in one folder per node (`SnapshotFiles`), named for
host, mission and round; once a host's newest file is in place, all its others but the one
before it are removed (`SnapshotFiles.drop`, by `HostCore.snapshot`), and the next snapshot
is written over that one (`SnapshotFiles.spare`, `write(..., reuse=)`).

    size = write(host, path, reuse)   # after each knowledge round: atomic
    read(new_host, path)              # in the restarted actor (same node: same bundle)
"""

from __future__ import annotations

import contextlib
import os
import pickle
import tempfile
import time
from collections.abc import Collection
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any, Protocol

import numpy as np
import torch


class HostCore(Protocol):
    """What this module reads of a `swarm.host.HostCore` beyond `vars(host)` (a protocol, so
    that this module does not import `swarm.host`, which imports it)."""

    cfg: Any
    endpoint: Any  # `protocols.transport.Endpoint`: its `stats` travel as numbers
    sessions: dict[Any, Any]  # peer -> `protocols.codec.Session`
    _cpu0: float


__all__ = ["LIFE", "SEQ_SKIP", "Sealed", "SnapshotFiles", "dump", "load", "read", "write"]

#: HostCore attributes of the process, not of the mission: never dumped, never replaced.
LIFE = frozenset({"index", "n_hosts", "cfg", "run_id", "key", "limits", "endpoint", "_cpu0"})
SEQ_SKIP = 1 << 20  # sequence numbers a restored sender skips (well under the 2^32 bound)

_HOST, _CFG = "host", "cfg"


class _Storage:
    """One torch storage's bytes as a numpy uint8 view: pickled (protocol 5) as one buffer
    written straight into the file, once however many tensors view it."""

    def __init__(self, storage: torch.UntypedStorage) -> None:
        self.bytes = torch.empty(0, dtype=torch.uint8).set_(storage).numpy()

    def __reduce__(self) -> tuple[Any, ...]:
        return _load_storage, (self.bytes,)


def _load_storage(raw: np.ndarray) -> torch.UntypedStorage:
    """A storage of torch's own allocator holding `raw` (copied: the unpickled buffer's
    alignment is malloc's, and numerics must not depend on where a restore put them)."""
    t = torch.empty(raw.shape[0], dtype=torch.uint8)
    t.numpy()[:] = raw
    return t.untyped_storage()


def _load_tensor(
    storage: torch.UntypedStorage,
    dtype: torch.dtype,
    offset: int,
    size: tuple[int, ...],
    stride: tuple[int, ...],
    requires_grad: bool,
) -> torch.Tensor:
    """The tensor `_Pickler` reduced: the same dtype, offset (elements), size and stride on
    its storage, so views that shared a storage share it again."""
    t = torch.empty(0, dtype=dtype).set_(storage, offset, size, stride)
    return t.requires_grad_(requires_grad)


class _Pickler(pickle.Pickler):
    def __init__(self, file: IO[bytes], host: HostCore) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.host = host
        # storage address and length -> its `_Storage`, kept for the whole dump so that
        # pickle's memo (by object identity) writes each storage once
        self.storages: dict[tuple[int, int], _Storage] = {}

    def persistent_id(self, obj: Any) -> str | None:
        if obj is self.host:
            return _HOST
        if obj is self.host.cfg:
            return _CFG
        return None

    def reducer_override(self, obj: Any) -> Any:
        """Plain dense CPU tensors as (storage, dtype, offset, size, stride) (the module's
        docstring says why). Anything else (parameters, which reduce to their plain `.data`;
        subclasses, sparse, non-leaf, tensors with Python attributes or hooks) takes
        torch's path."""
        if (
            type(obj) is not torch.Tensor
            or obj.layout is not torch.strided
            or obj.device.type != "cpu"
            or obj.grad_fn is not None
            or obj.is_conj()
            or obj.is_neg()
            or obj._backward_hooks
            or getattr(obj, "__dict__", None)
        ):
            return NotImplemented
        storage = obj.untyped_storage()
        key = (storage.data_ptr(), storage.nbytes())
        if key not in self.storages:
            self.storages[key] = _Storage(storage)
        args = (obj.dtype, obj.storage_offset(), tuple(obj.shape), obj.stride())
        return _load_tensor, (self.storages[key], *args, obj.requires_grad)


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: IO[bytes], host: HostCore) -> None:
        super().__init__(file)
        self.host = host

    def persistent_load(self, pid: str) -> Any:
        if pid == _HOST:
            return self.host
        if pid == _CFG:
            return self.host.cfg
        raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")


def dump(host: HostCore, file: IO[bytes]) -> None:
    """Write the mission state of `host` (see the module docstring) into the binary `file`."""
    state = {k: v for k, v in vars(host).items() if k not in LIFE}
    state["_cpu_spent"] = time.process_time() - host._cpu0
    state["_socket_stats"] = asdict(host.endpoint.stats)
    _Pickler(file, host).dump(state)


def load(host: HostCore, file: IO[bytes]) -> None:
    """Continue `host` (freshly started, connected) from a `dump` of its predecessor."""
    state = _Unpickler(file, host).load()
    host._cpu0 = time.process_time() - state.pop("_cpu_spent")
    for k, v in state.pop("_socket_stats").items():
        setattr(host.endpoint.stats, k, v)
    for k, v in state.items():
        setattr(host, k, v)
    for session in host.sessions.values():
        session.seq += SEQ_SKIP


def write(host: HostCore, path: Path, reuse: Path | None = None) -> int:
    """`dump` `host` into the file `path`, atomically: streamed into a temporary file beside
    it that is renamed to `path` only once complete (a host that dies while writing leaves
    at most that temporary file, never a partial `path`). Returns the file's size (bytes).
    Not flushed to the device: it serves a process that dies, not a node that does.

    `reuse`: an older snapshot file no longer needed, renamed to the temporary name and
    written over in place (then cut to the new size) instead of a new file: the kernel
    keeps its cached pages, so the write copies into memory already there rather than
    allocating ~0.6 MB per brain afresh each round (measured: 2x to 10x faster, §"Disk and
    memory" of docs/faults.md). Gone already: a new file, as without it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        if reuse is not None:
            with contextlib.suppress(FileNotFoundError):
                reuse.replace(tmp)  # from here on it is a temporary file, not a snapshot
        with tmp.open("r+b" if tmp.exists() else "wb") as f:
            dump(host, f)
            f.truncate()  # what is left of the older, longer state
            size = f.tell()
        tmp.replace(path)  # rename(2): atomic within one file system
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return size


def read(host: HostCore, path: Path) -> None:
    """`load` `host` from the file `write` made."""
    with path.open("rb") as f:
        load(host, f)


@dataclass(frozen=True)
class Sealed:
    """A host's restart snapshot, written and renamed into place (what the driver gets back
    instead of the state itself): knowledge `round` (-1: the mission's start), the file's
    `path` on the host's node and its `size` in bytes."""

    round: int
    path: str
    size: int


@dataclass(frozen=True)
class SnapshotFiles:
    """Where one pool's restart snapshots live: a folder `swarm-snapshots-<run>` in `base`
    (`hosts.snapshot_dir`; None: the node's temporary folder, resolved on each node), one
    file per host, mission and round. `run` is unique to the pool, so two pools on one
    node never touch each other's files."""

    base: str | None
    run: str

    def folder(self) -> Path:
        """The folder on this node (resolved where it is called)."""
        return Path(self.base or tempfile.gettempdir()) / f"swarm-snapshots-{self.run}"

    def path(self, host: int, mission: int, round_idx: int) -> Path:
        """The file of `host`'s snapshot after knowledge round `round_idx` of its `mission`
        (the pool's count of configures)."""
        return self.folder() / f"host{host}-m{mission}-r{round_idx}.pickle"

    def sealed(self, host: int, mission: int) -> list[tuple[int, Path]]:
        """(round, path) of `host`'s complete snapshot files of `mission` here, newest first
        (temporary files never count: they were not renamed into place)."""
        found = []
        for f in self.folder().glob(f"host{host}-m{mission}-r*.pickle"):
            found.append((int(f.stem.rsplit("-r", 1)[1]), f))
        return sorted(found, reverse=True)

    def spare(self, host: int, keep: Path | None) -> Path | None:
        """One of `host`'s complete snapshot files here, of any mission, other than `keep`
        (the newest, needed until the next is complete): the one `write` reuses."""
        held = sorted(self.folder().glob(f"host{host}-m*-r*.pickle"))  # never temporary
        return next((f for f in held if f != keep), None)

    def drop(self, host: int, keep: Collection[Path | None] = ()) -> None:
        """Remove `host`'s files here but those in `keep` (older rounds and missions,
        temporary files a dead predecessor left), then the folder if that left it empty."""
        folder = self.folder()
        for f in folder.glob(f"host{host}-m*"):  # "host1-m*" never matches host10's files
            if f not in keep:
                with contextlib.suppress(FileNotFoundError):
                    f.unlink()
        with contextlib.suppress(OSError):  # other hosts' files still there, or gone already
            folder.rmdir()

    def check(self) -> Path:
        """Make the folder on this node; ValueError saying what to do when it cannot be
        written."""
        folder = self.folder()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as err:
            where = f"hosts.snapshot_dir = {self.base!r}" if self.base else "the temporary folder"
            raise ValueError(
                f"cannot write restart snapshots in {folder} ({where}) on this node: {err}. "
                "Set hosts.snapshot_dir to a writable folder on every node's local disk, or "
                "hosts.max_restarts: 0 to fly without restarts"
            ) from err
        return folder

"""A host's mission state as bytes: what a restarted host actor is restored from (docs/faults.md).

`dump(host)` pickles everything one `swarm.host.HostCore` holds for its current team × seed:
the brains (`agents.BrainBank`: weights, optimiser and EWC state, recurrent state, replay,
per-brain torch generators), the policy (belief maps, evidence not yet sent, goals, claims,
per-drone numpy generators), the exchange (CHOCO public copies, error-feedback residuals,
the hub's common model, election, round and term, evidence ledgers, link views), the
protocol sessions and receiver (sequence numbers, replay windows), the fault plan and every
counter. What belongs to the process and not to the mission is left out and kept by the
new process: its configuration, run id and key, and its sockets (`LIFE`); the counters of
the old sockets travel as numbers.

`load(host, blob)` puts a dump into a freshly started host (same constructor arguments), after
which it continues the mission from the moment of the dump. Its senders skip
`SEQ_SKIP` sequence numbers ahead, so nothing it sent after the dump and before it died is
ever replayed under the same number (receivers accept a jump up to 2^32, docs/protocol.md).

Back-references to the host itself (the exchange's `competence` callback is a bound method)
and to its configuration are pickled as persistent ids and resolved to the new host's own.

    blob = dump(host)          # bytes, taken after each knowledge round
    load(new_host, blob)       # in the restarted actor
"""

from __future__ import annotations

import io
import pickle
import time
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from swarm.host import HostCore

__all__ = ["LIFE", "SEQ_SKIP", "dump", "load"]

#: HostCore attributes of the process, not of the mission: never dumped, never replaced.
LIFE = frozenset({"index", "n_hosts", "cfg", "run_id", "key", "limits", "endpoint", "_cpu0"})
SEQ_SKIP = 1 << 20  # sequence numbers a restored sender skips (well under the 2^32 bound)

_HOST, _CFG = "host", "cfg"


class _Pickler(pickle.Pickler):
    def __init__(self, file: io.BytesIO, host: HostCore) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.host = host

    def persistent_id(self, obj: Any) -> str | None:
        if obj is self.host:
            return _HOST
        if obj is self.host.cfg:
            return _CFG
        return None


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, host: HostCore) -> None:
        super().__init__(file)
        self.host = host

    def persistent_load(self, pid: str) -> Any:
        if pid == _HOST:
            return self.host
        if pid == _CFG:
            return self.host.cfg
        raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")


def dump(host: HostCore) -> bytes:
    """The mission state of `host` (see the module docstring)."""
    state = {k: v for k, v in vars(host).items() if k not in LIFE}
    state["_cpu_spent"] = time.process_time() - host._cpu0
    state["_socket_stats"] = asdict(host.endpoint.stats)
    buf = io.BytesIO()
    _Pickler(buf, host).dump(state)
    return buf.getvalue()


def load(host: HostCore, blob: bytes) -> None:
    """Continue `host` (freshly started, connected) from a `dump` of its predecessor."""
    state = _Unpickler(io.BytesIO(blob), host).load()
    host._cpu0 = time.process_time() - state.pop("_cpu_spent")
    for k, v in state.pop("_socket_stats").items():
        setattr(host.endpoint.stats, k, v)
    for k, v in state.items():
        setattr(host, k, v)
    for session in host.sessions.values():
        session.seq += SEQ_SKIP

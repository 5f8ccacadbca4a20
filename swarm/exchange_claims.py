"""Goal claims in knowledge rounds: a declared, costed coordination mechanism.

A drone's claim is its current goal cell (`Policy.claims()`). Drones that share send it in
every knowledge round as a CLAIM message (docs/protocol.md, since 1.5), batched per
destination host like every other payload, so it is signed, checked and counted on the wire;
on receipt each drone *hears* the claims it is entitled to (`Policy.hear_claims`) and plans
against those until the next round (`scenarios.claims`). Who hears whom follows the team's
topology: a gossip drone hears its graph neighbours; with a hub every drone uploads its claim
and the hub broadcasts the table of all claims, so each drone hears every other one.
Same-host drones hear each other only through these messages, exactly as if they were on
different hosts, so a run's results do not depend on placement. `isolated` drones exchange
nothing and hear no one. Switch: `protocol.share_claims`.

This module owns the claim payload only (beliefs and weights ride in their own messages):

    relay = ClaimRelay(ctx)
    out += relay.batched(dest, brains, round_idx)          # CLAIM batches of `brains`
    expect += relay.heads(brains)                          # (Kind.CLAIM, first brain) each
    pairs = relay.read(delivery)                           # [(brain, (row, col))], checked
    relay.hear(heard, listeners)                           # into the local drones' policy
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from protocols.batching import Outgoing, batch_brains, batch_heads, batches, message
from protocols.codec import Delivery
from protocols.messages import Kind, ProtocolError
from swarm.exchange import Context, Expected

__all__ = ["CLAIM_BYTES", "ClaimRelay", "Claims"]

CLAIM_BYTES = 32  # worst-case body bytes of one brain's claim: a brain id and two ints

Claims = dict[int, tuple[int, int]]
"""brain -> its claimed goal cell (row, col); (-1, -1): it claims nothing yet."""


class ClaimRelay:
    """Sends, reads and delivers the CLAIM messages of one host's brains (module docstring)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.max_bytes = ctx.protocol.max_message_bytes

    def own(self, brains: Iterable[int]) -> Claims:
        """The current claims of local `brains` (global ids)."""
        goals = self.ctx.policy.claims()  # (K, 2), rows in ctx.local order
        rows = np.searchsorted(self.ctx.local, np.asarray(list(brains), np.int64))
        return {int(self.ctx.local[r]): (int(goals[r, 0]), int(goals[r, 1])) for r in rows}

    def batched(
        self, dest: int, brains: Sequence[int], round_idx: int, **kw: int
    ) -> list[Outgoing]:
        """CLAIM messages to host `dest` carrying the claims of local `brains` (ascending):
        body `brains` and `goals` [[row, col]] (entry i belongs to brains[i])."""
        claims, out = self.own(brains), []
        for batch in batches(list(brains), CLAIM_BYTES, self.max_bytes):
            body = {"brains": batch, "goals": [list(claims[b]) for b in batch]}
            out.append(Outgoing((dest,), message(Kind.CLAIM, batch[0], round_idx, body=body, **kw)))
        return out

    def table(
        self, sender: int, claims: Claims, dests: tuple[int, ...], round_idx: int, **kw: int
    ) -> Outgoing:
        """One CLAIM from `sender` (a hub) relaying `claims` of many brains: body `table`
        [[brain, row, col]] ascending by brain."""
        rows = [[b, r, c] for b, (r, c) in sorted(claims.items())]
        return Outgoing(dests, message(Kind.CLAIM, sender, round_idx, body={"table": rows}, **kw))

    def heads(self, brains: Sequence[int]) -> Expected:
        """(Kind.CLAIM, first brain) of each batch carrying `brains` to one host."""
        return batch_heads(Kind.CLAIM, brains, CLAIM_BYTES, self.max_bytes)

    def read(self, d: Delivery) -> list[tuple[int, tuple[int, int]]]:
        """(brain, (row, col)) pairs of a CLAIM, checked (ProtocolError('manifest') if a goal
        is not two ints inside the map or (-1, -1), or the lists do not line up)."""
        n = self.ctx.plan.n_brains
        body = d.message.body
        if "table" in body:
            rows = body["table"]
            if not isinstance(rows, list) or not all(
                isinstance(r, list) and len(r) == 3 for r in rows
            ):
                raise ProtocolError("manifest", "a claim table is a list of [brain, row, col]")
            brains, goals = [r[0] for r in rows], [r[1:] for r in rows]
            if any(not isinstance(b, int) or not 0 <= b < n for b in brains):
                raise ProtocolError("manifest", f"claim table brains outside the team of {n}")
        else:
            brains, goals = batch_brains(d, n), body.get("goals")
            if not isinstance(goals, list) or len(goals) != len(brains):
                raise ProtocolError("manifest", "CLAIM goals must be one [row, col] per brain")
        return [(int(b), self._goal(g)) for b, g in zip(brains, goals, strict=True)]

    def _goal(self, g: object) -> tuple[int, int]:
        h, w = self.ctx.policy.shape
        ok = isinstance(g, list) and len(g) == 2 and all(isinstance(v, int) for v in g)
        if ok and (tuple(g) == (-1, -1) or (0 <= g[0] < h and 0 <= g[1] < w)):
            return int(g[0]), int(g[1])
        raise ProtocolError("manifest", f"a claimed goal must be [row, col] on the map, got {g!r}")

    def hear(self, heard: Claims, listeners: Mapping[int, Iterable[int]]) -> None:
        """Local brain b hears the claims in `heard` of the brains `listeners[b]` (never its
        own); what it heard before is replaced. Brains not in `listeners` hear nothing."""
        rows, goals = [], []
        for row, brain in enumerate(self.ctx.local.tolist()):
            for j in sorted(set(listeners.get(brain, ())) - {brain}):
                if j in heard:
                    rows.append(row)
                    goals.append(heard[j])
        self.ctx.policy.hear_claims(
            np.asarray(rows, np.int64), np.asarray(goals, np.int64).reshape(-1, 2)
        )

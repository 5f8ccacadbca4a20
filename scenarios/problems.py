"""What a world's `check` returns: the config field each problem is about, and what is wrong.

`Scenario.check(cfg, n_drones)` lists `Problem`s instead of bare messages so that whoever
reports them can place each one without reading the text: `swarm.config_checks` turns
`field` into the YAML path (`world.max_alt_m`, or `drones` for the drone count) and so into
the file line of the error.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Problem"]


@dataclass(frozen=True)
class Problem:
    """A cross-field problem with a world's config, for `n_drones` drones.

    `field` names what to change: a field of the world's `Config`, or `"n_drones"` for the
    drone count the check was given. `related` names the other fields the rule involves (a
    run that sets `ticks` replaces the world's `horizon`, so a problem related to `horizon`
    is then blamed on `ticks`). `message` says what is wrong and what to do.
    """

    field: str
    message: str
    related: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"

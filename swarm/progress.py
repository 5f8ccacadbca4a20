"""Live progress on the console: one rich bar per team x seed with the mission's headline.

The headline is a few of the world's tick metrics ("found so far" and coverage for search,
idleness for patrol), chosen by name so any scenario gets something sensible to show.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

__all__ = ["RunProgress", "headline"]

#: Tick-metric names shown beside the bar, in order of preference (at most three are shown).
_HEADLINE_KEYS = (
    "found",
    "coverage",
    "inspections",
    "false_alarms",
    "avg_idleness",
    "worst_idleness",
    "reports",
    "precision",
)


def headline(row: Mapping[str, float], limit: int = 3) -> str:
    """`found=0 coverage=0.31 ...` from a tick-metrics row (known keys first, then any)."""
    keys = [k for k in _HEADLINE_KEYS if k in row] or list(row)
    return " ".join(f"{key}={_fmt(row[key])}" for key in keys[:limit])


def _fmt(val: object) -> str:
    if isinstance(val, bool):
        return str(int(val))
    if isinstance(val, float):
        return str(int(val)) if val.is_integer() else f"{val:.3g}"
    return str(val)


class RunProgress:
    """Context manager around `rich.progress.Progress` (quiet when `enabled` is false).

    `start(team, seed, horizon)` adds a bar; `update(tick, row)` advances it to `tick`;
    `done(summary)` completes it with a final headline.
    """

    def __init__(self, console: Console | None = None, enabled: bool = True) -> None:
        self.enabled = enabled
        self._progress = Progress(
            TextColumn("[bold]{task.fields[team]:>12}[/] seed {task.fields[seed]:<3}"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[info]}"),
            console=console,
            disable=not enabled,
            transient=False,
        )
        self._task: TaskID | None = None

    def __enter__(self) -> RunProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(*exc)

    def start(self, team: str, seed: int, horizon: int | None) -> None:
        """Add the bar of one team x seed run; `horizon` is its maximum number of ticks."""
        self._task = self._progress.add_task(
            "run", total=horizon, team=team, seed=seed, info="starting"
        )

    def update(self, tick: int, row: Mapping[str, float]) -> None:
        """Move the current bar to `tick` (ticks done) with the headline of `row`."""
        if self._task is not None:
            self._progress.update(self._task, completed=tick, info=headline(row))

    def done(self, info: str) -> None:
        """Finish the current bar (a mission may end before its horizon)."""
        if self._task is not None:
            task = self._progress.tasks[-1]
            self._progress.update(self._task, total=task.completed, info=info)
            self._task = None

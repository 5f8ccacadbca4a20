"""Live progress on the console: an overall bar (runs done of planned, ETA), pretraining as its
own step (with the checkpoint's cache path), and one bar per team x seed with the mission's
headline.

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
    TimeRemainingColumn,
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

    `plan(n)` adds n runs to the overall bar; `pretraining(size, path)` / `pretrained(info)`
    show the pretraining step; `start(team, seed, horizon)` adds a run's bar, `update(tick, row)`
    advances it to `tick`, `done(summary)` completes it and counts it on the overall bar;
    `skip(n)` counts runs finished elsewhere (a sweep's resumed or parallel points).
    """

    def __init__(self, console: Console | None = None, enabled: bool = True) -> None:
        self.enabled = enabled
        self._progress = Progress(
            TextColumn("[bold]{task.description:>22}[/]"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[info]}"),
            console=console,
            disable=not enabled,
            transient=False,
        )
        self._overall = self._progress.add_task("all runs", total=0, info="")
        self._task: TaskID | None = None
        self._step: TaskID | None = None

    def __enter__(self) -> RunProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(*exc)

    @property
    def overall(self) -> tuple[int, int]:
        """(runs done, runs planned) on the overall bar."""
        task = self._progress.tasks[0]
        return int(task.completed), int(task.total or 0)

    def plan(self, runs: int) -> None:
        """Add `runs` planned team x seed runs to the overall bar."""
        self._progress.update(self._overall, total=self.overall[1] + runs)

    def skip(self, runs: int, info: str = "") -> None:
        """Count `runs` finished without a bar here (resumed, or run by another process)."""
        self._progress.advance(self._overall, runs)
        if info:
            self._progress.update(self._overall, info=info)

    def pretraining(self, size: str, path: str) -> None:
        """Show the pretraining step of the `size` model, whose checkpoint goes to `path`."""
        self._step = self._progress.add_task(
            f"pretrain {size}", total=None, info=f"training -> {path}"
        )

    def pretrained(self, info: str) -> None:
        """End the pretraining step with `info` (cached, or seconds taken)."""
        if self._step is not None:
            self._progress.update(self._step, total=1, completed=1, info=info)
            self._step = None

    def start(self, team: str, seed: int, horizon: int | None) -> None:
        """Add the bar of one team x seed run; `horizon` is its maximum number of ticks."""
        self._task = self._progress.add_task(f"{team} seed {seed}", total=horizon, info="starting")

    def update(self, tick: int, row: Mapping[str, float]) -> None:
        """Move the current bar to `tick` (ticks done) with the headline of `row`."""
        if self._task is not None:
            self._progress.update(self._task, completed=tick, info=headline(row))

    def done(self, info: str) -> None:
        """Finish the current bar (a mission may end before its horizon) and count the run."""
        if self._task is not None:
            task = self._progress.tasks[-1]
            self._progress.update(self._task, total=task.completed, info=info)
            self._task = None
        self._progress.advance(self._overall, 1)
